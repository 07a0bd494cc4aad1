/*
 * pltvm guest SDK: formatted output through the kbuffer (docs/abi.md §3.6).
 *
 * Transport: text is written from the start of the kbuffer page (VA 0xFFFF_FFE0_0000_0000),
 * at most 511 bytes, followed by a NUL; then OCALL_SYS_WRITE (ecall 98, a6 = 0x100101,
 * a0 = 3) hands it to the host, which prints up to the first NUL (byte 511 is forced to 0 by
 * the driver). Longer text is sent in consecutive 511-byte chunks.
 *
 * Our own formatter (no third-party code): flags - + space # 0, width and precision (also *),
 * length hh h l ll z j t L, conversions d i u o x X c s p % n f F e E g G a A (floating point
 * is computed in double arithmetic: exact for the usual precisions, approximate in the last
 * digits of very long ones; %a/%A print like %e/%E).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "eapp.h"
#include "ocall.h"
#include "print.h"

#undef putchar
#undef puts
#undef printf

#define KBUF       ((char *)ENCLAVE_DEFAULT_KBUFFER)
#define KBUF_TEXT  511u            /* bytes of text per OCALL; byte 511 is the NUL */

static unsigned int kpos;          /* bytes of pending text in the kbuffer */

static void kflush(void)
{
	if (kpos == 0)
		return;
	KBUF[kpos] = '\0';
	kpos = 0;
	eapp_ocall(OCALL_SYS_WRITE, 0, 0, 0);
}

static void kputc(char c)
{
	if (c == '\0')
		return;                    /* cannot be transported: the host stops at a NUL */
	KBUF[kpos++] = c;
	if (kpos == KBUF_TEXT)
		kflush();
}

void eapp_flush(void)
{
	kflush();
}

/* Answers a call (ecall 95, a0 = &ret), after flushing pending text. Here rather than in
 * calls.c so that the check for pending text is inlined, and only a0/a6/a7 are set: a server's
 * empty call is some ten instructions shorter (docs/ipc.md, "Cost of a call"). */
unsigned long SERVER_RETURN(struct call_enclave_arg_t *arg)
{
	if (kpos)
		kflush();
	register unsigned long a0 __asm__("a0") = (unsigned long)arg;
	register unsigned long a6 __asm__("a6") = SBI_EXT_PENGLAI_ENCLAVE;
	register unsigned long a7 __asm__("a7") = SYS_enclave_return;
	__asm__ __volatile__("ecall" : "+r"(a0) : "r"(a6), "r"(a7) : "memory");
	return a0;
}

void eapp_write(const char *text, unsigned long len)
{
	while (len--)
		kputc(*text++);
	kflush();
}

/* ---- output sinks ---- */

struct out {
	char *buf;                 /* NULL: the kbuffer */
	size_t cap;
	size_t n;                  /* characters produced so far */
};

static void out_c(struct out *o, char c)
{
	if (o->buf == NULL)
		kputc(c);
	else if (o->n + 1 < o->cap)
		o->buf[o->n] = c;
	o->n++;
}

static void out_rep(struct out *o, char c, int count)
{
	while (count-- > 0)
		out_c(o, c);
}

static void out_mem(struct out *o, const char *s, size_t len)
{
	while (len--)
		out_c(o, *s++);
}

enum { F_LEFT = 1, F_PLUS = 2, F_SPACE = 4, F_ALT = 8, F_ZERO = 16, F_UPPER = 32, F_PTR = 64 };

/* Emit prefix + body with width padding; zeros go between prefix and body. */
static void out_field(struct out *o, const char *prefix, int np, int zeros, const char *body,
                      int nb, int flags, int width)
{
	int len = np + zeros + nb;
	int pad = width > len ? width - len : 0;
	if (!(flags & F_LEFT) && !(flags & F_ZERO))
		out_rep(o, ' ', pad);
	out_mem(o, prefix, (size_t)np);
	if (!(flags & F_LEFT) && (flags & F_ZERO))
		out_rep(o, '0', pad);
	out_rep(o, '0', zeros);
	out_mem(o, body, (size_t)nb);
	if (flags & F_LEFT)
		out_rep(o, ' ', pad);
}

