/* noise.c: Noise_IK_25519_ChaChaPoly_BLAKE2b handshake, mac1/mac2 cookies, transport, replay. */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "noise.h"
#include "util.h"

#define HASHLEN 64    /* BLAKE2b-512 */
#define BLOCKLEN 128  /* BLAKE2b block, for HMAC */

static const char protocol_name[] = "Noise_IK_25519_ChaChaPoly_BLAKE2b";
static const char tincan_prologue[] = "tincan v1";

/* Byte offsets of each packet's fields (see noise.h). */
enum {
	INIT_SENDER = 4, INIT_MSG = 8, INIT_MAC1 = 116, INIT_MAC2 = 132,
	RESP_SENDER = 4, RESP_RECEIVER = 8, RESP_MSG = 12, RESP_MAC1 = 60, RESP_MAC2 = 76,
	COOKIE_RECEIVER = 4, COOKIE_NONCE = 8, COOKIE_BOX = 32,
	DATA_RECEIVER = 4, DATA_COUNTER = 8, DATA_BODY = 16,
};
_Static_assert(INIT_MSG + 32 + 48 + NOISE_TS_LEN + 16 == INIT_MAC1, "INIT layout");
_Static_assert(INIT_MAC2 + 16 == NOISE_INIT_LEN, "INIT length");
_Static_assert(RESP_MSG + 32 + 16 == RESP_MAC1 && RESP_MAC2 + 16 == NOISE_RESP_LEN, "RESP layout");
_Static_assert(COOKIE_BOX + 16 + 16 == NOISE_COOKIE_LEN, "COOKIE layout");
_Static_assert(NOISE_COOKIE_LEN < NOISE_INIT_LEN, "a COOKIE must not amplify");
_Static_assert((REPLAY_WORDS & (REPLAY_WORDS - 1)) == 0 && REPLAY_WINDOW >= 2048, "replay ring");

enum hs_state { HS_IDLE, HS_INIT_SENT, HS_INIT_RECEIVED };

/* Noise SymmetricState plus the CipherState inside it. */
struct symm {
	uint8_t ck[HASHLEN];
	uint8_t h[HASHLEN];
	uint8_t k[32];
	uint64_t n;
};

struct noise_hs {
	int state;
	uint32_t local_idx, remote_idx;
	struct symm ss;
	uint8_t e_sk[32];         /* own ephemeral secret (initiator) */
	uint8_t s_sk[32];         /* own X25519 static secret (initiator, for se) */
	uint8_t rs[32];           /* peer's X25519 static */
	uint8_t re[32];           /* peer's ephemeral (responder) */
	uint8_t my_mac1_key[32];  /* key of the mac1 on a RESP to us (initiator) */
	uint8_t sent_mac1[16];    /* mac1 of our INIT: the AD of a COOKIE answering it */
};

/* --- Noise primitives: HASH, HMAC, HKDF, SymmetricState --- */

/* out = BLAKE2b-512((key zero-padded to a block) ^ c || a || b) */
static void hmac_half(uint8_t out[HASHLEN], const uint8_t key[HASHLEN], uint8_t c,
                      const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	crypto_generichash_state st;
	uint8_t pad[BLOCKLEN];
	size_t i;

	memset(pad, c, sizeof(pad));
	for (i = 0; i < HASHLEN; i++)
		pad[i] ^= key[i];
	crypto_generichash_init(&st, NULL, 0, HASHLEN);
	crypto_generichash_update(&st, pad, sizeof(pad));
	crypto_generichash_update(&st, a, alen);
	crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, HASHLEN);
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(&st, sizeof(st));
}

/* HMAC-BLAKE2b (RFC 2104, block 128) with a HASHLEN-byte key over a || b. */
static void hmac(uint8_t out[HASHLEN], const uint8_t key[HASHLEN], const uint8_t *a, size_t alen,
                 const uint8_t *b, size_t blen)
{
	uint8_t inner[HASHLEN];

	hmac_half(inner, key, 0x36, a, alen, b, blen);
	hmac_half(out, key, 0x5c, inner, sizeof(inner), NULL, 0);
	sodium_memzero(inner, sizeof(inner));
}

