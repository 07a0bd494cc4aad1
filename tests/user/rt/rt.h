/* pltvm user-mode test runtime: a tiny freestanding libc subset over Linux syscalls. */
#ifndef PLTVM_RT_H
#define PLTVM_RT_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define SYS_read 63
#define SYS_write 64
#define SYS_exit 93
#define SYS_exit_group 94
#define SYS_brk 214

#define AT_NULL 0
#define AT_PAGESZ 6
#define AT_RANDOM 25

long syscall6(long n, long a0, long a1, long a2, long a3, long a4, long a5);
long sys_read(int fd, void *buf, size_t n);
long sys_write(int fd, const void *buf, size_t n);
long sys_brk(void *addr);
__attribute__((noreturn)) void sys_exit(int code);        /* exit (93) */
__attribute__((noreturn)) void sys_exit_group(int code);  /* exit_group (94) */
__attribute__((noreturn)) void exit(int code);            /* flushes stdout, then exit_group */

extern char **environ;
extern unsigned long *rt_auxv;
unsigned long getauxval(unsigned long type);

/* Output: stdout (fd 1) is buffered and flushed by exit() and before reads from stdin;
 * stderr (fd 2) is unbuffered. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int dprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int vdprintf(int fd, const char *fmt, va_list ap);
int puts(const char *s);
int putchar(int c);
void fflush_stdout(void);

void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strcpy(char *d, const char *s);
char *strchr(const char *s, int c);

long atol(const char *s);
int atoi(const char *s);
/* argv[i] as a number if present, otherwise dflt. */
long arg_long(int argc, char **argv, int i, long dflt);

void *sbrk(long inc);
void *malloc(size_t n);
void *calloc(size_t n, size_t sz);
void *realloc(void *p, size_t n);
void free(void *p);

/* xorshift64* PRNG for benchmarks and tests. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
