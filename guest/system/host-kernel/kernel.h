/*
 * kernel.h - shared declarations of the pltvm host kernel.
 */
#ifndef HOST_KERNEL_H
#define HOST_KERNEL_H

#include <stdarg.h>
#include "sbi.h"

#define PAGE         0x1000UL
#define MEGAPAGE     0x200000UL

/* Sv39 PTE bits (docs/abi.md §1.2) */
#define PTE_V 0x01UL
#define PTE_R 0x02UL
#define PTE_W 0x04UL
#define PTE_X 0x08UL
#define PTE_U 0x10UL
#define PTE_G 0x20UL
#define PTE_A 0x40UL
#define PTE_D 0x80UL
#define PTE_PPN_SHIFT 10
#define PTE_KERNEL (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)

#define SATP_SV39 (8UL << 60)

static inline u64 pte_pa(u64 pte) { return (pte >> PTE_PPN_SHIFT) << 12; }
static inline u64 pa_pte(u64 pa, u64 flags) { return ((pa >> 12) << PTE_PPN_SHIFT) | flags; }

/* console.c */
void kputs(const char *s);
void kprintf(const char *fmt, ...);
void kvprintf(const char *fmt, va_list ap);
void kwrite(const char *s, u64 n);
__attribute__((noreturn)) void sbi_exit(u64 code);
__attribute__((noreturn)) void panic(const char *fmt, ...);

/* lib.c */
void *kmemset(void *d, int c, u64 n);
void *kmemcpy(void *d, const void *s, u64 n);
int kstrcmp(const char *a, const char *b);
int kstrncmp(const char *a, const char *b, u64 n);

/* start.S */
extern u64 probe_value;
u64 probe_load(u64 addr);
u64 probe_store(u64 addr, u64 value);
u64 probe_satp(u64 value);

/* mm.c: the guarded page table (docs/abi.md §7) */
struct pt_area {
	u64 base, size;          /* whole PT area (NAPOT) */
	u64 pgd_order, pmd_order;
	u64 pgd, pmd, pte;       /* sub-area bases */
	u64 end;
	u64 next_pmd, next_pte;  /* bump allocators (pages handed out) */
};
extern struct pt_area pt;
extern u64 kernel_root;
i64 set_pte(u64 pte_pa, u64 value);
u64 pt_alloc_pmd(void);
u64 pt_alloc_pte(void);
u64 *walk(u64 root, u64 va, int level_stop);
int map_page(u64 root, u64 va, u64 pa, u64 flags);
void mm_init(void);
void mm_enable(void);
void flush_tlb(void);
u64 ram_end(void);

/* loader.c: the driver's block and loader (docs/abi.md §1.3, §1.4) */
struct block {
	u64 pa, pages;      /* the enclave block */
	u64 next;           /* next free page in the block */
	u64 entry;
	u64 free_mem;
};
i64 load_enclave(const u8 *elf, u64 elf_size, u64 stack_size, struct block *b);
u64 block_pages_for(const u8 *elf, u64 elf_size, u64 stack_size);

/* the monitor's enclave_create_param (136 bytes, docs/abi.md §4.1) */
struct create_param {
	u64 eid_ptr;
	char name[16];
	u32 type, pad;
	u64 paddr, size, entry_point, free_mem;
	u64 kbuffer, kbuffer_size;
	u64 shm_paddr, shm_size;
	u64 ecall_arg0, ecall_arg1, ecall_arg2, ecall_arg3;
	u64 retval;
};
_Static_assert(sizeof(struct create_param) == 136, "enclave_create_param is 136 bytes");

struct run_param {
	u64 mm_arg_addr, mm_arg_size;
};

/* the monitor's shadow_enclave_run_param (136 bytes, docs/abi.md §4.1): RUN_SHADOW's argument */
struct shadow_run_param {
	u64 sptbr, free_page, size, eid_ptr;
	u64 kbuffer, kbuffer_size;
	u64 shm_paddr, shm_size;
	u64 mm_arg_addr, mm_arg_size;
	u64 ecall_arg0, ecall_arg1, ecall_arg2, ecall_arg3;
	u64 retval;
	char name[16];
};
_Static_assert(sizeof(struct shadow_run_param) == 136, "shadow_enclave_run_param is 136 bytes");

/* enclave.c: create / run / destroy through the monitor (docs/abi.md §4.4) */
struct enclave {
	u32 eid;
	u32 pad;
	u64 ocall_func_id, ocall_arg0, ocall_arg1, ocall_syscall_num, retval;
	struct block blk;
	u8 *kbuffer;
};
i64 enclave_create(struct enclave *e, const char *name, u64 block_pa, const u8 *elf, u64 elf_size);
i64 enclave_run(struct enclave *e, int quiet);
i64 enclave_loop(struct enclave *e, i64 r, int quiet);
i64 enclave_run_relay(struct enclave *e, u64 relay, u64 relay_size, int quiet);
void enclave_prepare(struct enclave *e, struct create_param *p, const char *name, u64 block_pa,
		     const u8 *elf, u64 elf_size);
void enclave_prepare_stack(struct enclave *e, struct create_param *p, const char *name,
			   u64 block_pa, const u8 *elf, u64 elf_size, u64 stack_size);
void fork_prepare(struct enclave *e, struct shadow_run_param *p, const char *name,
		  u64 instance_pa, u64 relay, u64 relay_size);
/* called with the enclave at every OCALL before it is served (0: none); relay_hook at an
 * OCALL_RETURN_RELAY_PAGE, with the region the mailbox names, before the re-run */
extern void (*ocall_hook)(struct enclave *e);
extern void (*relay_hook)(struct enclave *e, u64 pa, u64 size);
u64 secure_alloc(u64 size);
extern u64 probe_during_ocall, probe_during_ocall_result;
extern const u8 embedded_enclave[];
extern const u8 embedded_enclave_end[];
/* payload.S: the relay-page demo, the IPC demo's server and caller */
extern const u8 embedded_relay[], embedded_relay_end[];
extern const u8 embedded_server[], embedded_server_end[];
extern const u8 embedded_caller[], embedded_caller_end[];

extern int verbose;

/* attacks.c */
int run_command(const char *cmd);

/* memory plan (memory.c) */
extern u64 plan_pt_base, plan_pt_size, plan_bitmap_base, plan_bitmap_size, plan_free_base;
u64 alloc_pages(u64 n);
u64 alloc_aligned(u64 size, u64 align);
void memory_probe(void);
u64 free_mark(void);
void free_reset(u64 mark);

#endif