static void fmt_int(struct out *o, unsigned long long v, int neg, unsigned int base, int flags,
                    int width, int prec)
{
	const char *dig = (flags & F_UPPER) ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int nd = 0;
	int nonzero = v != 0;

	if (prec >= 0)
		flags &= ~F_ZERO;  /* a precision disables the 0 flag */
	else
		prec = 1;
	while (v) {
		tmp[sizeof tmp - 1 - nd++] = dig[v % base];
		v /= base;
	}
	int zeros = prec > nd ? prec - nd : 0;
	if ((flags & F_ALT) && base == 8 && zeros == 0 && (nd == 0 || tmp[sizeof tmp - nd] != '0'))
		zeros = 1;

	char prefix[3];
	int np = 0;
	if (neg)
		prefix[np++] = '-';
	else if (flags & F_PLUS)
		prefix[np++] = '+';
	else if (flags & F_SPACE)
		prefix[np++] = ' ';
	if ((flags & F_ALT) && base == 16 && (nonzero || (flags & F_PTR))) {
		prefix[np++] = '0';
		prefix[np++] = (flags & F_UPPER) ? 'X' : 'x';
	}
	out_field(o, prefix, np, zeros, tmp + sizeof tmp - nd, nd, flags, width);
}

/* ---- floating point ---- */

static const double pow10_tab[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18,
};

/* Writes the decimal digits of v (at least `min` digits) to the end of buf; returns count. */
static int utoa_rev(char *end, unsigned long long v, int min)
{
	int n = 0;
	while (v || n < min) {
		*--end = (char)('0' + v % 10);
		v /= 10;
		n++;
	}
	return n;
}

/* Round s (>= 0) to an integer; exact ties go to the even neighbour (like glibc). When the
 * integer part of s is not the last printed digit, `odd` gives that digit's parity. */
static unsigned long long round_even(double s, int odd)
{
	unsigned long long r = (unsigned long long)s;
	double rem = s - (double)r;
	if (rem > 0.5 || (rem == 0.5 && (odd || (r & 1))))
		r++;
	return r;
}

/* Normalise |d| (finite, > 0) to m in [1, 10) with d = m * 10^exp. */
static double normalise(double d, int *exp)
{
	int e = 0;
	while (d >= 1e16) { d /= 1e16; e += 16; }
	while (d >= 10.0) { d /= 10.0; e++; }
	while (d < 1e-16) { d *= 1e16; e -= 16; }
	while (d < 1.0) { d *= 10.0; e--; }
	*exp = e;
	return d;
}

/* Digits of d (>= 0) in %e style with `prec` fractional digits: returns the integer
 * mantissa*10^min(prec,17) and sets *exp. */
static unsigned long long e_digits(double d, int prec, int *exp)
{
	int p = prec > 17 ? 17 : prec;
	if (d == 0.0) {
		*exp = 0;
		return 0;
	}
	double m = normalise(d, exp);
	unsigned long long r = round_even(m * pow10_tab[p], 0);
	if (r >= (unsigned long long)(pow10_tab[p + 1])) {
		r /= 10;
		(*exp)++;
	}
	return r;
}

static void fmt_float(struct out *o, double d, char conv, int flags, int width, int prec)
{
	char prefix[2];
	int np = 0;
	int upper = conv >= 'A' && conv <= 'Z';
	char c = (char)(upper ? conv - 'A' + 'a' : conv);
	int neg = (d < 0.0) || (d == 0.0 && 1.0 / d < 0.0);

	if (neg)
		d = -d;
	if (neg)
		prefix[np++] = '-';
	else if (flags & F_PLUS)
		prefix[np++] = '+';
	else if (flags & F_SPACE)
		prefix[np++] = ' ';

	if (d != d || d > 1.7976931348623157e308) {
		const char *s = d != d ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
		out_field(o, prefix, np, 0, s, 3, flags & ~F_ZERO, width);
		return;
	}
	if (prec < 0)
		prec = 6;
	if (c == 'a')
		c = 'e';

	int strip = 0;
	if (c == 'g') {
		int P = prec == 0 ? 1 : prec, x;
		e_digits(d, P - 1, &x);
		if (P > x && x >= -4) {
			c = 'f';
			prec = P - 1 - x;
		} else {
			c = 'e';
			prec = P - 1;
		}
		strip = !(flags & F_ALT);
	}

	char buf[400];
	char *end = buf + sizeof buf;
	char *p = end;
	int extra = prec > 17 ? prec - 17 : 0;   /* trailing zeros beyond our 17 digits */
	int fp = prec - extra;

	if (c == 'e' || d >= 1e18) {
		int x;
		if (c != 'e') {                      /* huge %f: print via the exponent */
			c = 'e';
			fp = prec > 17 ? 17 : prec;
			extra = 0;
		}
		unsigned long long r = e_digits(d, fp, &x);
		/* exponent */
		int ax = x < 0 ? -x : x;
		p -= utoa_rev(p, (unsigned long long)ax, 2);
		*--p = x < 0 ? '-' : '+';
		*--p = upper ? 'E' : 'e';
		char mant[24];
		int nm = utoa_rev(mant + sizeof mant, r, fp + 1);
		char *m = mant + sizeof mant - nm;
		int nfrac = fp + extra;
		if (strip) {
			while (extra > 0) { extra--; nfrac--; }
			while (fp > 0 && m[fp] == '0') { fp--; nfrac--; }
		}
		for (int i = 0; i < extra; i++)
			*--p = '0';
		for (int i = fp; i >= 1; i--)
			*--p = m[i];
		if (nfrac > 0 || (flags & F_ALT))
			*--p = '.';
		*--p = m[0];
	} else {
		unsigned long long ip = (unsigned long long)d;
		double frac = d - (double)ip;
		unsigned long long fr = round_even(frac * pow10_tab[fp], fp == 0 && (ip & 1));
		if (fr >= (unsigned long long)pow10_tab[fp]) {
			fr -= (unsigned long long)pow10_tab[fp];
			ip++;
		}
		char fd[24];
		int nf = fp > 0 ? utoa_rev(fd + sizeof fd, fr, fp) : 0;
		char *f = fd + sizeof fd - nf;
		int nfrac = fp + extra;
		if (strip) {
			extra = 0;
			nfrac = fp;
			while (nfrac > 0 && f[nfrac - 1] == '0')
				nfrac--;
		}
		for (int i = 0; i < extra; i++)
			*--p = '0';
		for (int i = (nfrac < fp ? nfrac : fp) - 1; i >= 0; i--)
			*--p = f[i];
		if (nfrac > 0 || (flags & F_ALT))
			*--p = '.';
		p -= utoa_rev(p, ip, 1);
	}
	out_field(o, prefix, np, 0, p, (int)(end - p), flags, width);
}

