/* pltvm user-mode test runtime: syscalls, startup, formatted output, strings, brk malloc. */
#include "rt.h"

/* ---- syscalls ---------------------------------------------------------------------------- */

long syscall6(long n, long a0, long a1, long a2, long a3, long a4, long a5)
{
    register long r_a0 __asm__("a0") = a0;
    register long r_a1 __asm__("a1") = a1;
    register long r_a2 __asm__("a2") = a2;
    register long r_a3 __asm__("a3") = a3;
    register long r_a4 __asm__("a4") = a4;
    register long r_a5 __asm__("a5") = a5;
    register long r_a7 __asm__("a7") = n;
    __asm__ volatile("ecall"
                     : "+r"(r_a0)
                     : "r"(r_a1), "r"(r_a2), "r"(r_a3), "r"(r_a4), "r"(r_a5), "r"(r_a7)
                     : "memory");
    return r_a0;
}

long sys_read(int fd, void *buf, size_t n) { return syscall6(SYS_read, fd, (long)buf, (long)n, 0, 0, 0); }
long sys_write(int fd, const void *buf, size_t n) { return syscall6(SYS_write, fd, (long)buf, (long)n, 0, 0, 0); }
long sys_brk(void *addr) { return syscall6(SYS_brk, (long)addr, 0, 0, 0, 0, 0); }

void sys_exit(int code)
{
    for (;;)
        syscall6(SYS_exit, code, 0, 0, 0, 0, 0);
}

void sys_exit_group(int code)
{
    for (;;)
        syscall6(SYS_exit_group, code, 0, 0, 0, 0, 0);
}

/* ---- startup ----------------------------------------------------------------------------- */

char **environ;
unsigned long *rt_auxv;

extern int main(int argc, char **argv, char **envp);

__attribute__((noreturn, used)) void __rt_start(int argc, char **argv, char **envp)
{
    char **e = envp;
    environ = envp;
    while (*e)
        e++;
    rt_auxv = (unsigned long *)(e + 1);
    exit(main(argc, argv, envp));
}

unsigned long getauxval(unsigned long type)
{
    for (unsigned long *a = rt_auxv; a && a[0] != AT_NULL; a += 2)
        if (a[0] == type)
            return a[1];
    return 0;
}

/* ---- output ------------------------------------------------------------------------------ */

static char outbuf[4096];
static size_t outlen;

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        long r = sys_write(fd, p, n);
        if (r <= 0)
            return;
        p += r;
        n -= (size_t)r;
    }
}

void fflush_stdout(void)
{
    write_all(1, outbuf, outlen);
    outlen = 0;
}

static void out_fd(int fd, const char *p, size_t n)
{
    if (fd != 1) {
        write_all(fd, p, n);
        return;
    }
    if (outlen + n > sizeof outbuf)
        fflush_stdout();
    if (n >= sizeof outbuf) {
        write_all(1, p, n);
        return;
    }
    memcpy(outbuf + outlen, p, n);
    outlen += n;
}

void exit(int code)
{
    fflush_stdout();
    sys_exit_group(code);
}

/* Formatter core: emits into a small sink that is either a fd or a bounded buffer. */
struct sink {
    int fd;       /* >= 0: write to fd; -1: buffer */
    char *buf;
    size_t cap;   /* buffer capacity including NUL */
    size_t len;   /* characters produced so far */
};

static void sink_put(struct sink *s, const char *p, size_t n)
{
    if (s->fd >= 0) {
        out_fd(s->fd, p, n);
    } else {
        for (size_t i = 0; i < n; i++)
            if (s->len + i + 1 < s->cap)
                s->buf[s->len + i] = p[i];
    }
    s->len += n;
}

static void sink_pad(struct sink *s, char c, int n)
{
    while (n-- > 0)
        sink_put(s, &c, 1);
}

static int format(struct sink *s, const char *fmt, va_list ap)
{
    while (*fmt) {
        if (*fmt != '%') {
            const char *start = fmt;
            while (*fmt && *fmt != '%')
                fmt++;
            sink_put(s, start, (size_t)(fmt - start));
            continue;
        }
        fmt++;
        int left = 0, zero = 0, plus = 0, width = 0, lng = 0;
        for (;; fmt++) {
            if (*fmt == '-') left = 1;
            else if (*fmt == '0') zero = 1;
            else if (*fmt == '+') plus = 1;
            else break;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        while (*fmt == 'l' || *fmt == 'z' || *fmt == 'j') {
            lng = 1;
            fmt++;
        }
        char c = *fmt;
        if (c == 0)
            break;
        fmt++;
        char tmp[72];
        const char *str = tmp;
        size_t len = 0;
        const char *sign = "";
        switch (c) {
        case '%':
            tmp[0] = '%';
            len = 1;
            break;
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            len = 1;
            break;
        case 's':
            str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            len = strlen(str);
            break;
        case 'd':
        case 'i':
        case 'u':
        case 'x':
        case 'X':
        case 'p': {
            unsigned long v;
            unsigned base = (c == 'd' || c == 'i' || c == 'u') ? 10 : 16;
            if (c == 'p') {
                v = (unsigned long)va_arg(ap, void *);
                sign = "0x";
            } else if (c == 'd' || c == 'i') {
                long sv = lng ? va_arg(ap, long) : (long)va_arg(ap, int);
                if (sv < 0) {
                    sign = "-";
                    v = 0UL - (unsigned long)sv;
                } else {
                    if (plus)
                        sign = "+";
                    v = (unsigned long)sv;
                }
            } else {
                v = lng ? va_arg(ap, unsigned long) : (unsigned long)va_arg(ap, unsigned int);
            }
            const char *digits = c == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
            char *end = tmp + sizeof tmp;
            char *p = end;
            do {
                *--p = digits[v % base];
                v /= base;
            } while (v);
            str = p;
            len = (size_t)(end - p);
            break;
        }
        default:
            tmp[0] = '%';
            tmp[1] = c;
            len = 2;
            break;
        }
        size_t slen = strlen(sign);
        int pad = width - (int)(len + slen);
        if (!left && !zero)
            sink_pad(s, ' ', pad);
        sink_put(s, sign, slen);
        if (!left && zero)
            sink_pad(s, '0', pad);
        sink_put(s, str, len);
        if (left)
            sink_pad(s, ' ', pad);
    }
    return (int)s->len;
}

int vdprintf(int fd, const char *fmt, va_list ap)
{
    struct sink s = {fd, 0, 0, 0};
    return format(&s, fmt, ap);
}

int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
    struct sink s = {-1, buf, n, 0};
    int r = format(&s, fmt, ap);
    if (n)
        buf[s.len < n ? s.len : n - 1] = 0;
    return r;
}

