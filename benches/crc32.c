/* Benchmark: table-driven CRC-32 (IEEE, reflected) over a 256 KiB buffer, ITER times (argv[1]). */
#include "rt/rt.h"

static uint32_t table[256];

static void make_table(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[n] = c;
    }
}

static uint32_t crc32(uint32_t crc, const unsigned char *p, unsigned long n)
{
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#define BUF (256 * 1024)
static unsigned char buf[BUF];

int main(int argc, char **argv)
{
    long iters = arg_long(argc, argv, 1, 346);
    make_table();
    printf("crc32(\"123456789\") = %08x\n", crc32(0, (const unsigned char *)"123456789", 9));
    uint64_t seed = 7;
    for (int i = 0; i < BUF; i++)
        buf[i] = (unsigned char)(rng_next(&seed) >> 40);
    uint32_t crc = 0;
    for (long it = 0; it < iters; it++) {
        crc = crc32(crc, buf, BUF);
        buf[it % BUF] ^= (unsigned char)crc;
    }
    printf("crc32: %d-byte buffer, iterations %ld, crc %08x\n", BUF, iters, crc);
    return 0;
}
