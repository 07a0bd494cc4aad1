/* Benchmark: quicksort (median of three, insertion sort for small ranges) of a PRNG array of
 * 64-bit keys, with a heapsort cross-check on the first iteration; ITER = argv[1]. */
#include "rt/rt.h"

#define COUNT 100000
static uint64_t a[COUNT], b[COUNT];

static void insertion(uint64_t *v, long n)
{
    for (long i = 1; i < n; i++) {
        uint64_t x = v[i];
        long j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

static void quicksort(uint64_t *v, long n)
{
    while (n > 16) {
        long m = n / 2;
        uint64_t x = v[0], y = v[m], z = v[n - 1];
        uint64_t p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        long i = 0, j = n - 1;
        for (;;) {
            while (v[i] < p) i++;
            while (v[j] > p) j--;
            if (i >= j)
                break;
            uint64_t t = v[i]; v[i] = v[j]; v[j] = t;
            i++;
            j--;
        }
        /* Recurse into the smaller half, loop on the larger. */
        if (j + 1 < n - j - 1) {
            quicksort(v, j + 1);
            v += j + 1;
            n -= j + 1;
        } else {
            quicksort(v + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    insertion(v, n);
}

static void sift(uint64_t *v, long start, long n)
{
    long root = start;
    for (;;) {
        long child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && v[child] < v[child + 1])
            child++;
        if (v[root] >= v[child])
            return;
        uint64_t t = v[root]; v[root] = v[child]; v[child] = t;
        root = child;
    }
}

static void heapsort(uint64_t *v, long n)
{
    for (long s = n / 2 - 1; s >= 0; s--)
        sift(v, s, n);
    for (long e = n - 1; e > 0; e--) {
        uint64_t t = v[0]; v[0] = v[e]; v[e] = t;
        sift(v, 0, e);
    }
}

int main(int argc, char **argv)
{
    long iters = arg_long(argc, argv, 1, 67);
    uint64_t seed = 2024, check = 0;
    int ok = 1;
    for (long it = 0; it < iters; it++) {
        for (long i = 0; i < COUNT; i++)
            /* Narrow key range every other round: many duplicates. */
            a[i] = (it & 1) ? rng_next(&seed) % 1000 : rng_next(&seed);
        if (it == 0) {
            memcpy(b, a, sizeof a);
            heapsort(b, COUNT);
        }
        quicksort(a, COUNT);
        for (long i = 1; i < COUNT; i++)
            ok &= a[i - 1] <= a[i];
        if (it == 0)
            ok &= memcmp(a, b, sizeof a) == 0;
        check = check * 1000003ULL ^ a[0] ^ a[COUNT / 2] ^ a[COUNT - 1];
    }
    printf("qsort: %d keys, iterations %ld, sorted %s, checksum %016lx\n", COUNT, iters,
           ok ? "yes" : "NO", (unsigned long)check);
    return ok ? 0 : 1;
}