/* ---- the formatter ---- */

static void vformat(struct out *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_c(o, *fmt);
			continue;
		}
		const char *start = fmt++;
		int flags = 0, width = 0, prec = -1, len = 0;   /* len: -2 hh, -1 h, 1 l, 2 ll/j, 3 z/t */

		for (;; fmt++) {
			if (*fmt == '-') flags |= F_LEFT;
			else if (*fmt == '+') flags |= F_PLUS;
			else if (*fmt == ' ') flags |= F_SPACE;
			else if (*fmt == '#') flags |= F_ALT;
			else if (*fmt == '0') flags |= F_ZERO;
			else break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				flags |= F_LEFT;
				width = -width;
			}
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				width = width * 10 + (*fmt++ - '0');
		}
		if (*fmt == '.') {
			fmt++;
			prec = 0;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				if (prec < 0)
					prec = -1;
				fmt++;
			} else {
				while (*fmt >= '0' && *fmt <= '9')
					prec = prec * 10 + (*fmt++ - '0');
			}
		}
		if (flags & F_LEFT)
			flags &= ~F_ZERO;
		if (flags & F_PLUS)
			flags &= ~F_SPACE;
		for (;; fmt++) {
			if (*fmt == 'h') len = len == -1 ? -2 : -1;
			else if (*fmt == 'l') len = len == 1 ? 2 : 1;
			else if (*fmt == 'j' || *fmt == 'q') len = 2;
			else if (*fmt == 'z' || *fmt == 't') len = 3;
			else if (*fmt == 'L') len = 2;
			else break;
		}

		char conv = *fmt;
		switch (conv) {
		case 'd':
		case 'i': {
			long long v;
			if (len >= 1) v = len == 1 ? va_arg(ap, long) : va_arg(ap, long long);
			else v = va_arg(ap, int);
			if (len == -1) v = (short)v;
			if (len == -2) v = (signed char)v;
			fmt_int(o, v < 0 ? -(unsigned long long)v : (unsigned long long)v, v < 0, 10,
			        flags, width, prec);
			break;
		}
		case 'u':
		case 'o':
		case 'x':
		case 'X': {
			unsigned long long v;
			if (len >= 1) v = len == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned long long);
			else v = va_arg(ap, unsigned int);
			if (len == -1) v = (unsigned short)v;
			if (len == -2) v = (unsigned char)v;
			unsigned int base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
			fmt_int(o, v, 0, base, (flags & ~(F_PLUS | F_SPACE)) | (conv == 'X' ? F_UPPER : 0),
			        width, prec);
			break;
		}
		case 'p': {
			unsigned long v = (unsigned long)va_arg(ap, void *);
			fmt_int(o, v, 0, 16, (flags & ~(F_PLUS | F_SPACE | F_ZERO)) | F_ALT | F_PTR,
			        width, -1);
			break;
		}
		case 'c': {
			char ch = (char)va_arg(ap, int);
			out_field(o, "", 0, 0, &ch, 1, flags & ~F_ZERO, width);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			size_t n = 0;
			while (s[n] && (prec < 0 || n < (size_t)prec))
				n++;
			out_field(o, "", 0, 0, s, (int)n, flags & ~F_ZERO, width);
			break;
		}
		case 'n': {
			int *np = va_arg(ap, int *);
			if (np)
				*np = (int)o->n;
			break;
		}
		case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
			fmt_float(o, va_arg(ap, double), conv, flags, width, prec);
			break;
		case '%':
			out_c(o, '%');
			break;
		default:
			/* unknown conversion: print it as written */
			if (conv == '\0')
				fmt--;
			out_mem(o, start, (size_t)(fmt - start + (conv != '\0')));
			break;
		}
	}
}

