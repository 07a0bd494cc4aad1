/*
 * console.c - output through the SBI debug console and exit through SBI system reset.
 *
 * kprintf understands %s %c %d %u %x %p and %%, with an optional 'l' (long) and an optional
 * '0' + width for %x/%d/%u (e.g. %016lx). That is all the kernel needs.
 */
#include "kernel.h"

void kwrite(const char *s, u64 n)
{
	if (n == 0)
		return;
	/* DBCN console_write: a0 = bytes, a1/a2 = physical address (the kernel is identity mapped) */
	struct sbiret r = sbi_call(SBI_EXT_DBCN, 0, n, (u64)s, 0, 0, 0);
	if (r.error == 0 && (u64)r.value == n)
		return;
	u64 done = r.error == 0 ? (u64)r.value : 0;
	for (u64 i = done; i < n; i++)
		sbi_call(SBI_EXT_LEGACY_PUTCHAR, 0, (u8)s[i], 0, 0, 0, 0);
}

void kputs(const char *s)
{
	u64 n = 0;
	while (s[n])
		n++;
	kwrite(s, n);
}

/* A line is formatted into this buffer and written with one SBI call. */
static char line[512];
static u64 line_len;

static void out(char c)
{
	if (line_len == sizeof(line)) {
		kwrite(line, line_len);
		line_len = 0;
	}
	line[line_len++] = c;
}

static void out_num(u64 v, unsigned base, int neg, int width, char pad)
{
	char tmp[24];
	int n = 0;
	do {
		unsigned d = v % base;
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (int i = n; i < width; i++)
		out(pad);
	while (n)
		out(tmp[--n]);
}

void kvprintf(const char *fmt, va_list ap)
{
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			out(*p);
			continue;
		}
		p++;
		char pad = ' ';
		int width = 0, is_long = 0;
		if (*p == '0') {
			pad = '0';
			p++;
		}
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		if (*p == 'l') {
			is_long = 1;
			p++;
		}
		switch (*p) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			while (*s)
				out(*s++);
			break;
		}
		case 'c':
			out((char)va_arg(ap, int));
			break;
		case 'd': {
			i64 v = is_long ? va_arg(ap, i64) : va_arg(ap, int);
			out_num(v < 0 ? (u64)0 - (u64)v : (u64)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
			out_num(is_long ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, 0, width, pad);
			break;
		case 'x':
			out_num(is_long ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, 0, width, pad);
			break;
		case 'p':
			out('0');
			out('x');
			out_num((u64)va_arg(ap, void *), 16, 0, 0, ' ');
			break;
		case '%':
			out('%');
			break;
		case 0:
			p--;
			break;
		default:
			out('%');
			out(*p);
		}
	}
	kwrite(line, line_len);
	line_len = 0;
}

void kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
}

/* SBI SRST shutdown; the system machine turns reset_reason into its exit code. */
void sbi_exit(u64 code)
{
	sbi_call(SBI_EXT_SRST, 0, 0, code, 0, 0, 0);
	for (;;)
		__asm__ volatile("wfi");
}

void panic(const char *fmt, ...)
{
	va_list ap;
	kputs("host-kernel: panic: ");
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kputs("\n");
	sbi_exit(1);
}
