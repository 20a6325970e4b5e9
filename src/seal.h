/* seal.h: sealed offline mail (X3DH-style: signed prekey, one-time prekeys) and the prekey store. */
#ifndef TINCAN_SEAL_H
#define TINCAN_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

/*
 * Sealed blob (see tincan-protocol(7) and the rendezvous spec):
 *   version u8 (2) | sender Ed25519 pk 32 | E 32 (X25519) | spk_id u32 | opk_id u32 | nonce 24
 *   | XChaCha20-Poly1305 ciphertext of (seq u64 | unix-ms u64 | stream id u64 | first u64 | text),
 *   tag 16
 * Version 1 (before stream ids) has no stream id and first; it still opens, as "stream unknown".
 * The header is the first SEAL_HEAD_LEN bytes (nonce included); AD = sender pk || recipient pk
 * || header. SK = HKDF-BLAKE2b(salt 32 zero bytes, ikm = 32 x 0xFF || DH1 || DH2 || DH3 [|| DH4],
 * info "tincan-mail-v1"), HMAC-BLAKE2b-512 (RFC 2104, block 128), first 32 bytes of T(1), with
 * DH1 = DH(IK_A, SPK_B), DH2 = DH(E, IK_B), DH3 = DH(E, SPK_B), DH4 = DH(E, OPK_B) when opk_id != 0.
 */
enum {
	SEAL_V1 = 1,			/* no stream: still opened */
	SEAL_VERSION = 2,		/* what we seal */
	SEAL_HEAD_LEN = 97,
	SEAL_TAG_LEN = 16,
	SEAL_PAYLOAD_HEAD = 16,		/* seq u64, unix-ms u64: a DATA frame's head */
	SEAL_STREAM_LEN = 16,		/* version 2: stream id u64, first u64 */
	SEAL_OVERHEAD = SEAL_HEAD_LEN + SEAL_TAG_LEN + SEAL_PAYLOAD_HEAD + SEAL_STREAM_LEN,
	SEAL_MAX = 3952,		/* = RDV_SEALED_MAX: a MAIL fits one rel message */
	SEAL_MAX_TEXT = SEAL_MAX - SEAL_OVERHEAD,	/* what we seal */
	SEAL_OPEN_TEXT = SEAL_MAX_TEXT + SEAL_STREAM_LEN,	/* what a version 1 mail may hold */
	SEAL_SPK_MSG_LEN = 10 + 4 + 32,	/* "tincan-spk" || spk_id || spk */
};

/* seal_open results */
enum {
	SEAL_EFORMAT = -1,	/* too short, too long, unknown version, bad point */
	SEAL_ENOKEY = -2,	/* the prekey it names is not (or no longer) ours */
	SEAL_EAUTH = -3,	/* does not decrypt: tampered, or not for us */
};

/* What a BUNDLE answer carries. opk_id 0 = no one-time prekey left (opk all zero). */
struct seal_bundle {
	uint32_t spk_id;
	uint8_t spk[32];
	uint8_t sig[64];
	uint32_t opk_id;
	uint8_t opk[32];
};

/* The sender's stream (rel.h): its id, and the first seq it still holds. */
struct seal_stream {
	uint64_t sid, first;
};

struct seal_msg {
	uint8_t from[32];		/* the sender's identity, authenticated */
	uint32_t spk_id, opk_id;
	uint64_t seq, ts;
	int has_stream;			/* 0: a version 1 mail, stream unknown */
	struct seal_stream st;
	size_t len;
	char text[SEAL_OPEN_TEXT + 1];	/* NUL-terminated copy (may contain NULs before len) */
};

/* Signature over the signed prekey by the identity. 0 ok, -1. */
int seal_spk_sign(const struct identity *me, uint32_t spk_id, const uint8_t spk[32], uint8_t sig[64]);
/* 0 if the bundle's signed prekey is signed by owner_pk and its keys are usable, else -1. */
int seal_bundle_verify(const uint8_t owner_pk[32], const struct seal_bundle *b);

