/* The program tests/test_gdb.py debugs: a function with arguments to break in, a global to
 * watch, and an exit code that must reach gdb (60 = 10 + 20 + 30). */
#include "rt/rt.h"

volatile long counter;

__attribute__((noinline)) long scale(long x, long k)
{
    counter += x * k;
    return counter;
}

int main(int argc, char **argv)
{
    (void)argv;
    long total = 0;
    for (long i = 1; i <= 3; i++)
        total += scale(i, 10 * argc);
    printf("total %ld\n", total);
    return (int)counter;
}
