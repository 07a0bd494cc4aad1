/* Benchmark: LZ77-style compressor (hash-chained match finder, byte-oriented token stream) and
 * decompressor over 64 KiB of generated text, ITER times (argv[1]); round trip is verified. */
#include "rt/rt.h"

#define IN_SIZE (64 * 1024)
#define WINDOW 4096
#define MIN_MATCH 4
#define MAX_MATCH 130
#define HASH_BITS 13
#define CHAIN 16

static unsigned char in[IN_SIZE], out[IN_SIZE + IN_SIZE / 64 + 16], back[IN_SIZE];
static int32_t head[1 << HASH_BITS], prev[IN_SIZE];

static inline unsigned hash4(const unsigned char *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

/* Tokens: 0x00-0x7f: literal run of (b + 1) bytes follows;
 *         0x80-0xff: match of length (b - 0x80 + MIN_MATCH - 1 + 1), then 2-byte distance. */
static long compress(const unsigned char *src, long n, unsigned char *dst)
{
    for (int i = 0; i < (1 << HASH_BITS); i++)
        head[i] = -1;
    long o = 0, lit_start = 0, i = 0;
    while (i < n) {
        long best_len = 0, best_dist = 0;
        if (i + MIN_MATCH <= n) {
            unsigned h = hash4(src + i);
            long cand = head[h];
            for (int c = 0; c < CHAIN && cand >= 0 && i - cand <= WINDOW; c++) {
                long len = 0, max = n - i < MAX_MATCH ? n - i : MAX_MATCH;
                while (len < max && src[cand + len] == src[i + len])
                    len++;
                if (len > best_len) {
                    best_len = len;
                    best_dist = i - cand;
                }
                cand = prev[cand];
            }
            prev[i] = head[h];
            head[h] = (int32_t)i;
        }
        if (best_len >= MIN_MATCH) {
            while (lit_start < i) {
                long run = i - lit_start > 128 ? 128 : i - lit_start;
                dst[o++] = (unsigned char)(run - 1);
                memcpy(dst + o, src + lit_start, (size_t)run);
                o += run;
                lit_start += run;
            }
            dst[o++] = (unsigned char)(0x80 + best_len - MIN_MATCH);
            dst[o++] = (unsigned char)best_dist;
            dst[o++] = (unsigned char)(best_dist >> 8);
            for (long k = 1; k < best_len && i + k + MIN_MATCH <= n; k++) {
                unsigned h = hash4(src + i + k);
                prev[i + k] = head[h];
                head[h] = (int32_t)(i + k);
            }
            i += best_len;
            lit_start = i;
        } else {
            i++;
        }
    }
    while (lit_start < n) {
        long run = n - lit_start > 128 ? 128 : n - lit_start;
        dst[o++] = (unsigned char)(run - 1);
        memcpy(dst + o, src + lit_start, (size_t)run);
        o += run;
        lit_start += run;
    }
    return o;
}

static long decompress(const unsigned char *src, long n, unsigned char *dst)
{
    long i = 0, o = 0;
    while (i < n) {
        unsigned t = src[i++];
        if (t < 0x80) {
            memcpy(dst + o, src + i, t + 1);
            i += t + 1;
            o += t + 1;
        } else {
            long len = (long)(t - 0x80) + MIN_MATCH;
            long dist = src[i] | (long)src[i + 1] << 8;
            i += 2;
            for (long k = 0; k < len; k++, o++)
                dst[o] = dst[o - dist];
        }
    }
    return o;
}

static const char *const words[] = {
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "emulator", "risc-v",
    "instruction", "register", "memory", "page", "table", "trap", "enclave", "monitor",
    "compressed", "atomic", "of", "and", "a", "to", "in", "is", "it", "that", "for", "on",
};

int main(int argc, char **argv)
{
    long iters = arg_long(argc, argv, 1, 96);
    uint64_t seed = 99;
    uint64_t check = 0;
    long clen = 0;
    int ok = 1;
    for (long it = 0; it < iters; it++) {
        /* Fresh text each round: words, punctuation, some random bytes. */
        long p = 0;
        while (p < IN_SIZE) {
            uint64_t r = rng_next(&seed);
            const char *w = words[r % (sizeof words / sizeof words[0])];
            while (*w && p < IN_SIZE)
                in[p++] = (unsigned char)*w++;
            if (p < IN_SIZE)
                in[p++] = (r >> 20) % 11 == 0 ? '\n' : (r >> 20) % 7 == 0 ? (unsigned char)(r >> 40) : ' ';
        }
        clen = compress(in, IN_SIZE, out);
        long dlen = decompress(out, clen, back);
        ok &= dlen == IN_SIZE && memcmp(in, back, IN_SIZE) == 0;
        for (long k = 0; k < clen; k += 7)
            check = check * 1099511628211ULL ^ out[k];
        check ^= (uint64_t)clen;
    }
    printf("lz: %d bytes in, last %ld bytes out, iterations %ld, round trip %s, checksum %016lx\n",
           IN_SIZE, clen, iters, ok ? "ok" : "FAILED", (unsigned long)check);
    return ok ? 0 : 1;
}