/* Noise HKDF with two outputs; o1 may alias ck. */
static void hkdf2(const uint8_t ck[HASHLEN], const uint8_t *ikm, size_t ikmlen,
                  uint8_t o1[HASHLEN], uint8_t o2[HASHLEN])
{
	static const uint8_t one = 1, two = 2;
	uint8_t temp[HASHLEN];

	hmac(temp, ck, ikm, ikmlen, NULL, 0);
	hmac(o1, temp, &one, 1, NULL, 0);
	hmac(o2, temp, o1, HASHLEN, &two, 1);
	sodium_memzero(temp, sizeof(temp));
}

static void mix_hash(struct symm *s, const uint8_t *data, size_t n)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, HASHLEN);
	crypto_generichash_update(&st, s->h, HASHLEN);
	crypto_generichash_update(&st, data, n);
	crypto_generichash_final(&st, s->h, HASHLEN);
}

/* InitializeSymmetric, MixHash(prologue), then IK's pre-message: the responder's static rs. */
static void symm_init(struct symm *s, const uint8_t *prologue, size_t plen, const uint8_t rs[32])
{
	memset(s, 0, sizeof(*s));
	/* The name is shorter than HASHLEN: h = name padded with zeros. */
	memcpy(s->h, protocol_name, sizeof(protocol_name) - 1);
	memcpy(s->ck, s->h, HASHLEN);
	mix_hash(s, prologue, plen);
	mix_hash(s, rs, 32);
}

static void mix_key(struct symm *s, const uint8_t *ikm, size_t n)
{
	uint8_t tk[HASHLEN];

	hkdf2(s->ck, ikm, n, s->ck, tk);
	memcpy(s->k, tk, 32);  /* HASHLEN 64: truncate to the cipher's 32-byte key */
	s->n = 0;
	sodium_memzero(tk, sizeof(tk));
}

/* MixKey(DH(sk, pk)); -1 if pk is a low-order point (all-zero shared secret). */
static int mix_dh(struct symm *s, const uint8_t sk[32], const uint8_t pk[32])
{
	uint8_t dh[32];
	int rc = crypto_scalarmult(dh, sk, pk) == 0 ? 0 : -1;

	if (rc == 0)
		mix_key(s, dh, sizeof(dh));
	sodium_memzero(dh, sizeof(dh));
	return rc;
}

