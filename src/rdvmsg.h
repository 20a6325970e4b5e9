/* rdvmsg.h: rendezvous protocol v1 messages (tincan <-> tincand): encode/decode, no I/O. */
#ifndef TINCAN_RDVMSG_H
#define TINCAN_RDVMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * One rendezvous message is the body of one rel DATA message (rel.h) inside a Noise session
 * with the server: type u8 | body, integers big-endian (see tincan-protocol(7) and the table
 * below). Decoding is strict: every length is checked before use, strings are valid UTF-8
 * without NUL, enumerations are in range, and there is nothing after the last field, so a
 * decoded message encodes back to exactly the same bytes.
 *
 *  str8 = u8 length + bytes; str16 = u16 length + bytes; pk = 32 bytes;
 *  addr = family u8 (4 or 6) + 4 or 16 address bytes + port u16.
 *
 *  1 REGISTER  req, name str8
 *  2 LOGIN     req, status u8, text str8, naddr u8 (<= RDV_LOCAL_ADDR_MAX), addr * naddr
 *  3 ALLOW     req, pk, mode u8 (RDV_ALLOW_*)
 *  4 REQUEST   req, name str8, handle str8, text str8
 *  5 LOOKUP    req, name str8
 *  6 SUBSCRIBE req, pk
 *  7 STATUS    req, status u8, text str8
 *  8 PREKEYS   req, spk_id u32, spk 32, sig 64, n u8 (<= RDV_OPK_MSG_MAX), (opk_id u32, opk 32) * n
 *  9 BUNDLE    req, pk
 * 10 MAILPUT   req, pk, sealed str16 (<= RDV_SEALED_MAX)
 * 11 MAILACK   req, mail_id u64
 * 12 RELEASE   req, name str8
 * 13 MOVE      req, name str8, pk (the new key), sig 64
 * 64 RESULT    req, code u8, payload: none | pk (LOOKUP) | bundle (BUNDLE); payload only with OK
 *              bundle = spk_id u32, spk 32, sig 64, opk_id u32, opk 32 (opk_id 0: opk all zero)
 * 65 PRESENCE  pk, status u8, text str8, naddr u8 (<= RDV_ADDR_MAX), addr * naddr
 *              (status RDV_OFFLINE has naddr 0)
 * 66 REQUESTED pk (from), handle str8, text str8
 * 67 MAIL      mail_id u64, pk (from), sealed str16
 *
 * Names on the wire are 1..RDV_NAME_MAX bytes; their character rules are checked by
 * rdv_name_norm, not by the decoder, so that a server can answer a bad name with RDV_BAD.
 */

enum rdv_type {
	RDV_REGISTER = 1,
	RDV_LOGIN = 2,
	RDV_ALLOW = 3,
	RDV_REQUEST = 4,
	RDV_LOOKUP = 5,
	RDV_SUBSCRIBE = 6,
	RDV_STATUS = 7,
	RDV_PREKEYS = 8,
	RDV_BUNDLE = 9,
	RDV_MAILPUT = 10,
	RDV_MAILACK = 11,
	RDV_RELEASE = 12,
	RDV_MOVE = 13,
	RDV_REQ_LAST = RDV_MOVE,	/* client -> server types are 1..RDV_REQ_LAST */

	RDV_RESULT = 64,
	RDV_PRESENCE = 65,
	RDV_REQUESTED = 66,
	RDV_MAIL = 67,
};

enum rdv_code {
	RDV_OK = 0,
	RDV_TAKEN = 1,
	RDV_NOTFOUND = 2,
	RDV_QUOTA = 3,
	RDV_RATE = 4,
	RDV_BAD = 5,
	RDV_NOTREG = 6,
	RDV_CODE_LAST = RDV_NOTREG,
};

enum rdv_status {
	RDV_OFFLINE = 0,	/* in STATUS: log out */
	RDV_ONLINE = 1,
	RDV_AWAY = 2,
	RDV_BUSY = 3,
	RDV_INVISIBLE = 4,	/* appear offline to everyone */
};

enum rdv_allow_mode {
	RDV_ALLOW_REMOVE = 0,
	RDV_ALLOW_ALLOW = 1,
	RDV_ALLOW_BLOCK = 2,
};

/* Which payload a RESULT carries (decided by its length on the wire). */
enum rdv_payload {
	RDV_PL_NONE = 0,
	RDV_PL_PK = 1,		/* LOOKUP: pk */
	RDV_PL_BUNDLE = 2,	/* BUNDLE: spk_id, spk, sig, opk[0] (opk_id 0 = none left) */
};

enum {
	RDV_PORT = 7787,
	RDV_MSG_MAX = 4000,		/* = REL_MAX_TEXT: one message fits one rel DATA message */
	RDV_NAME_MAX = 32,
	RDV_STR8_MAX = 255,		/* text and handle */
	RDV_LOCAL_ADDR_MAX = 8,		/* addresses a client reports in LOGIN */
	RDV_ADDR_MAX = RDV_LOCAL_ADDR_MAX + 1,	/* in PRESENCE: the observed one first */
	RDV_OPK_MSG_MAX = 100,		/* one-time prekeys in one PREKEYS message */
	RDV_OPK_STORE_MAX = 100,	/* kept per user by the server */
	RDV_RELAY_MAX = 1400,		/* bytes of peer packet in one FR_RELAY frame (rel.h) */
	/* Largest sealed blob: MAIL (1 + 8 + 32 + 2 + sealed) stays within RDV_MSG_MAX. */
	RDV_SEALED_MAX = 3952,
	RDV_BUNDLE_LEN = 4 + 32 + 64 + 4 + 32,
	RDV_SPK_SIGMSG_LEN = 10 + 4 + 32,		/* "tincan-spk" || spk_id || spk */
	RDV_MOVE_SIGMSG_MAX = 11 + RDV_NAME_MAX + 32,	/* "tincan-move" || name || new pk */
};

