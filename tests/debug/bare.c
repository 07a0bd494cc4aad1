/* The bare-metal program tests/test_gdb.py debugs under `pltvm exec --bare --gdb`: M-mode at
 * 0x8000_0000, no runtime, exit through HTIF tohost ((code << 1) | 1). mix(a, b, c) has
 * arguments to read; the exit code is mix(3, 4, 5) = 3 * 4 + 5 = 17. */
volatile unsigned long tohost __attribute__((section(".tohost"), aligned(8)));
volatile unsigned long fromhost __attribute__((section(".tohost"), aligned(8)));

unsigned long stack[512] __attribute__((aligned(16)));

__attribute__((noinline)) long mix(long a, long b, long c)
{
    return a * b + c;
}

__attribute__((noreturn, used)) void bare_main(void)
{
    long r = mix(3, 4, 5);
    tohost = ((unsigned long)r << 1) | 1;
    for (;;)
        ;
}

__asm__(".section .text.init, \"ax\"\n"
        ".globl _start\n"
        "_start:\n"
        "  la sp, stack + 4096\n"
        "  call bare_main\n");