/* ChaChaPoly nonce: 32 zero bits, then the 64-bit counter little-endian. */
static void make_nonce(uint8_t nonce[12], uint64_t n)
{
	int i;

	memset(nonce, 0, 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

static void encrypt_and_hash(struct symm *s, const uint8_t *pt, size_t n, uint8_t *out)
{
	uint8_t nonce[12], dummy = 0;

	make_nonce(nonce, s->n++);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, n ? pt : &dummy, n, s->h, HASHLEN,
	                                          NULL, nonce, s->k);
	mix_hash(s, out, n + 16);
}

/* ct has n + 16 bytes; out gets n bytes. */
static int decrypt_and_hash(struct symm *s, const uint8_t *ct, size_t n, uint8_t *out)
{
	uint8_t nonce[12], dummy;

	make_nonce(nonce, s->n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(n ? out : &dummy, NULL, NULL, ct, n + 16,
	                                              s->h, HASHLEN, nonce, s->k) != 0)
		return -1;
	s->n++;
	mix_hash(s, ct, n + 16);
	return 0;
}

static void split(const struct symm *s, uint8_t i2r[32], uint8_t r2i[32])
{
	uint8_t t[2][HASHLEN];

	hkdf2(s->ck, NULL, 0, t[0], t[1]);
	memcpy(i2r, t[0], 32);  /* truncated to cipher keys */
	memcpy(r2i, t[1], 32);
	sodium_memzero(t, sizeof(t));
}

/* --- IK messages, shared by tincan's framing and the known-answer hook --- */

/* -> e, es, s, ss, payload. msg = e(32) || enc s(48) || enc payload(plen + 16). s_pub is the
 * 32 bytes sent as s (tincan: the Ed25519 key; plain Noise: the X25519 key of s_sk). */
static int ik_write1(struct symm *s, const uint8_t rs[32], const uint8_t s_sk[32], const uint8_t s_pub[32],
                     const uint8_t e_sk[32], const uint8_t *pl, size_t plen, uint8_t *msg)
{
	if (crypto_scalarmult_base(msg, e_sk) != 0)
		return -1;
	mix_hash(s, msg, 32);
	if (mix_dh(s, e_sk, rs) != 0)
		return -1;
	encrypt_and_hash(s, s_pub, 32, msg + 32);
	if (mix_dh(s, s_sk, rs) != 0)
		return -1;
	encrypt_and_hash(s, pl, plen, msg + 80);
	return 0;
}

/* Responder side of message 1. ed_static: s is an Ed25519 key to convert for the DH. */
static int ik_read1(struct symm *s, const uint8_t my_sk[32], const uint8_t *msg, size_t plen, int ed_static,
                    uint8_t s_pub[32], uint8_t rs[32], uint8_t re[32], uint8_t *pl)
{
	memcpy(re, msg, 32);
	mix_hash(s, re, 32);
	if (mix_dh(s, my_sk, re) != 0 || decrypt_and_hash(s, msg + 32, 32, s_pub) != 0)
		return -1;
	if (ed_static && id_pk_to_x25519(s_pub, rs) != 0)
		return -1;
	if (!ed_static)
		memcpy(rs, s_pub, 32);
	return mix_dh(s, my_sk, rs) != 0 || decrypt_and_hash(s, msg + 80, plen, pl) != 0 ? -1 : 0;
}

/* <- e, ee, se, payload. msg = e(32) || enc payload(plen + 16). */
static int ik_write2(struct symm *s, const uint8_t e_sk[32], const uint8_t re[32], const uint8_t rs[32],
                     const uint8_t *pl, size_t plen, uint8_t *msg)
{
	if (crypto_scalarmult_base(msg, e_sk) != 0)
		return -1;
	mix_hash(s, msg, 32);
	if (mix_dh(s, e_sk, re) != 0 || mix_dh(s, e_sk, rs) != 0)
		return -1;
	encrypt_and_hash(s, pl, plen, msg + 32);
	return 0;
}

static int ik_read2(struct symm *s, const uint8_t e_sk[32], const uint8_t s_sk[32], const uint8_t *msg,
                    size_t plen, uint8_t *pl)
{
	mix_hash(s, msg, 32);
	if (mix_dh(s, e_sk, msg) != 0 || mix_dh(s, s_sk, msg) != 0)
		return -1;
	return decrypt_and_hash(s, msg + 32, plen, pl);
}

/* --- mac1 / mac2 / cookies --- */

static void put_hdr(uint8_t *p, int type)
{
	p[0] = NOISE_WIRE_VERSION;
	p[1] = (uint8_t)type;
	p[2] = p[3] = 0;
}

/* BLAKE2b-256(label(8) || xpk) */
static void label_key(const char *label, const uint8_t xpk[32], uint8_t key[32])
{
	uint8_t in[40];

	memcpy(in, label, 8);
	memcpy(in + 8, xpk, 32);
	crypto_generichash(key, 32, in, sizeof(in), NULL, 0);
}

/* keyed BLAKE2b-128 */
static void mac16(uint8_t out[16], const uint8_t *key, size_t keylen, const uint8_t *p, size_t n)
{
	crypto_generichash(out, 16, p, n, key, keylen);
}

static int mac_ok(const uint8_t *key, size_t keylen, const uint8_t *p, size_t n, const uint8_t want[16])
{
	uint8_t m[16];

	mac16(m, key, keylen, p, n);
	return crypto_verify_16(m, want) == 0;
}

int noise_mac1_ok(const struct identity *me, const uint8_t *pkt, size_t len)
{
	uint8_t key[32];
	int type = noise_pkt_type(pkt, len);
	size_t off = type == NOISE_INIT ? INIT_MAC1 : RESP_MAC1;

	if (type != NOISE_INIT && type != NOISE_RESP)
		return 0;
	label_key("mac1----", me->xpk, key);
	return mac_ok(key, sizeof(key), pkt, off, pkt + off);
}

void noise_cookie_checker_init(struct noise_cookie_checker *cc, const struct identity *me)
{
	memset(cc, 0, sizeof(*cc));
	randombytes_buf(cc->secret, sizeof(cc->secret));
	cc->secret_ms = mono_ms();
	label_key("mac1----", me->xpk, cc->mac1_key);
	label_key("cookie--", me->xpk, cc->cookie_key);
}

void noise_cookie_checker_wipe(struct noise_cookie_checker *cc)
{
	sodium_memzero(cc, sizeof(*cc));
}

/* cookie = keyed BLAKE2b-128(secret, source address bytes); the secret rotates lazily. */
static void cookie_make(struct noise_cookie_checker *cc, const void *src, size_t srclen, uint8_t cookie[16])
{
	uint64_t now = mono_ms();

	if (now - cc->secret_ms >= NOISE_COOKIE_SECRET_MS) {
		randombytes_buf(cc->secret, sizeof(cc->secret));
		cc->secret_ms = now;
	}
	mac16(cookie, cc->secret, sizeof(cc->secret), src, srclen);
}

static int init_mac1_ok(const struct noise_cookie_checker *cc, const uint8_t *pkt, size_t len)
{
	return noise_pkt_type(pkt, len) == NOISE_INIT &&
	       mac_ok(cc->mac1_key, sizeof(cc->mac1_key), pkt, INIT_MAC1, pkt + INIT_MAC1);
}

int noise_mac2_ok(struct noise_cookie_checker *cc, const uint8_t *pkt, size_t len,
                  const void *src, size_t srclen)
{
	uint8_t cookie[16];
	int ok;

	if (!init_mac1_ok(cc, pkt, len))
		return 0;
	cookie_make(cc, src, srclen, cookie);
	ok = mac_ok(cookie, sizeof(cookie), pkt, INIT_MAC2, pkt + INIT_MAC2);
	sodium_memzero(cookie, sizeof(cookie));
	return ok;
}

int noise_cookie_reply(struct noise_cookie_checker *cc, const uint8_t *pkt, size_t len,
                       const void *src, size_t srclen, uint8_t out[NOISE_COOKIE_LEN])
{
	uint8_t cookie[16];

	if (!init_mac1_ok(cc, pkt, len))
		return -1;
	cookie_make(cc, src, srclen, cookie);
	put_hdr(out, NOISE_COOKIE);
	memcpy(out + COOKIE_RECEIVER, pkt + INIT_SENDER, 4);
	randombytes_buf(out + COOKIE_NONCE, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + COOKIE_BOX, NULL, cookie, sizeof(cookie),
	                                           pkt + INIT_MAC1, 16, NULL, out + COOKIE_NONCE,
	                                           cc->cookie_key);
	sodium_memzero(cookie, sizeof(cookie));
	return NOISE_COOKIE_LEN;
}

int noise_cookie_consume(const struct noise_hs *hs, const uint8_t *pkt, size_t len, uint8_t cookie16[16])
{
	uint8_t key[32];

	if (hs == NULL || hs->state != HS_INIT_SENT || noise_pkt_type(pkt, len) != NOISE_COOKIE ||
	    get_u32(pkt + COOKIE_RECEIVER) != hs->local_idx)
		return -1;
	label_key("cookie--", hs->rs, key);
	/* libsodium returns 0, or -1 when the box does not open */
	return crypto_aead_xchacha20poly1305_ietf_decrypt(cookie16, NULL, NULL, pkt + COOKIE_BOX, 32,
	                                                  hs->sent_mac1, 16, pkt + COOKIE_NONCE, key);
}

/* --- handshake state and keypairs --- */

/* Guarded, zeroed memory for secrets (sodium_free wipes it). */
static void *secret_alloc(size_t n)
{
	void *p = sodium_init() < 0 ? NULL : sodium_malloc(n);

	return p != NULL ? memset(p, 0, n) : NULL;
}

struct noise_hs *noise_hs_new(void)
{
	return secret_alloc(sizeof(struct noise_hs));
}

void noise_hs_clear(struct noise_hs *hs)
{
	if (hs != NULL)
		sodium_memzero(hs, sizeof(*hs));
}

void noise_hs_free(struct noise_hs *hs)
{
	sodium_free(hs);  /* wipes */
}

uint32_t noise_hs_local_idx(const struct noise_hs *hs)
{
	return hs != NULL && hs->state == HS_INIT_SENT ? hs->local_idx : 0;
}

struct noise_keypair *noise_kp_new(void)
{
	return secret_alloc(sizeof(struct noise_keypair));
}

void noise_kp_free(struct noise_keypair *kp)
{
	sodium_free(kp);  /* wipes */
}

static void kp_fill(struct noise_keypair *kp, const struct symm *s, int initiator,
                    uint32_t local_idx, uint32_t remote_idx)
{
	memset(kp, 0, sizeof(*kp));
	split(s, initiator ? kp->send_key : kp->recv_key, initiator ? kp->recv_key : kp->send_key);
	kp->local_idx = local_idx;
	kp->remote_idx = remote_idx;
	kp->created_ms = mono_ms();
	kp->initiator = initiator;
}

static void now_ts(uint8_t ts[NOISE_TS_LEN])
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	put_u64(ts, (uint64_t)t.tv_sec);
	put_u32(ts + 8, (uint32_t)t.tv_nsec);
}