struct rdv_addr {
	uint8_t family;		/* 4 or 6 */
	uint8_t ip[16];		/* IPv4 in the first 4 bytes */
	uint16_t port;
};

struct rdv_opk {
	uint32_t id;
	uint8_t pk[32];
};

/* A decoded message; which fields are meaningful depends on type (see the table above).
 * Strings are NUL-terminated copies. `sealed` points INTO the buffer given to rdv_decode and is
 * valid only as long as that buffer. */
struct rdv_msg {
	uint8_t type;		/* enum rdv_type */
	uint32_t req;		/* requests and RESULT */
	uint8_t code;		/* RESULT: enum rdv_code */
	uint8_t payload;	/* RESULT: enum rdv_payload */
	uint8_t status;		/* LOGIN, STATUS, PRESENCE: enum rdv_status */
	uint8_t mode;		/* ALLOW: enum rdv_allow_mode */
	/* ALLOW, SUBSCRIBE, BUNDLE, MAILPUT: the target; MOVE: the new key; RESULT of LOOKUP;
	 * PRESENCE: whose; REQUESTED, MAIL: the sender */
	uint8_t pk[32];
	char name[RDV_NAME_MAX + 1];	/* REGISTER, REQUEST (target), LOOKUP, RELEASE, MOVE */
	char text[RDV_STR8_MAX + 1];	/* LOGIN, STATUS, REQUEST, PRESENCE, REQUESTED */
	char handle[RDV_STR8_MAX + 1];	/* REQUEST, REQUESTED: the sender's name@host[:port] */
	uint8_t naddr;			/* LOGIN, PRESENCE */
	struct rdv_addr addr[RDV_ADDR_MAX];
	uint8_t sig[64];		/* PREKEYS, MOVE, RESULT bundle */
	uint32_t spk_id;		/* PREKEYS, RESULT bundle */
	uint8_t spk[32];
	uint8_t nopk;			/* PREKEYS: n; RESULT bundle: always 1 (opk[0]) */
	struct rdv_opk opk[RDV_OPK_MSG_MAX];
	uint64_t mail_id;		/* MAILACK, MAIL */
	const uint8_t *sealed;		/* MAILPUT, MAIL */
	size_t sealed_len;
};

/* Decode one message. 0 ok, -1 malformed (m is then unspecified). */
int rdv_decode(const uint8_t *buf, size_t len, struct rdv_msg *m);
/* Encode m (the fields its type uses; strings must be valid as the decoder requires). Returns
 * the length written (<= RDV_MSG_MAX), or 0 if a field is invalid or cap is too small. */
size_t rdv_encode(const struct rdv_msg *m, uint8_t *out, size_t cap);
/* For answering a request that does not decode: if buf starts with a request type (1..13)
 * and a req, fill them and return 0; else -1. */
int rdv_peek_req(const uint8_t *buf, size_t len, uint8_t *type, uint32_t *req);

/* Helpers for building the common messages (return length or 0, as rdv_encode). */
size_t rdv_encode_result(uint32_t req, uint8_t code, uint8_t *out, size_t cap);

/* Name rules: 1..32 characters of [a-z0-9._-] (upper-case A-Z folded to lower), starting with a
 * letter or digit. Writes the lower-case form; 0 ok, -1 invalid. */
int rdv_name_norm(const char *in, char out[RDV_NAME_MAX + 1]);

/* Bytes an identity signs: "tincan-spk" || spk_id u32 || spk (RDV_SPK_SIGMSG_LEN), and
 * "tincan-move" || name (normalised, lower-case) || new pk. rdv_move_sigmsg returns the length,
 * 0 if the name is invalid. */
void rdv_spk_sigmsg(uint32_t spk_id, const uint8_t spk[32], uint8_t out[RDV_SPK_SIGMSG_LEN]);
size_t rdv_move_sigmsg(const char *name, const uint8_t new_pk[32], uint8_t out[RDV_MOVE_SIGMSG_MAX]);

/* sockaddr <-> addr. An IPv4-mapped IPv6 address becomes family 4. 0 ok, -1 (other family). */
int rdv_addr_from_sa(struct rdv_addr *a, const struct sockaddr *sa, socklen_t salen);
socklen_t rdv_addr_to_sa(const struct rdv_addr *a, struct sockaddr_storage *ss);
/* Wire size of an address (7 or 19), 0 for a bad family. */
size_t rdv_addr_len(const struct rdv_addr *a);

/* UTF-8 check used by the decoder (no NUL, no overlongs, no surrogates): 1 valid, 0 not. */
int rdv_utf8_ok(const uint8_t *s, size_t n);

/* A reader of untrusted bytes, also used for tincand's account records: every read checks
 * that its bytes are there; the first that fails sets bad, and then every read fails,
 * returning NULL or 0. Start it as { buf, len, 0, 0 }; all read when !bad && off == n. */
struct rdv_rd {
	const uint8_t *p;
	size_t n, off;
	int bad;
};

/* The next k bytes, or NULL. */
const uint8_t *rdv_rd_take(struct rdv_rd *r, size_t k);
uint8_t rdv_rd_u8(struct rdv_rd *r);
uint16_t rdv_rd_u16(struct rdv_rd *r);
uint32_t rdv_rd_u32(struct rdv_rd *r);
uint64_t rdv_rd_u64(struct rdv_rd *r);
/* A str8 of min..max bytes of valid UTF-8 (rdv_utf8_ok) into dst[max + 1], NUL-terminated. */
void rdv_rd_str8(struct rdv_rd *r, char *dst, size_t min, size_t max);

#endif
