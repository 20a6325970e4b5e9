/* noise.h: Noise_IK_25519_ChaChaPoly_BLAKE2b handshake, cookies and transport (WireGuard-like). */
#ifndef TINCAN_NOISE_H
#define TINCAN_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

/*
 * Wire format: integers big-endian; every packet starts with a 4-byte header
 *   byte 0 = NOISE_WIRE_VERSION (0xF1; a STUN message starts with 0x00 or 0x01, so they demux),
 *   byte 1 = type, bytes 2-3 = zero.
 * INIT   148: hdr sender_idx(4) e(32) enc_s(32+16) enc_ts(12+16) mac1(16) mac2(16)
 * RESP    92: hdr sender_idx(4) receiver_idx(4) e(32) enc_empty(16) mac1(16) mac2(16)
 * COOKIE  64: hdr receiver_idx(4) nonce(24) enc_cookie(16+16)
 * DATA  >=32: hdr receiver_idx(4) counter(8) ciphertext(n) tag(16); AD = the first 16 bytes
 *
 * Handshake: Noise_IK_25519_ChaChaPoly_BLAKE2b (Noise rev 34), prologue "tincan v1".
 * The responder's pre-message static is its X25519 key (derived from its Ed25519 identity).
 * The initiator's static `s` travels as its 32-byte Ed25519 public key: the responder cannot
 * look up an X25519 key among its contacts in general, and needs the identity anyway. Both sides
 * convert it to X25519 for the `ss` and `se` DHs (WireGuard-style static keys). The transcript
 * hash binds the exact Ed25519 bytes sent.
 *
 * The INIT payload is encrypted under es+ss only, so its sender authentication is exposed to key
 * compromise impersonation (whoever holds the responder's static key can forge it) and it is not
 * forward secret against that key: that is why it carries nothing but a timestamp. Everything
 * after RESP has forward secrecy and KCI resistance from ee/se.
 *
 * Indices: callers pick random nonzero 32-bit local indices; 0 means "none".
 * Key lifetime (policy is the caller's; noise_encrypt/noise_decrypt enforce the REJECT limits).
 */
#define NOISE_WIRE_VERSION 0xF1
enum noise_type {
	NOISE_INIT = 1,
	NOISE_RESP = 2,
	NOISE_COOKIE = 3,
	NOISE_DATA = 4,
};
enum {
	NOISE_INIT_LEN = 148,
	NOISE_RESP_LEN = 92,
	NOISE_COOKIE_LEN = 64,
	NOISE_DATA_OVERHEAD = 32,
	NOISE_MAX_PACKET = 65535,
	NOISE_MAX_PLAINTEXT = NOISE_MAX_PACKET - NOISE_DATA_OVERHEAD,
	NOISE_TS_LEN = 12,
	NOISE_COOKIE_SECRET_MS = 120000,   /* responder's cookie secret rotates this often */
};
#define REKEY_AFTER_MS 120000ULL
#define REKEY_AFTER_MSGS (1ULL << 48)
#define REJECT_AFTER_MS 180000ULL
#define REJECT_AFTER_MSGS (UINT64_MAX - 8192)   /* counters >= this are never used or accepted */

/* Sliding replay window (RFC 6479): a ring of 64-bit words; counters up to REPLAY_WINDOW below
 * the highest seen are tracked exactly, older ones are rejected. */
#define REPLAY_WORDS 64
#define REPLAY_WINDOW ((REPLAY_WORDS - 1) * 64)   /* 4032 counters */
struct replay_window {
	uint64_t next;                    /* highest accepted counter + 1; 0 when none yet */
	uint64_t bitmap[REPLAY_WORDS];
};

struct noise_keypair {
	uint32_t local_idx, remote_idx;   /* receive with local_idx, send to remote_idx */
	uint8_t send_key[32], recv_key[32];
	uint64_t send_ctr;
	struct replay_window rw;
	uint64_t created_ms;              /* mono_ms() at creation */
	int initiator;
};
/* Keypairs hold session keys: allocate them with sodium_malloc (guarded, wiped on free). */
struct noise_keypair *noise_kp_new(void);
void noise_kp_free(struct noise_keypair *kp);

/* Handshake state, opaque and sodium_malloc'd. Initiator: between INIT and RESP (keeps its
 * state when a forged RESP fails, so a spoofed packet cannot kill a handshake). Responder:
 * between noise_init_consume and noise_resp_create. Secrets are wiped when done. */
struct noise_hs;
struct noise_hs *noise_hs_new(void);
void noise_hs_free(struct noise_hs *hs);
void noise_hs_clear(struct noise_hs *hs);             /* wipe, back to idle */
uint32_t noise_hs_local_idx(const struct noise_hs *hs);  /* 0 when idle */

/* Initiator: build INIT into out (148 bytes) for the peer with Ed25519 key peer_pk.
 * cookie16 (may be NULL) is the last cookie from this peer if younger than
 * NOISE_COOKIE_SECRET_MS; it fills mac2. 0 ok, -1 error (bad peer key, sender_idx 0). */
int noise_init_create(struct noise_hs *hs, const struct identity *me, const uint8_t peer_pk[32],
                      uint32_t sender_idx, const uint8_t *cookie16, uint8_t out[NOISE_INIT_LEN]);
/* Initiator: consume RESP; on success fill kp (initiator=1) and wipe hs. 0 ok, -1 reject. */
int noise_resp_consume(struct noise_hs *hs, const uint8_t *pkt, size_t len, struct noise_keypair *kp);