int noise_ts_cmp(const uint8_t a[NOISE_TS_LEN], const uint8_t b[NOISE_TS_LEN])
{
	return memcmp(a, b, NOISE_TS_LEN);
}

/* noise_init_create with the ephemeral secret and timestamp given (noise_init_create draws them). */
int noise_init_create_det(struct noise_hs *hs, const struct identity *me, const uint8_t peer_pk[32],
                          uint32_t sender_idx, const uint8_t *cookie16, const uint8_t e_sk[32],
                          const uint8_t ts[NOISE_TS_LEN], uint8_t out[NOISE_INIT_LEN])
{
	struct symm s;
	uint8_t rs[32], key[32];
	int rc = -1;

	if (hs == NULL || me == NULL || me->xsk == NULL || sender_idx == 0)
		return -1;
	noise_hs_clear(hs);
	if (id_pk_to_x25519(peer_pk, rs) != 0)
		return -1;
	put_hdr(out, NOISE_INIT);
	put_u32(out + INIT_SENDER, sender_idx);
	symm_init(&s, (const uint8_t *)tincan_prologue, sizeof(tincan_prologue) - 1, rs);
	if (ik_write1(&s, rs, me->xsk, me->pk, e_sk, ts, NOISE_TS_LEN, out + INIT_MSG) != 0)
		goto out;
	label_key("mac1----", rs, key);
	mac16(out + INIT_MAC1, key, sizeof(key), out, INIT_MAC1);
	memset(out + INIT_MAC2, 0, 16);
	if (cookie16 != NULL)
		mac16(out + INIT_MAC2, cookie16, 16, out, INIT_MAC2);

	hs->state = HS_INIT_SENT;
	hs->local_idx = sender_idx;
	hs->ss = s;
	memcpy(hs->e_sk, e_sk, 32);
	memcpy(hs->s_sk, me->xsk, 32);
	memcpy(hs->rs, rs, 32);
	label_key("mac1----", me->xpk, hs->my_mac1_key);
	memcpy(hs->sent_mac1, out + INIT_MAC1, 16);
	rc = 0;
out:
	sodium_memzero(&s, sizeof(s));
	if (rc != 0)
		memset(out, 0, NOISE_INIT_LEN);
	return rc;
}

