/* crypto.h: identity keys (Ed25519), their file, ID strings, fingerprints and safety numbers. */
#ifndef TINCAN_CRYPTO_H
#define TINCAN_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* "tc" + 56 base32 characters of pk || 3-byte checksum (35 bytes = 280 bits, no padding). */
#define ID_STRLEN 58
/* Four groups of five decimal digits separated by spaces: "01234 56789 01234 56789". */
#define FPR_STRLEN 23
/* Six groups of five decimal digits separated by spaces (out[] of id_safety_number is 36). */
#define SAFETY_STRLEN 35

/* id_decode results: the three ways to mistype an ID, plus a well-formed ID of a bad key. */
enum {
	ID_EBADLEN = -1,    /* too short or too long (a character missing or doubled) */
	ID_EBADCHAR = -2,   /* a character outside the alphabet, or not starting with "tc" */
	ID_ECHECKSUM = -3,  /* every character valid but the checksum fails: a typo */
	ID_EBADKEY = -4,    /* checksum fine but the key is not a usable Ed25519 point */
};

/* identity_load_or_create result when the key loaded but its file is group/world accessible;
 * err then holds a warning to show the user. The identity is valid and usable. */
#define IDENTITY_WARN_MODE 1

struct identity {
	uint8_t pk[32];          /* Ed25519 public key: the identity */
	uint8_t xpk[32];         /* X25519 public key derived from pk */
	uint8_t *sk;             /* sodium_malloc, 64 bytes Ed25519 secret key (seed || pk) */
	uint8_t *xsk;            /* sodium_malloc, 32 bytes X25519 secret derived from sk */
};

/*
 * Key file format (text, 148 bytes):
 *   line 1: "tincan-identity-v1"
 *   line 2: the 64-byte Ed25519 secret key (32-byte seed || 32-byte public key), 128 lower-case
 *           hex digits
 * each line ends in "\n" (a missing final newline is tolerated). The public half must be the one
 * derived from the seed, otherwise the file is reported as corrupt.
 *
 * Load `path`, or create it when absent (written to a temporary file with O_CREAT|O_EXCL 0600,
 * fsynced, then hard-linked into place so a crash never leaves a half-written key, and the
 * directory fsynced; creating the parent directory 0700 is the caller's job).
 * Returns 0 ok, IDENTITY_WARN_MODE (loaded, but the file mode lets group/others in: warning in
 * err), or -1 on error with errno set and a message in err (size errlen).
 * *created (may be NULL) tells whether a new key was made.
 */
int identity_load_or_create(const char *path, struct identity *id, int *created, char *err, size_t errlen);
/* Build an identity from a 32-byte seed (deterministic; for tests and known answers). 0 or -1. */
int identity_from_seed(const uint8_t seed[32], struct identity *id);
/* Wipe and free the secret halves; safe on a zeroed or already freed identity. */
void identity_free(struct identity *id);

/* Ed25519 detached signature. 0 ok, -1 error. */
int identity_sign(const struct identity *id, const uint8_t *msg, size_t len, uint8_t sig[64]);
/* 0 if sig is a valid signature of msg by pk, -1 otherwise. */
int identity_verify(const uint8_t pk[32], const uint8_t *msg, size_t len, const uint8_t sig[64]);

/* The identity string: "tc" + lower-case RFC 4648 base32 (no padding) of
 * pk || first 3 bytes of BLAKE2b-256("tincan-id" || pk). */
void id_encode(const uint8_t pk[32], char out[ID_STRLEN + 1]);
/* Case-insensitive, surrounding whitespace ignored. 0 ok, or one of ID_E* (negative). */
int id_decode(const char *s, uint8_t pk[32]);
const char *id_strerror(int code);

/* 20 decimal digits, groups of 5, from an iterated BLAKE2b-512 of the key (readable aloud). */
void id_fingerprint(const uint8_t pk[32], char out[FPR_STRLEN + 1]);
/* Safety number of two keys, order-independent, 30 digits in 6 groups of 5, e.g.
 * "48213 90477 15530 62981 30742 11895". */
void id_safety_number(const uint8_t a[32], const uint8_t b[32], char out[SAFETY_STRLEN + 1]);

/* Ed25519 public key to X25519 public key. -1 for an invalid or small-order point. */
int id_pk_to_x25519(const uint8_t pk[32], uint8_t xpk[32]);

#endif
