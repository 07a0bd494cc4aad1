/* Differential test: syscalls nobody implements return -ENOSYS (-38); a few trivial edge cases. */
#include "rt/rt.h"

int main(void)
{
    static const long nums[] = {5000, 1000, 4095, 999999, 0x7fffffffL};
    for (unsigned i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        long r = syscall6(nums[i], 1, 2, 3, 4, 5, 6);
        printf("syscall %ld -> %ld\n", nums[i], r);
    }
    /* Argument registers other than a0 survive an ecall. */
    register long a1 __asm__("a1") = 11;
    register long a2 __asm__("a2") = 22;
    register long a3 __asm__("a3") = 33;
    register long a0 __asm__("a0") = 0;
    register long a7 __asm__("a7") = 5000;
    __asm__ volatile("ecall" : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3) : "r"(a7) : "memory");
    printf("after ecall: a0=%ld a1=%ld a2=%ld a3=%ld a7=%ld\n", a0, a1, a2, a3, a7);
    printf("write(1, buf, 0) -> %ld\n", sys_write(1, "x", 0));
    return 0;
}