int noise_init_create(struct noise_hs *hs, const struct identity *me, const uint8_t peer_pk[32],
                      uint32_t sender_idx, const uint8_t *cookie16, uint8_t out[NOISE_INIT_LEN])
{
	uint8_t e_sk[32], ts[NOISE_TS_LEN];
	int rc;

	randombytes_buf(e_sk, sizeof(e_sk));
	now_ts(ts);
	rc = noise_init_create_det(hs, me, peer_pk, sender_idx, cookie16, e_sk, ts, out);
	sodium_memzero(e_sk, sizeof(e_sk));
	return rc;
}

int noise_init_consume(struct noise_hs *hs, const struct identity *me, const uint8_t *pkt, size_t len,
                       uint8_t peer_pk[32], uint8_t ts[NOISE_TS_LEN])
{
	struct symm s;
	uint8_t s_pub[32], rs[32], re[32], t[NOISE_TS_LEN];
	int rc = -1;

	if (hs == NULL || me == NULL || me->xsk == NULL)
		return -1;
	noise_hs_clear(hs);
	if (!noise_mac1_ok(me, pkt, len) || noise_pkt_type(pkt, len) != NOISE_INIT ||
	    get_u32(pkt + INIT_SENDER) == 0)
		return -1;
	symm_init(&s, (const uint8_t *)tincan_prologue, sizeof(tincan_prologue) - 1, me->xpk);
	if (ik_read1(&s, me->xsk, pkt + INIT_MSG, sizeof(t), 1, s_pub, rs, re, t) != 0)
		goto out;
	hs->state = HS_INIT_RECEIVED;
	hs->remote_idx = get_u32(pkt + INIT_SENDER);
	hs->ss = s;
	memcpy(hs->rs, rs, 32);
	memcpy(hs->re, re, 32);
	memcpy(peer_pk, s_pub, 32);
	memcpy(ts, t, sizeof(t));
	rc = 0;
out:
	sodium_memzero(&s, sizeof(s));
	return rc;
}