/* Seal one message to `to_pk` with a verified bundle, on stream st (NULL: a version 1 blob,
 * as a sender before stream ids made). Returns the blob length, or -1 (text too long, cap too
 * small, bad keys). Each call makes a fresh ephemeral key and nonce. */
int seal_mail(const struct identity *me, const uint8_t to_pk[32], const struct seal_bundle *b,
	      uint64_t seq, uint64_t ts, const struct seal_stream *st, const char *text, size_t len,
	      uint8_t *out, size_t cap);

/* Read the header without any crypto (which prekeys it needs). 0 or SEAL_EFORMAT. */
int seal_peek(const uint8_t *blob, size_t len, uint8_t from[32], uint32_t *spk_id, uint32_t *opk_id);
/* The decrypted plaintext of a blob of that version into m (seq, ts, stream, text). 0 or
 * SEAL_EFORMAT. */
int seal_payload_parse(int version, const uint8_t *pt, size_t len, struct seal_msg *m);
/* Open with the given prekey secrets (opk_sk NULL when the blob names none). 0 or SEAL_E*. */
int seal_open_with(const struct identity *me, const uint8_t spk_sk[32], const uint8_t *opk_sk,
		   const uint8_t *blob, size_t len, struct seal_msg *m);

/* --- the recipient's prekey store (secrets in sodium_malloc memory, file 0600) --- */

enum {
	SEAL_KEEP_SPK = 3,		/* current signed prekey and two old ones */
	SEAL_MAX_OPK = 400,		/* secrets kept; the oldest go first */
	SEAL_OPK_TARGET = 100,		/* published and unused after a refill */
	SEAL_OPK_LOW = 20,		/* refill below this */
	SEAL_OPK_BATCH = 100,		/* most one-time prekeys in one PREKEYS message */
};
#define SEAL_SPK_ROTATE_MS (7ULL * 24 * 3600 * 1000)
#define SEAL_OPK_GRACE_MS (120ULL * 1000)	/* a used one-time prekey lives this long */

struct seal_keys;

/* What to send in PREKEYS: the current signed prekey and the one-time prekeys not yet
 * published. */
struct seal_publish {
	uint32_t spk_id;
	uint8_t spk[32];
	uint8_t sig[64];
	int n;
	uint32_t opk_id[SEAL_OPK_BATCH];
	uint8_t opk[SEAL_OPK_BATCH][32];
};

/* Load path (a missing file is an empty store). NULL with a message in err on a bad file
 * (I/O error, or a file that does not parse: never silently replaced). */
struct seal_keys *seal_keys_load(const char *path, char *err, size_t errlen);
/* Write back if changed (atomic replace, 0600). 0, or -1 with errno. */
int seal_keys_save(struct seal_keys *k);
void seal_keys_free(struct seal_keys *k);
/* Rotate the signed prekey when absent or older than SEAL_SPK_ROTATE_MS, make one-time prekeys
 * when fewer than SEAL_OPK_LOW are published and unused, and fill p with the signed prekey and
 * the unpublished one-time prekeys. Returns 1 if a PREKEYS message is due (something changed or
 * force), 0 if not, -1 on error. */
int seal_keys_publish(struct seal_keys *k, const struct identity *me, uint64_t now_ms, int force,
		      struct seal_publish *p);
/* The server stored p: its one-time prekeys count as published. */
void seal_keys_published(struct seal_keys *k, const struct seal_publish *p);
/* Open a blob with our prekeys; marks the one-time prekey used (at now_ms). 0 or SEAL_E*. */
int seal_keys_open(struct seal_keys *k, const struct identity *me, uint64_t now_ms,
		   const uint8_t *blob, size_t len, struct seal_msg *m);
/* Forget one-time prekeys used more than SEAL_OPK_GRACE_MS ago. Returns how many. */
int seal_keys_expire(struct seal_keys *k, uint64_t now_ms);
/* Published and unused one-time prekeys. */
int seal_keys_opk_count(const struct seal_keys *k);

#endif