int snprintf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

int dprintf(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vdprintf(fd, fmt, ap);
    va_end(ap);
    return r;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vdprintf(1, fmt, ap);
    va_end(ap);
    return r;
}

int puts(const char *s)
{
    out_fd(1, s, strlen(s));
    out_fd(1, "\n", 1);
    return 1;
}

int putchar(int c)
{
    char ch = (char)c;
    out_fd(1, &ch, 1);
    return c & 0xff;
}

/* ---- strings ----------------------------------------------------------------------------- */

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if ((((uintptr_t)dp | (uintptr_t)sp) & 7) == 0) {
        while (n >= 8) {
            *(uint64_t *)dp = *(const uint64_t *)sp;
            dp += 8;
            sp += 8;
            n -= 8;
        }
    }
    while (n--)
        *dp++ = *sp++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp <= sp || dp >= sp + n)
        return memcpy(d, s, n);
    while (n--)
        dp[n] = sp[n];
    return d;
}

void *memset(void *d, int c, size_t n)
{
    unsigned char *dp = d;
    if (((uintptr_t)dp & 7) == 0) {
        uint64_t v = (unsigned char)c * 0x0101010101010101ULL;
        while (n >= 8) {
            *(uint64_t *)dp = v;
            dp += 8;
            n -= 8;
        }
    }
    while (n--)
        *dp++ = (unsigned char)c;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] - y[i];
    return 0;
}

size_t strlen(const char *s)
{
    const char *p = s;
    while (*p)
        p++;
    return (size_t)(p - s);
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}

char *strcpy(char *d, const char *s)
{
    char *r = d;
    while ((*d++ = *s++))
        ;
    return r;
}

char *strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (!*s)
            return 0;
    }
}

long atol(const char *s)
{
    long v = 0;
    int neg = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        for (;; s++) {
            int d;
            if (*s >= '0' && *s <= '9') d = *s - '0';
            else if (*s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
            else if (*s >= 'A' && *s <= 'F') d = *s - 'A' + 10;
            else break;
            v = (long)((unsigned long)v * 16 + (unsigned long)d);
        }
    } else {
        while (*s >= '0' && *s <= '9')
            v = (long)((unsigned long)v * 10 + (unsigned long)(*s++ - '0'));
    }
    return neg ? (long)(0UL - (unsigned long)v) : v;
}

int atoi(const char *s) { return (int)atol(s); }

long arg_long(int argc, char **argv, int i, long dflt)
{
    return i < argc ? atol(argv[i]) : dflt;
}

/* ---- heap: brk-based bump allocator with a header for realloc ---------------------------- */

static char *heap_cur, *heap_end;

void *sbrk(long inc)
{
    if (!heap_end)
        heap_cur = heap_end = (char *)sys_brk(0);
    char *old = heap_end;
    char *want = old + inc;
    if ((char *)sys_brk(want) != want)
        return (void *)-1;
    heap_end = want;
    /* memory handed out by sbrk is never reused by malloc */
    heap_cur = heap_end;
    return old;
}

void *malloc(size_t n)
{
    if (!heap_end)
        heap_cur = heap_end = (char *)sys_brk(0);
    char *p = (char *)(((uintptr_t)heap_cur + 15) & ~(uintptr_t)15);
    size_t need = 16 + ((n + 15) & ~(size_t)15);
    if (p + need > heap_end) {
        size_t grow = (size_t)(p + need - heap_end);
        grow = (grow + 65535) & ~(size_t)65535;
        if (sbrk((long)grow) == (void *)-1)
            return 0;
    }
    *(size_t *)p = n;
    heap_cur = p + need;
    return p + 16;
}

void *calloc(size_t n, size_t sz)
{
    void *p = malloc(n * sz);
    if (p)
        memset(p, 0, n * sz);
    return p;
}

void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    size_t old = *(size_t *)((char *)p - 16);
    void *q = malloc(n);
    if (q)
        memcpy(q, p, old < n ? old : n);
    return q;
}

void free(void *p) { (void)p; }