int noise_resp_create(struct noise_hs *hs, uint32_t sender_idx, uint8_t out[NOISE_RESP_LEN],
                      struct noise_keypair *kp)
{
	uint8_t e_sk[32], key[32];
	int rc = -1;

	if (hs == NULL || hs->state != HS_INIT_RECEIVED || sender_idx == 0 || kp == NULL)
		return -1;
	randombytes_buf(e_sk, sizeof(e_sk));
	put_hdr(out, NOISE_RESP);
	put_u32(out + RESP_SENDER, sender_idx);
	put_u32(out + RESP_RECEIVER, hs->remote_idx);
	if (ik_write2(&hs->ss, e_sk, hs->re, hs->rs, NULL, 0, out + RESP_MSG) != 0)
		goto out;
	label_key("mac1----", hs->rs, key);
	mac16(out + RESP_MAC1, key, sizeof(key), out, RESP_MAC1);
	memset(out + RESP_MAC2, 0, 16);
	kp_fill(kp, &hs->ss, 0, sender_idx, hs->remote_idx);
	rc = 0;
out:
	sodium_memzero(e_sk, sizeof(e_sk));
	noise_hs_clear(hs);
	return rc;
}

int noise_resp_consume(struct noise_hs *hs, const uint8_t *pkt, size_t len, struct noise_keypair *kp)
{
	struct symm s;
	int rc = -1;

	if (hs == NULL || kp == NULL || hs->state != HS_INIT_SENT ||
	    noise_pkt_type(pkt, len) != NOISE_RESP || get_u32(pkt + RESP_SENDER) == 0 ||
	    get_u32(pkt + RESP_RECEIVER) != hs->local_idx ||
	    !mac_ok(hs->my_mac1_key, 32, pkt, RESP_MAC1, pkt + RESP_MAC1))
		return -1;
	/* Work on a copy: a forged RESP must leave the handshake intact. */
	s = hs->ss;
	if (ik_read2(&s, hs->e_sk, hs->s_sk, pkt + RESP_MSG, 0, NULL) != 0)
		goto out;
	kp_fill(kp, &s, 1, hs->local_idx, get_u32(pkt + RESP_SENDER));
	noise_hs_clear(hs);
	rc = 0;
out:
	sodium_memzero(&s, sizeof(s));
	return rc;
}

