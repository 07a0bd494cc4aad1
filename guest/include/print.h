/*
 * print.h - pltvm guest SDK: output through the kbuffer (docs/abi.md §3.6).
 *
 * Text is written to the kbuffer page at 0xFFFF_FFE0_0000_0000, NUL-terminated, at most 511
 * bytes at a time, and handed to the host with OCALL_SYS_WRITE (ecall 98, a0 = 3).
 *   printf/vprintf/puts/putchar: standard C formatting; exactly one OCALL per call when the
 *       text fits in 511 bytes, longer text goes out in consecutive 511-byte chunks.
 *   eapp_print: the SDK formatter's dialect (%d, %x as 8 or 16 zero-padded hex digits, %p,
 *       %s, %c, an `l` prefix; other characters after % are skipped), same transport.
 *   stdout/stderr FILEs (fputs, fprintf, putchar...) are line-buffered into the same channel.
 * NUL characters cannot be transported and are dropped.
 */
#ifndef PLTVM_PRINT_H
#define PLTVM_PRINT_H

#include <stdarg.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

int eapp_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int eapp_vprint(const char *fmt, va_list ap);
/* Write len bytes as they are (chunked at 511) and flush: one OCALL per chunk. */
void eapp_write(const char *text, unsigned long len);
/* Send any text buffered by the stdout/stderr FILEs now. */
void eapp_flush(void);

#ifdef __cplusplus
}
#endif

#endif /* PLTVM_PRINT_H */
