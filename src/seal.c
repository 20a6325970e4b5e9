/* seal.c: sealing and opening offline mail (X3DH-style), and the recipient's prekey store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "seal.h"
#include "store.h"
#include "util.h"

enum { HASHLEN = 64, BLOCKLEN = 128, NONCE_LEN = 24, IKM_MAX = 32 + 4 * 32 };

static const char spk_label[] = "tincan-spk";
static const char mail_info[] = "tincan-mail-v1";

/* --- HMAC-BLAKE2b-512 (RFC 2104, block 128) and HKDF (RFC 5869) --- */

static void hmac_b2b(uint8_t out[HASHLEN], const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len)
{
	uint8_t k[BLOCKLEN], pad[BLOCKLEN], inner[HASHLEN];
	crypto_generichash_blake2b_state st;
	memset(k, 0, sizeof(k));
	if (keylen > BLOCKLEN)
		crypto_generichash_blake2b(k, HASHLEN, key, keylen, NULL, 0);
	else if (keylen)
		memcpy(k, key, keylen);
	for (int i = 0; i < BLOCKLEN; i++)
		pad[i] = k[i] ^ 0x36;
	crypto_generichash_blake2b_init(&st, NULL, 0, HASHLEN);
	crypto_generichash_blake2b_update(&st, pad, BLOCKLEN);
	crypto_generichash_blake2b_update(&st, msg, len);
	crypto_generichash_blake2b_final(&st, inner, HASHLEN);
	for (int i = 0; i < BLOCKLEN; i++)
		pad[i] = k[i] ^ 0x5c;
	crypto_generichash_blake2b_init(&st, NULL, 0, HASHLEN);
	crypto_generichash_blake2b_update(&st, pad, BLOCKLEN);
	crypto_generichash_blake2b_update(&st, inner, HASHLEN);
	crypto_generichash_blake2b_final(&st, out, HASHLEN);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

/* SK = first 32 bytes of T(1) = HMAC(PRK, info || 0x01), PRK = HMAC(32 zero bytes, ikm). */
static void mail_kdf(uint8_t sk[32], const uint8_t *ikm, size_t ikmlen)
{
	uint8_t salt[32] = { 0 }, prk[HASHLEN], t[HASHLEN], info[sizeof(mail_info)];
	hmac_b2b(prk, salt, sizeof(salt), ikm, ikmlen);
	memcpy(info, mail_info, sizeof(mail_info) - 1);
	info[sizeof(mail_info) - 1] = 0x01;
	hmac_b2b(t, prk, sizeof(prk), info, sizeof(info));
	memcpy(sk, t, 32);
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t, sizeof(t));
}

/* --- signed prekey --- */

static void spk_msg(uint8_t m[SEAL_SPK_MSG_LEN], uint32_t id, const uint8_t spk[32])
{
	memcpy(m, spk_label, 10);
	put_u32(m + 10, id);
	memcpy(m + 14, spk, 32);
}

int seal_spk_sign(const struct identity *me, uint32_t spk_id, const uint8_t spk[32], uint8_t sig[64])
{
	uint8_t m[SEAL_SPK_MSG_LEN];
	spk_msg(m, spk_id, spk);
	return identity_sign(me, m, sizeof(m), sig);
}

static int all_zero(const uint8_t *p, size_t n)
{
	return sodium_is_zero(p, n);
}

int seal_bundle_verify(const uint8_t owner_pk[32], const struct seal_bundle *b)
{
	uint8_t m[SEAL_SPK_MSG_LEN], x[32];
	if (b->spk_id == 0 || all_zero(b->spk, 32) || (b->opk_id && all_zero(b->opk, 32)))
		return -1;
	if (id_pk_to_x25519(owner_pk, x) < 0)
		return -1;
	spk_msg(m, b->spk_id, b->spk);
	return identity_verify(owner_pk, m, sizeof(m), b->sig);
}

/* --- sealing and opening --- */

/* DH into ikm at *off; -1 for a degenerate (all-zero) result. */
static int dh(uint8_t *ikm, size_t *off, const uint8_t sk[32], const uint8_t pk[32])
{
	if (crypto_scalarmult(ikm + *off, sk, pk) != 0)
		return -1;
	*off += 32;
	return 0;
}

static void make_ad(uint8_t ad[64 + SEAL_HEAD_LEN], const uint8_t from[32], const uint8_t to[32],
		    const uint8_t *head)
{
	memcpy(ad, from, 32);
	memcpy(ad + 32, to, 32);
	memcpy(ad + 64, head, SEAL_HEAD_LEN);
}