/* The SDK formatter's dialect (docs/abi.md §3.6): %d (int, long with l), %x as exactly
 * 8 (int) or 16 (long) lowercase zero-padded digits, %p as 0x + 16 digits, %s, %c; any other
 * character after % is skipped and conversion mode stays on. */
static void sdk_format(struct out *o, const char *fmt, va_list ap)
{
	int conv = 0, lng = 0;
	for (; *fmt; fmt++) {
		char c = *fmt;
		if (!conv) {
			if (c == '%') {
				conv = 1;
				lng = 0;
			} else {
				out_c(o, c);
			}
			continue;
		}
		switch (c) {
		case 'l':
			lng = 1;
			break;
		case 'd': {
			long v = lng ? va_arg(ap, long) : va_arg(ap, int);
			fmt_int(o, v < 0 ? -(unsigned long)v : (unsigned long)v, v < 0, 10, 0, 0, -1);
			conv = 0;
			break;
		}
		case 'x': {
			unsigned long v = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			fmt_int(o, v, 0, 16, 0, 0, lng ? 16 : 8);
			conv = 0;
			break;
		}
		case 'p':
			out_mem(o, "0x", 2);
			fmt_int(o, (unsigned long)va_arg(ap, void *), 0, 16, 0, 0, 16);
			conv = 0;
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			while (*s)
				out_c(o, *s++);
			conv = 0;
			break;
		}
		case 'c':
			out_c(o, (char)va_arg(ap, int));
			conv = 0;
			break;
		default:
			break;
		}
	}
}

/* ---- public entry points ---- */

int vprintf(const char *fmt, va_list ap)
{
	struct out o = { NULL, 0, 0 };
	vformat(&o, fmt, ap);
	kflush();
	return (int)o.n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int eapp_vprint(const char *fmt, va_list ap)
{
	struct out o = { NULL, 0, 0 };
	sdk_format(&o, fmt, ap);
	kflush();
	return (int)o.n;
}

int eapp_print(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = eapp_vprint(fmt, ap);
	va_end(ap);
	return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	char dummy;
	struct out o = { size ? buf : &dummy, size, 0 };
	vformat(&o, fmt, ap);
	if (size)
		buf[o.n < size ? o.n : size - 1] = '\0';
	return (int)o.n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int vsprintf(char *buf, const char *fmt, va_list ap)
{
	return vsnprintf(buf, (size_t)-1 >> 1, fmt, ap);
}

int sprintf(char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsprintf(buf, fmt, ap);
	va_end(ap);
	return n;
}

/* puts: text + "\n" in one OCALL (what the SDK's printf("...\n") turns into). */
int puts(const char *s)
{
	while (*s)
		kputc(*s++);
	kputc('\n');
	kflush();
	return 1;
}

int putchar(int c)
{
	kputc((char)c);
	kflush();
	return (unsigned char)c;
}

/* ---- picolibc stdio streams: line-buffered into the same kbuffer channel ---- */

static int stream_put(char c, FILE *f)
{
	(void)f;
	kputc(c);
	if (c == '\n')
		kflush();
	return (unsigned char)c;
}

static int stream_flush(FILE *f)
{
	(void)f;
	kflush();
	return 0;
}

static int stream_get(FILE *f)
{
	(void)f;
	return _FDEV_EOF;      /* an enclave has no standard input */
}

static FILE stream_out = FDEV_SETUP_STREAM(stream_put, NULL, stream_flush, _FDEV_SETUP_WRITE);
static FILE stream_in = FDEV_SETUP_STREAM(NULL, stream_get, NULL, _FDEV_SETUP_READ);

FILE *const stdin = &stream_in;
FILE *const stdout = &stream_out;
FILE *const stderr = &stream_out;
