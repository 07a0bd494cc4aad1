/*
 * attest.h - pltvm guest SDK: reports and derived keys (docs/abi.md §4.2, §6).
 */
#ifndef PLTVM_ATTEST_H
#define PLTVM_ATTEST_H

#include "eapp.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NAME_LEN          16
#define HASH_SIZE         32
#define SIGNATURE_SIZE    64
#define PUBLIC_KEY_SIZE   64
#define PRIVATE_KEY_SIZE  32

#define ENCLAVE_KEY  0
#define STORAGE_KEY  1
#define ATTEST_KEY   2   /* not implemented by the monitor: nothing written, result 0 [B9] */

struct sm_report_t {                      /* 160 bytes */
	unsigned char hash[HASH_SIZE];
	unsigned char signature[SIGNATURE_SIZE];
	unsigned char sm_pub_key[PUBLIC_KEY_SIZE];
};

struct enclave_report_t {                 /* 104 bytes */
	unsigned char hash[HASH_SIZE];
	unsigned char signature[SIGNATURE_SIZE];
	unsigned long nonce;
};

struct report_t {                         /* 328 bytes */
	struct sm_report_t sm;
	struct enclave_report_t enclave;
	unsigned char dev_pub_key[PUBLIC_KEY_SIZE];
};

struct signature_t {                      /* 64 bytes, r and s big-endian */
	unsigned char r[PUBLIC_KEY_SIZE / 2];
	unsigned char s[PUBLIC_KEY_SIZE / 2];
};

/* ecall 94: name == NULL -> report on this enclave (fresh measurement with the nonce, [B6]);
 * otherwise on the server enclave of that name. Returns 0 / -1. */
int get_report(char *name, struct report_t *report, unsigned long nonce);
/* ecall 88: derive key_size bytes of a key of the given type into key. Returns 0 / -1. */
int get_key(int key_type, unsigned char *key, int key_size);

#ifdef __cplusplus
}
#endif

#endif /* PLTVM_ATTEST_H */