int seal_mail(const struct identity *me, const uint8_t to_pk[32], const struct seal_bundle *b,
	      uint64_t seq, uint64_t ts, const struct seal_stream *st, const char *text, size_t len,
	      uint8_t *out, size_t cap)
{
	uint8_t esk[32], ikm[IKM_MAX], sk[32], ik_b[32], ad[64 + SEAL_HEAD_LEN];
	uint8_t *pt = NULL;
	size_t off = 32, head = SEAL_PAYLOAD_HEAD + (st ? SEAL_STREAM_LEN : 0), ptlen = head + len;
	size_t over = SEAL_HEAD_LEN + SEAL_TAG_LEN + head;
	int rc = -1;
	if (len > SEAL_MAX - over || cap < over + len || b->spk_id == 0)
		return -1;
	if (id_pk_to_x25519(to_pk, ik_b) < 0)
		return -1;
	pt = sodium_malloc(ptlen);
	if (!pt)
		return -1;
	/* header */
	out[0] = st ? SEAL_VERSION : SEAL_V1;
	memcpy(out + 1, me->pk, 32);
	crypto_box_keypair(out + 33, esk);
	put_u32(out + 65, b->spk_id);
	put_u32(out + 69, b->opk_id);
	randombytes_buf(out + 73, NONCE_LEN);
	memset(ikm, 0xff, 32);
	if (dh(ikm, &off, me->xsk, b->spk) < 0 || dh(ikm, &off, esk, ik_b) < 0 ||
	    dh(ikm, &off, esk, b->spk) < 0 || (b->opk_id && dh(ikm, &off, esk, b->opk) < 0))
		goto out;
	mail_kdf(sk, ikm, off);
	put_u64(pt, seq);
	put_u64(pt + 8, ts);
	if (st) {
		put_u64(pt + SEAL_PAYLOAD_HEAD, st->sid);
		put_u64(pt + SEAL_PAYLOAD_HEAD + 8, st->first);
	}
	if (len)
		memcpy(pt + head, text, len);
	make_ad(ad, me->pk, to_pk, out);
	unsigned long long clen;
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEAL_HEAD_LEN, &clen, pt, ptlen, ad, sizeof(ad),
						   NULL, out + 73, sk);
	rc = (int)(SEAL_HEAD_LEN + clen);
out:
	sodium_memzero(esk, sizeof(esk));
	sodium_memzero(ikm, sizeof(ikm));
	sodium_memzero(sk, sizeof(sk));
	sodium_free(pt);
	return rc;
}

/* Bytes of plaintext before the text, by version; 0 for a version we do not know. */
static size_t payload_head(int version)
{
	return version == SEAL_VERSION ? SEAL_PAYLOAD_HEAD + SEAL_STREAM_LEN :
	       version == SEAL_V1 ? SEAL_PAYLOAD_HEAD : 0;
}

int seal_payload_parse(int version, const uint8_t *pt, size_t len, struct seal_msg *m)
{
	size_t head = payload_head(version);
	if (!head || len < head || len > SEAL_MAX - SEAL_HEAD_LEN - SEAL_TAG_LEN)
		return SEAL_EFORMAT;	/* the second: more than a blob holds */
	m->seq = get_u64(pt);
	m->ts = get_u64(pt + 8);
	m->has_stream = version == SEAL_VERSION;
	m->st.sid = m->has_stream ? get_u64(pt + SEAL_PAYLOAD_HEAD) : 0;
	m->st.first = m->has_stream ? get_u64(pt + SEAL_PAYLOAD_HEAD + 8) : 0;
	m->len = len - head;
	if (m->len)
		memcpy(m->text, pt + head, m->len);
	m->text[m->len] = '\0';
	return 0;
}

int seal_peek(const uint8_t *blob, size_t len, uint8_t from[32], uint32_t *spk_id, uint32_t *opk_id)
{
	size_t head = len ? payload_head(blob[0]) : 0;
	if (!head || len < SEAL_HEAD_LEN + SEAL_TAG_LEN + head || len > SEAL_MAX)
		return SEAL_EFORMAT;
	if (from)
		memcpy(from, blob + 1, 32);
	*spk_id = get_u32(blob + 65);
	*opk_id = get_u32(blob + 69);
	return *spk_id ? 0 : SEAL_EFORMAT;
}

