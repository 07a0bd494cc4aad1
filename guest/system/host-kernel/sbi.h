/*
 * sbi.h - the host kernel's calls into the monitor (S-mode -> M-mode ecall).
 *
 * Standard SBI: a7 = extension id, a6 = function id, arguments in a0..a5; the monitor answers
 * with a0 = error (0 = success) and a1 = value.
 * Penglai host extension (docs/abi.md §4.1, docs/system-mode.md): a7 = 0x100100, a6 = fid,
 * arguments in a0..a4. Its result is read as the Linux wrapper does: a1 when a0 == 0, else a0
 * (so enclave results 0..100 arrive in a1 and errors such as -1 in a0).
 */
#ifndef HOST_KERNEL_SBI_H
#define HOST_KERNEL_SBI_H

typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef unsigned char u8;

/* standard extensions */
#define SBI_EXT_BASE          0x10UL
#define SBI_EXT_LEGACY_PUTCHAR 0x01UL
#define SBI_EXT_DBCN          0x4442434EUL
#define SBI_EXT_SRST          0x53525354UL

/* Penglai host extension and its function ids */
#define SBI_EXT_PENGLAI_HOST  0x100100UL
#define FID_SET_PTE           101
#define FID_SM_INIT           100
#define FID_CREATE_ENCLAVE    99
#define FID_ATTEST_ENCLAVE    98
#define FID_RUN_ENCLAVE       97
#define FID_STOP_ENCLAVE      96
#define FID_RESUME_ENCLAVE    95
#define FID_DESTROY_ENCLAVE   94
#define FID_MEMORY_EXTEND     92
#define FID_CREATE_SERVER     90
#define FID_DESTROY_SERVER    89
#define FID_RUN_SHADOW        87
#define FID_CREATE_SHADOW     86
#define FID_SCHRODINGER_INIT  85
#define FID_PT_AREA_SEPARATION 83
#define FID_MAP_PTE           81
#define FID_ATTEST_SHADOW     80
#define FID_DESTROY_SHADOW    79

/* SET_PTE flags */
#define SET_PTE_ONE           1
#define SET_PTE_MEMSET        2
#define SET_PTE_MEMCPY        3
#define SET_PTE_BATCH_ZERO    4
#define SET_PTE_BATCH_SET     5

/* enclave run results and resume reasons */
#define ENCLAVE_SUCCESS       0
#define ENCLAVE_TIMER_IRQ     1
#define ENCLAVE_OCALL         2
#define ENCLAVE_YIELD         3
#define RESUME_FROM_TIMER_IRQ 0
#define RESUME_FROM_STOP      1
#define RESUME_FROM_OCALL     2
#define OCALL_SYS_WRITE       3
#define OCALL_RETURN_RELAY_PAGE 7

struct sbiret {
	i64 error;
	i64 value;
};

static inline struct sbiret sbi_call(u64 ext, u64 fid, u64 a0, u64 a1, u64 a2, u64 a3, u64 a4)
{
	register u64 r_a0 __asm__("a0") = a0;
	register u64 r_a1 __asm__("a1") = a1;
	register u64 r_a2 __asm__("a2") = a2;
	register u64 r_a3 __asm__("a3") = a3;
	register u64 r_a4 __asm__("a4") = a4;
	register u64 r_a6 __asm__("a6") = fid;
	register u64 r_a7 __asm__("a7") = ext;
	__asm__ volatile("ecall"
			 : "+r"(r_a0), "+r"(r_a1)
			 : "r"(r_a2), "r"(r_a3), "r"(r_a4), "r"(r_a6), "r"(r_a7)
			 : "memory");
	struct sbiret r = { (i64)r_a0, (i64)r_a1 };
	return r;
}

/* A Penglai host call, result as the driver's wrapper reads it. */
static inline i64 penglai(u64 fid, u64 a0, u64 a1, u64 a2, u64 a3, u64 a4)
{
	struct sbiret r = sbi_call(SBI_EXT_PENGLAI_HOST, fid, a0, a1, a2, a3, a4);
	return r.error == 0 ? r.value : r.error;
}

#endif
