/* Differential test: read stdin until EOF, write it back upper-cased, then a byte count. */
#include "rt/rt.h"

int main(int argc, char **argv)
{
    long chunk = arg_long(argc, argv, 1, 7); /* odd read size to exercise partial reads */
    if (chunk < 1 || chunk > 4096)
        chunk = 7;
    char buf[4096];
    unsigned long total = 0, lines = 0, sum = 0;
    for (;;) {
        long n = sys_read(0, buf, (size_t)chunk);
        if (n < 0) {
            printf("read error %ld\n", n);
            return 1;
        }
        if (n == 0)
            break;
        for (long i = 0; i < n; i++) {
            unsigned char c = (unsigned char)buf[i];
            if (c >= 'a' && c <= 'z')
                buf[i] = (char)(c - 32);
            lines += c == '\n';
            sum = sum * 31 + c;
        }
        total += (unsigned long)n;
        sys_write(1, buf, (size_t)n);
    }
    printf("\n-- %lu bytes, %lu lines, hash %016lx\n", total, lines, sum);
    long again = sys_read(0, buf, 16);
    printf("read after EOF returned %ld\n", again);
    return 0;
}