int seal_open_with(const struct identity *me, const uint8_t spk_sk[32], const uint8_t *opk_sk,
		   const uint8_t *blob, size_t len, struct seal_msg *m)
{
	uint8_t ikm[IKM_MAX], sk[32], ik_a[32], ad[64 + SEAL_HEAD_LEN];
	uint8_t *pt = NULL;
	size_t off = 32;
	int rc = SEAL_EFORMAT;
	if (seal_peek(blob, len, m->from, &m->spk_id, &m->opk_id) < 0)
		return SEAL_EFORMAT;
	if ((m->opk_id != 0) != (opk_sk != NULL))
		return SEAL_ENOKEY;
	if (id_pk_to_x25519(m->from, ik_a) < 0)
		return SEAL_EFORMAT;
	const uint8_t *e = blob + 33;
	memset(ikm, 0xff, 32);
	if (dh(ikm, &off, spk_sk, ik_a) < 0 || dh(ikm, &off, me->xsk, e) < 0 ||
	    dh(ikm, &off, spk_sk, e) < 0 || (opk_sk && dh(ikm, &off, opk_sk, e) < 0))
		goto out;
	mail_kdf(sk, ikm, off);
	size_t clen = len - SEAL_HEAD_LEN;
	pt = sodium_malloc(clen);
	if (!pt)
		goto out;
	make_ad(ad, m->from, me->pk, blob);
	unsigned long long ptlen;
	rc = SEAL_EAUTH;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &ptlen, NULL, blob + SEAL_HEAD_LEN, clen, ad,
						       sizeof(ad), blob + 73, sk) != 0)
		goto out;
	rc = seal_payload_parse(blob[0], pt, (size_t)ptlen, m);
out:
	sodium_memzero(ikm, sizeof(ikm));
	sodium_memzero(sk, sizeof(sk));
	if (pt)
		sodium_free(pt);
	return rc;
}

/* --- prekey store --- */

enum opk_state { OPK_NEW, OPK_PUBLISHED, OPK_USED };

struct spk_slot {
	uint32_t id;
	uint64_t created_ms;
	uint8_t sk[32];
};

struct opk_slot {
	uint32_t id;
	uint8_t state;
	uint64_t used_ms;
	uint8_t sk[32];
};

struct seal_keys {
	char path[600];
	uint32_t next_spk, next_opk;
	int nspk, nopk;
	int dirty;
	struct spk_slot spk[SEAL_KEEP_SPK];	/* newest first */
	struct opk_slot opk[SEAL_MAX_OPK];	/* oldest first */
};

static const char file_magic[] = "tincan-prekeys-v1";

/* Parse one unsigned decimal field, 0 or -1. */
static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	if (!*s || strlen(s) > 20)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (x > max)
		return -1;
	*v = x;
	return 0;
}

static int parse_hex32(const char *s, uint8_t out[32])
{
	size_t n = 0;
	if (strlen(s) != 64)
		return -1;
	if (sodium_hex2bin(out, 32, s, 64, NULL, &n, NULL) != 0 || n != 32)
		return -1;
	return 0;
}