/* --- transport --- */

static int replay_ok(const struct replay_window *rw, uint64_t ctr)
{
	if (ctr >= REJECT_AFTER_MSGS)
		return 0;
	if (ctr >= rw->next)
		return 1;
	if (rw->next - 1 - ctr >= REPLAY_WINDOW)
		return 0;
	return !((rw->bitmap[(ctr >> 6) & (REPLAY_WORDS - 1)] >> (ctr & 63)) & 1);
}

static void replay_mark(struct replay_window *rw, uint64_t ctr)
{
	uint64_t cur, d, i;

	if (ctr >= rw->next) {
		if (rw->next > 0) {
			/* clear the words between the old top and the new one */
			cur = (rw->next - 1) >> 6;
			d = (ctr >> 6) - cur;
			if (d > REPLAY_WORDS)
				d = REPLAY_WORDS;
			for (i = 1; i <= d; i++)
				rw->bitmap[(cur + i) & (REPLAY_WORDS - 1)] = 0;
		}
		rw->next = ctr + 1;
	}
	rw->bitmap[(ctr >> 6) & (REPLAY_WORDS - 1)] |= 1ULL << (ctr & 63);
}

static int kp_expired(const struct noise_keypair *kp)
{
	return mono_ms() - kp->created_ms >= REJECT_AFTER_MS;
}

int noise_encrypt(struct noise_keypair *kp, const uint8_t *pt, size_t n, uint8_t *out, size_t cap)
{
	uint8_t nonce[12], dummy = 0;
	uint64_t ctr;

	if (kp == NULL || out == NULL || (pt == NULL && n > 0) || n > NOISE_MAX_PLAINTEXT ||
	    cap < n + NOISE_DATA_OVERHEAD || kp->send_ctr >= REJECT_AFTER_MSGS || kp_expired(kp))
		return -1;
	ctr = kp->send_ctr++;
	put_hdr(out, NOISE_DATA);
	put_u32(out + DATA_RECEIVER, kp->remote_idx);
	put_u64(out + DATA_COUNTER, ctr);
	make_nonce(nonce, ctr);
	crypto_aead_chacha20poly1305_ietf_encrypt(out + DATA_BODY, NULL, n ? pt : &dummy, n, out, DATA_BODY,
	                                          NULL, nonce, kp->send_key);
	return (int)(n + NOISE_DATA_OVERHEAD);
}

int noise_decrypt(struct noise_keypair *kp, const uint8_t *pkt, size_t len, uint8_t *pt, size_t cap)
{
	uint8_t nonce[12], dummy;
	uint64_t ctr;
	size_t n;

	if (kp == NULL || noise_pkt_type(pkt, len) != NOISE_DATA ||
	    get_u32(pkt + DATA_RECEIVER) != kp->local_idx || kp_expired(kp))
		return -1;
	n = len - NOISE_DATA_OVERHEAD;
	ctr = get_u64(pkt + DATA_COUNTER);
	if (cap < n || (pt == NULL && n > 0) || !replay_ok(&kp->rw, ctr))
		return -1;
	make_nonce(nonce, ctr);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(n ? pt : &dummy, NULL, NULL, pkt + DATA_BODY,
	                                              len - DATA_BODY, pkt, DATA_BODY, nonce,
	                                              kp->recv_key) != 0)
		return -1;
	replay_mark(&kp->rw, ctr);
	return (int)n;
}

