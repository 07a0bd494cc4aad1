/* Benchmark: integer matrix multiply, N x N, chained ITER times (argv[1]). */
#include "rt/rt.h"

#define N 96
static int32_t A[N][N], B[N][N], C[N][N];

static void matmul(void)
{
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++)
            C[i][j] = 0;
        for (int k = 0; k < N; k++) {
            int32_t a = A[i][k];
            for (int j = 0; j < N; j++)
                C[i][j] += a * B[k][j];
        }
    }
}

int main(int argc, char **argv)
{
    long iters = arg_long(argc, argv, 1, 137);
    uint64_t seed = 42;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            A[i][j] = (int32_t)(rng_next(&seed) % 201) - 100;
            B[i][j] = (int32_t)(rng_next(&seed) % 201) - 100;
        }
    uint64_t check = 0;
    for (long it = 0; it < iters; it++) {
        matmul();
        /* Feed the result back, kept small so the values stay interesting. */
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                check = check * 1099511628211ULL + (uint32_t)C[i][j];
                A[i][j] = (C[i][j] % 199) - (C[j][i] % 97);
            }
    }
    printf("matmul: %dx%d int32, iterations %ld, checksum %016lx, C[1][2] = %d\n", N, N, iters,
           (unsigned long)check, iters ? C[1][2] : 0);
    return 0;
}
