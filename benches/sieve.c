/* Benchmark: sieve of Eratosthenes up to LIMIT, repeated ITER times (argv[1]). */
#include "rt/rt.h"

#define LIMIT 2000000
static unsigned char composite[LIMIT + 1];

static unsigned long sieve(void)
{
    memset(composite, 0, sizeof composite);
    unsigned long count = 0, sum = 0;
    for (unsigned long i = 2; i <= LIMIT; i++) {
        if (composite[i])
            continue;
        count++;
        sum += i;
        for (unsigned long j = i * i; j <= LIMIT; j += i)
            composite[j] = 1;
    }
    return count * 1000003UL ^ sum;
}

int main(int argc, char **argv)
{
    long iters = arg_long(argc, argv, 1, 37);
    unsigned long check = 0;
    for (long it = 0; it < iters; it++)
        check = check * 31 + sieve();
    unsigned long primes = 0;
    for (unsigned long i = 2; i <= LIMIT; i++)
        primes += !composite[i];
    printf("sieve: limit %d, %lu primes, iterations %ld, checksum %016lx\n", LIMIT,
           iters ? primes : 0, iters, check);
    return 0;
}