/* Split line into at most 5 space-separated fields. */
static int split(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;
	while (*p && n < max) {
		f[n++] = p;
		char *sp = strchr(p, ' ');
		if (!sp)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	return n;
}

static int parse_line(struct seal_keys *k, char *line)
{
	char *f[5];
	int n = split(line, f, 5);
	uint64_t a, b, c;
	if (n == 2 && strcmp(f[0], "next-spk") == 0 && parse_u64(f[1], UINT32_MAX, &a) == 0) {
		k->next_spk = (uint32_t)a;
		return 0;
	}
	if (n == 2 && strcmp(f[0], "next-opk") == 0 && parse_u64(f[1], UINT32_MAX, &a) == 0) {
		k->next_opk = (uint32_t)a;
		return 0;
	}
	if (n == 4 && strcmp(f[0], "spk") == 0 && k->nspk < SEAL_KEEP_SPK &&
	    parse_u64(f[1], UINT32_MAX, &a) == 0 && a != 0 && parse_u64(f[2], UINT64_MAX, &b) == 0) {
		struct spk_slot *s = &k->spk[k->nspk];
		if (parse_hex32(f[3], s->sk) < 0)
			return -1;
		s->id = (uint32_t)a;
		s->created_ms = b;
		k->nspk++;
		return 0;
	}
	if (n == 5 && strcmp(f[0], "opk") == 0 && k->nopk < SEAL_MAX_OPK &&
	    parse_u64(f[1], UINT32_MAX, &a) == 0 && a != 0 && parse_u64(f[2], OPK_USED, &b) == 0 &&
	    parse_u64(f[3], UINT64_MAX, &c) == 0) {
		struct opk_slot *o = &k->opk[k->nopk];
		if (parse_hex32(f[4], o->sk) < 0)
			return -1;
		o->id = (uint32_t)a;
		o->state = (uint8_t)b;
		o->used_ms = c;
		k->nopk++;
		return 0;
	}
	return -1;
}

static int parse_file(struct seal_keys *k, char *buf, size_t len)
{
	size_t i = 0;
	int first = 1;
	while (i < len) {
		char *line = buf + i, *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		line[n] = '\0';
		i += n + 1;
		if (strlen(line) != n)
			return -1;	/* a NUL inside */
		if (first) {
			if (strcmp(line, file_magic) != 0)
				return -1;
			first = 0;
			continue;
		}
		if (n == 0 || line[0] == '#')
			continue;
		if (parse_line(k, line) < 0)
			return -1;
	}
	if (first)
		return -1;
	/* ids issued later must not collide with the ones we hold */
	for (int j = 0; j < k->nspk; j++)
		if (k->spk[j].id >= k->next_spk)
			k->next_spk = k->spk[j].id + 1;
	for (int j = 0; j < k->nopk; j++)
		if (k->opk[j].id >= k->next_opk)
			k->next_opk = k->opk[j].id + 1;
	return 0;
}

struct seal_keys *seal_keys_load(const char *path, char *err, size_t errlen)
{
	struct seal_keys *k = sodium_malloc(sizeof(*k));
	char *buf = NULL;
	size_t len;
	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memset(k, 0, sizeof(*k));
	k->next_spk = k->next_opk = 1;
	if (strlen(path) >= sizeof(k->path)) {
		snprintf(err, errlen, "path too long");
		goto fail;
	}
	str_copy(k->path, path, sizeof(k->path));
	if (store_read_file(path, &buf, &len, 256u << 10) < 0) {
		if (errno == ENOENT)
			return k;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	int rc = parse_file(k, buf, len);
	sodium_memzero(buf, len);
	free(buf);
	if (rc < 0) {
		snprintf(err, errlen, "%s: not a prekey file, or damaged", path);
		goto fail;
	}
	return k;
fail:
	sodium_free(k);
	return NULL;
}

int seal_keys_save(struct seal_keys *k)
{
	if (!k->dirty)
		return 0;
	size_t cap = 128 + (size_t)(k->nspk + k->nopk) * 128;
	char *buf = sodium_malloc(cap), hex[65];
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	size_t n = (size_t)snprintf(buf, cap, "%s\nnext-spk %u\nnext-opk %u\n", file_magic, k->next_spk,
				    k->next_opk);
	for (int i = 0; i < k->nspk; i++) {
		sodium_bin2hex(hex, sizeof(hex), k->spk[i].sk, 32);
		n += (size_t)snprintf(buf + n, cap - n, "spk %u %llu %s\n", k->spk[i].id,
				      (unsigned long long)k->spk[i].created_ms, hex);
	}
	for (int i = 0; i < k->nopk; i++) {
		sodium_bin2hex(hex, sizeof(hex), k->opk[i].sk, 32);
		n += (size_t)snprintf(buf + n, cap - n, "opk %u %u %llu %s\n", k->opk[i].id, k->opk[i].state,
				      (unsigned long long)k->opk[i].used_ms, hex);
	}
	sodium_memzero(hex, sizeof(hex));
	int rc = store_write_atomic(k->path, buf, n, 0600);
	int saved = errno;
	sodium_free(buf);
	if (rc == 0)
		k->dirty = 0;
	errno = saved;
	return rc;
}

void seal_keys_free(struct seal_keys *k)
{
	if (k)
		sodium_free(k);
}

int seal_keys_opk_count(const struct seal_keys *k)
{
	int n = 0;
	for (int i = 0; i < k->nopk; i++)
		n += k->opk[i].state == OPK_PUBLISHED;
	return n;
}

static void drop_opk(struct seal_keys *k, int i)
{
	memmove(&k->opk[i], &k->opk[i + 1], (size_t)(k->nopk - i - 1) * sizeof(k->opk[0]));
	k->nopk--;
	sodium_memzero(&k->opk[k->nopk], sizeof(k->opk[0]));
	k->dirty = 1;
}

static int new_spk(struct seal_keys *k, uint64_t now_ms)
{
	if (k->next_spk == 0 || k->next_spk == UINT32_MAX)
		return -1;
	if (k->nspk == SEAL_KEEP_SPK)
		k->nspk--;
	memmove(&k->spk[1], &k->spk[0], (size_t)k->nspk * sizeof(k->spk[0]));
	struct spk_slot *s = &k->spk[0];
	s->id = k->next_spk++;
	s->created_ms = now_ms;
	randombytes_buf(s->sk, 32);
	k->nspk++;
	k->dirty = 1;
	return 0;
}

static int new_opk(struct seal_keys *k)
{
	if (k->next_opk == 0 || k->next_opk == UINT32_MAX)
		return -1;
	if (k->nopk == SEAL_MAX_OPK)
		drop_opk(k, 0);
	struct opk_slot *o = &k->opk[k->nopk++];
	o->id = k->next_opk++;
	o->state = OPK_NEW;
	o->used_ms = 0;
	randombytes_buf(o->sk, 32);
	k->dirty = 1;
	return 0;
}

int seal_keys_publish(struct seal_keys *k, const struct identity *me, uint64_t now_ms, int force,
		      struct seal_publish *p)
{
	int due = force;
	if (k->nspk == 0 || now_ms - k->spk[0].created_ms > SEAL_SPK_ROTATE_MS ||
	    k->spk[0].created_ms > now_ms + SEAL_SPK_ROTATE_MS) {
		if (new_spk(k, now_ms) < 0)
			return -1;
		due = 1;
	}
	int have = 0;
	for (int i = 0; i < k->nopk; i++)
		have += k->opk[i].state != OPK_USED;
	if (seal_keys_opk_count(k) < SEAL_OPK_LOW)
		for (; have < SEAL_OPK_TARGET; have++)
			if (new_opk(k) < 0)
				return -1;
	memset(p, 0, sizeof(*p));
	p->spk_id = k->spk[0].id;
	crypto_scalarmult_base(p->spk, k->spk[0].sk);
	if (seal_spk_sign(me, p->spk_id, p->spk, p->sig) < 0)
		return -1;
	for (int i = 0; i < k->nopk && p->n < SEAL_OPK_BATCH; i++) {
		if (k->opk[i].state != OPK_NEW)
			continue;
		p->opk_id[p->n] = k->opk[i].id;
		crypto_scalarmult_base(p->opk[p->n], k->opk[i].sk);
		p->n++;
	}
	return due || p->n > 0;
}

void seal_keys_published(struct seal_keys *k, const struct seal_publish *p)
{
	for (int j = 0; j < p->n; j++) {
		for (int i = 0; i < k->nopk; i++) {
			if (k->opk[i].id == p->opk_id[j] && k->opk[i].state == OPK_NEW) {
				k->opk[i].state = OPK_PUBLISHED;
				k->dirty = 1;
			}
		}
	}
}

int seal_keys_open(struct seal_keys *k, const struct identity *me, uint64_t now_ms,
		   const uint8_t *blob, size_t len, struct seal_msg *m)
{
	uint32_t spk_id, opk_id;
	if (seal_peek(blob, len, NULL, &spk_id, &opk_id) < 0)
		return SEAL_EFORMAT;
	struct spk_slot *s = NULL;
	struct opk_slot *o = NULL;
	for (int i = 0; i < k->nspk; i++)
		if (k->spk[i].id == spk_id)
			s = &k->spk[i];
	for (int i = 0; opk_id && i < k->nopk; i++)
		if (k->opk[i].id == opk_id)
			o = &k->opk[i];
	if (!s || (opk_id && !o))
		return SEAL_ENOKEY;
	int rc = seal_open_with(me, s->sk, o ? o->sk : NULL, blob, len, m);
	if (rc == 0 && o) {
		o->state = OPK_USED;
		o->used_ms = now_ms;
		k->dirty = 1;
	}
	return rc;
}

int seal_keys_expire(struct seal_keys *k, uint64_t now_ms)
{
	int n = 0;
	for (int i = 0; i < k->nopk;) {
		struct opk_slot *o = &k->opk[i];
		if (o->state == OPK_USED && (now_ms - o->used_ms > SEAL_OPK_GRACE_MS || o->used_ms > now_ms)) {
			drop_opk(k, i);
			n++;
		} else {
			i++;
		}
	}
	return n;
}