int noise_pkt_type(const uint8_t *pkt, size_t len)
{
	static const size_t exact[] = { 0, NOISE_INIT_LEN, NOISE_RESP_LEN, NOISE_COOKIE_LEN };

	if (pkt == NULL || len < 4 || pkt[0] != NOISE_WIRE_VERSION || pkt[2] != 0 || pkt[3] != 0)
		return -1;
	if (pkt[1] == NOISE_DATA)
		return len >= NOISE_DATA_OVERHEAD && len <= NOISE_MAX_PACKET ? NOISE_DATA : -1;
	if (pkt[1] >= NOISE_INIT && pkt[1] <= NOISE_COOKIE && len == exact[pkt[1]])
		return pkt[1];
	return -1;
}

uint32_t noise_pkt_receiver_idx(const uint8_t *pkt, size_t len)
{
	int type = noise_pkt_type(pkt, len);

	_Static_assert(COOKIE_RECEIVER == DATA_RECEIVER, "same offset");
	if (type == NOISE_RESP)
		return get_u32(pkt + RESP_RECEIVER);
	return type == NOISE_COOKIE || type == NOISE_DATA ? get_u32(pkt + DATA_RECEIVER) : 0;
}

/* --- known-answer hook --- */

int noise_ik_kat(struct noise_ik_kat *v)
{
	struct symm si, sr;
	uint8_t ipub[32], rpub[32], s_pub[32], rs[32], re[32], pl[NOISE_KAT_MAXPAYLOAD];
	uint8_t k[4][32];  /* initiator's i2r, r2i; responder's i2r, r2i */
	int rc = -1;

	if (v->payload1_len > NOISE_KAT_MAXPAYLOAD || v->payload2_len > NOISE_KAT_MAXPAYLOAD ||
	    crypto_scalarmult_base(ipub, v->init_static) != 0 ||
	    crypto_scalarmult_base(rpub, v->resp_static) != 0)
		return -1;
	symm_init(&si, v->prologue, v->prologue_len, rpub);
	sr = si;
	if (ik_write1(&si, rpub, v->init_static, ipub, v->init_ephemeral, v->payload1, v->payload1_len,
	              v->msg1) != 0)
		goto out;
	v->msg1_len = 96 + v->payload1_len;
	if (ik_read1(&sr, v->resp_static, v->msg1, v->payload1_len, 0, s_pub, rs, re, pl) != 0 ||
	    memcmp(s_pub, ipub, 32) != 0 || memcmp(pl, v->payload1, v->payload1_len) != 0)
		goto out;
	if (ik_write2(&sr, v->resp_ephemeral, re, rs, v->payload2, v->payload2_len, v->msg2) != 0)
		goto out;
	v->msg2_len = 48 + v->payload2_len;
	if (ik_read2(&si, v->init_ephemeral, v->init_static, v->msg2, v->payload2_len, pl) != 0 ||
	    memcmp(pl, v->payload2, v->payload2_len) != 0 || memcmp(si.h, sr.h, HASHLEN) != 0)
		goto out;
	split(&si, k[0], k[1]);
	split(&sr, k[2], k[3]);
	if (memcmp(k[0], k[2], 32) != 0 || memcmp(k[1], k[3], 32) != 0)
		goto out;
	memcpy(v->hash, si.h, HASHLEN);
	memcpy(v->i2r, k[0], 32);
	memcpy(v->r2i, k[1], 32);
	rc = 0;
out:
	sodium_memzero(&si, sizeof(si));
	sodium_memzero(&sr, sizeof(sr));
	sodium_memzero(k, sizeof(k));
	return rc;
}