/* Responder, step 1: check mac1, decrypt; give the initiator's Ed25519 key and its timestamp.
 * The caller decides whether it accepts this peer and whether ts is newer than the last one it
 * saw from that peer (noise_ts_cmp(ts, last) > 0; a replayed INIT fails that test), then calls
 * step 2, or noise_hs_clear(hs) to drop it. 0 ok, -1 reject (hs is wiped). The timestamp comes
 * from the initiator's wall clock: a peer whose clock steps back is refused until it catches up. */
int noise_init_consume(struct noise_hs *hs, const struct identity *me, const uint8_t *pkt, size_t len,
                       uint8_t peer_pk[32], uint8_t ts[NOISE_TS_LEN]);
/* Responder, step 2: build RESP into out (92 bytes) and fill kp (initiator=0); wipes hs. */
int noise_resp_create(struct noise_hs *hs, uint32_t sender_idx, uint8_t out[NOISE_RESP_LEN],
                      struct noise_keypair *kp);
/* Timestamps are 8-byte unix seconds || 4-byte nanoseconds, big-endian: <0, 0, >0 as memcmp. */
int noise_ts_cmp(const uint8_t a[NOISE_TS_LEN], const uint8_t b[NOISE_TS_LEN]);

/* 1 if pkt is a well-formed INIT or RESP whose mac1 is keyed to me, else 0. */
int noise_mac1_ok(const struct identity *me, const uint8_t *pkt, size_t len);

/* Responder under load: require mac2 (a cookie bound to the source address) before doing any
 * DH; answer INITs without it by a COOKIE, which is smaller than the INIT (no amplification). */
struct noise_cookie_checker {
	uint8_t secret[32];               /* rotates every NOISE_COOKIE_SECRET_MS */
	uint64_t secret_ms;               /* mono_ms() when secret was made */
	uint8_t mac1_key[32];             /* BLAKE2b-256("mac1----" || my xpk) */
	uint8_t cookie_key[32];           /* BLAKE2b-256("cookie--" || my xpk) */
};
void noise_cookie_checker_init(struct noise_cookie_checker *cc, const struct identity *me);
void noise_cookie_checker_wipe(struct noise_cookie_checker *cc);
/* 1 if pkt is an INIT with valid mac1 and a mac2 made with the current cookie for src. */
int noise_mac2_ok(struct noise_cookie_checker *cc, const uint8_t *pkt, size_t len,
                  const void *src, size_t srclen);
/* Build a COOKIE answering INIT pkt from src into out (64 bytes). 64 ok, -1 (bad mac1...). */
int noise_cookie_reply(struct noise_cookie_checker *cc, const uint8_t *pkt, size_t len,
                       const void *src, size_t srclen, uint8_t out[NOISE_COOKIE_LEN]);
/* Initiator: take the cookie out of a COOKIE answering hs's outstanding INIT. 0 ok, -1. */
int noise_cookie_consume(const struct noise_hs *hs, const uint8_t *pkt, size_t len, uint8_t cookie16[16]);

/* Transport. noise_encrypt: DATA packet of pt[0..n) into out (cap >= n + 32, no overlap);
 * returns the length, or -1 (too long, small cap, or past REJECT_AFTER_MS/REJECT_AFTER_MSGS).
 * noise_decrypt: returns the plaintext length written to pt, or -1; replay-checked, and the
 * window is updated only after the tag verifies. */
int noise_encrypt(struct noise_keypair *kp, const uint8_t *pt, size_t n, uint8_t *out, size_t cap);
int noise_decrypt(struct noise_keypair *kp, const uint8_t *pkt, size_t len, uint8_t *pt, size_t cap);

/* For demux by the caller, before any crypto. noise_pkt_type: the type (enum noise_type) if the
 * header is ours and the length fits the type, else -1. noise_pkt_receiver_idx: the receiver
 * index of a RESP, COOKIE or DATA packet, 0 otherwise. */
int noise_pkt_type(const uint8_t *pkt, size_t len);
uint32_t noise_pkt_receiver_idx(const uint8_t *pkt, size_t len);

/* --- Known-answer hooks for tests only: deterministic, never use them to talk to anyone. --- */

/* As noise_init_create, with a fixed ephemeral secret and timestamp. */
int noise_init_create_det(struct noise_hs *hs, const struct identity *me, const uint8_t peer_pk[32],
                          uint32_t sender_idx, const uint8_t *cookie16, const uint8_t e_sk[32],
                          const uint8_t ts[NOISE_TS_LEN], uint8_t out[NOISE_INIT_LEN]);
/* Plain Noise_IK_25519_ChaChaPoly_BLAKE2b (raw X25519 statics, no tincan framing) run between
 * both roles with fixed keys, to compare with published vectors. Returns 0 if both sides agree. */
#define NOISE_KAT_MAXPAYLOAD 64
struct noise_ik_kat {
	const uint8_t *prologue;
	size_t prologue_len;
	uint8_t init_static[32], init_ephemeral[32], resp_static[32], resp_ephemeral[32];
	const uint8_t *payload1, *payload2;
	size_t payload1_len, payload2_len;                  /* <= NOISE_KAT_MAXPAYLOAD */
	uint8_t msg1[96 + NOISE_KAT_MAXPAYLOAD];            /* out: e, enc s, enc payload1 */
	size_t msg1_len;
	uint8_t msg2[48 + NOISE_KAT_MAXPAYLOAD];            /* out: e, enc payload2 */
	size_t msg2_len;
	uint8_t hash[64];                                   /* out: handshake hash */
	uint8_t i2r[32], r2i[32];                           /* out: transport keys */
};
int noise_ik_kat(struct noise_ik_kat *v);

#endif
