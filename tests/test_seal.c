/* test_seal.c: sealed mail: spec conformance of the KDF, round trips, forgeries, the prekey store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "seal.h"
#include "util.h"

/* a sender's stream: the id, the first seq it still holds */
static const struct seal_stream ST = { .sid = 0x1122334455667788ULL, .first = 3 };

/* An independent HMAC-BLAKE2b-512 / HKDF, checked against Python's hmac + hashlib.blake2b. */
static void t_hmac(uint8_t out[64], const uint8_t *key, size_t klen, const uint8_t *m, size_t n)
{
	uint8_t k[128] = { 0 }, ip[128 + 512], op[128 + 64];
	if (klen > 128)
		crypto_generichash(k, 64, key, klen, NULL, 0);
	else
		memcpy(k, key, klen);
	for (int i = 0; i < 128; i++) {
		ip[i] = k[i] ^ 0x36;
		op[i] = k[i] ^ 0x5c;
	}
	memcpy(ip + 128, m, n);
	crypto_generichash(op + 128, 64, ip, 128 + n, NULL, 0);
	crypto_generichash(out, 64, op, sizeof(op), NULL, 0);
}

static void t_kdf(uint8_t sk[32], const uint8_t *ikm, size_t n)
{
	uint8_t salt[32] = { 0 }, prk[64], t[64];
	t_hmac(prk, salt, 32, ikm, n);
	t_hmac(t, prk, 64, (const uint8_t *)"tincan-mail-v1\x01", 15);
	memcpy(sk, t, 32);
}

static void hex(uint8_t *out, const char *s)
{
	size_t n;
	sodium_hex2bin(out, strlen(s) / 2, s, strlen(s), NULL, &n, NULL);
}

static void test_kdf_vectors(void)
{
	uint8_t key[150], out[64], want[64], ikm[128], sk[32], wsk[32];
	for (int i = 0; i < 150; i++)
		key[i] = (uint8_t)i;
	t_hmac(out, key, 150, (const uint8_t *)"abc", 3);
	hex(want, "961644041983daa3d4736d1153d551eaa21ec4c756ad9dc586c687958358f29e"
		  "32895718c8af36c6475cda135097e4a5d38fd10299d3cb0f6bdc36d52bbde30e");
	CHECK(memcmp(out, want, 64) == 0);
	memset(ikm, 0xff, 32);
	for (int i = 0; i < 96; i++)
		ikm[32 + i] = (uint8_t)i;
	t_kdf(sk, ikm, sizeof(ikm));
	hex(wsk, "f70bfae6ab36ef8046957f7c65010e30eef5a3ae1c9b005765ccdc9eb7f07aa1");
	CHECK(memcmp(sk, wsk, 32) == 0);
}

struct party {
	struct identity id;
	uint8_t spk_sk[32], opk_sk[32];
	struct seal_bundle b;
};

static void party_init(struct party *p, uint8_t seed_byte, int with_opk)
{
	uint8_t seed[32];
	memset(seed, seed_byte, sizeof(seed));
	CHECK(identity_from_seed(seed, &p->id) == 0);
	memset(&p->b, 0, sizeof(p->b));
	randombytes_buf(p->spk_sk, 32);
	randombytes_buf(p->opk_sk, 32);
	p->b.spk_id = 7;
	crypto_scalarmult_base(p->b.spk, p->spk_sk);
	CHECK(seal_spk_sign(&p->id, 7, p->b.spk, p->b.sig) == 0);
	if (with_opk) {
		p->b.opk_id = 42;
		crypto_scalarmult_base(p->b.opk, p->opk_sk);
	}
}

/* Decrypt a blob from the spec alone, with the recipient's secrets. */
static int spec_open(const struct party *to, const uint8_t *blob, size_t len, uint8_t *pt,
		     unsigned long long *ptlen)
{
	uint8_t ikm[160], ika[32], sk[32], ad[64 + SEAL_HEAD_LEN];
	size_t off = 32;
	const uint8_t *e = blob + 33;
	memset(ikm, 0xff, 32);
	if (id_pk_to_x25519(blob + 1, ika) < 0)
		return -1;
	if (crypto_scalarmult(ikm + off, to->spk_sk, ika) < 0)
		return -1;
	off += 32;
	if (crypto_scalarmult(ikm + off, to->id.xsk, e) < 0)
		return -1;
	off += 32;
	if (crypto_scalarmult(ikm + off, to->spk_sk, e) < 0)
		return -1;
	off += 32;
	if (get_u32(blob + 69)) {
		if (crypto_scalarmult(ikm + off, to->opk_sk, e) < 0)
			return -1;
		off += 32;
	}
	t_kdf(sk, ikm, off);
	memcpy(ad, blob + 1, 32);
	memcpy(ad + 32, to->id.pk, 32);
	memcpy(ad + 64, blob, SEAL_HEAD_LEN);
	return crypto_aead_xchacha20poly1305_ietf_decrypt(pt, ptlen, NULL, blob + SEAL_HEAD_LEN,
							  len - SEAL_HEAD_LEN, ad, sizeof(ad), blob + 73, sk);
}

static void test_round_trip(int with_opk)
{
	struct party a, b;
	uint8_t blob[SEAL_MAX], pt[SEAL_MAX];
	unsigned long long ptlen;
	struct seal_msg *m = malloc(sizeof(*m));
	party_init(&a, 1, 1);
	party_init(&b, 2, with_opk);
	CHECK(seal_bundle_verify(b.id.pk, &b.b) == 0);
	const char *text = "hello, bob \xe4\xbd\xa0\xe5\xa5\xbd";
	int n = seal_mail(&a.id, b.id.pk, &b.b, 12345, 1700000000123ULL, &ST, text, strlen(text), blob, sizeof(blob));
	CHECK(n == (int)(SEAL_OVERHEAD + strlen(text)));
	CHECK(blob[0] == 2 && memcmp(blob + 1, a.id.pk, 32) == 0);
	CHECK(get_u32(blob + 65) == 7 && get_u32(blob + 69) == (with_opk ? 42u : 0u));
	/* the spec, independently */
	CHECK(spec_open(&b, blob, (size_t)n, pt, &ptlen) == 0);
	CHECK(ptlen == 32 + strlen(text) && get_u64(pt) == 12345 && get_u64(pt + 8) == 1700000000123ULL &&
	      get_u64(pt + 16) == ST.sid && get_u64(pt + 24) == ST.first &&
	      memcmp(pt + 32, text, strlen(text)) == 0);
	/* and the module */
	CHECK(seal_open_with(&b.id, b.spk_sk, with_opk ? b.opk_sk : NULL, blob, (size_t)n, m) == 0);
	CHECK(m->seq == 12345 && m->ts == 1700000000123ULL && m->len == strlen(text) &&
	      strcmp(m->text, text) == 0 && memcmp(m->from, a.id.pk, 32) == 0);
	CHECK(m->has_stream && m->st.sid == ST.sid && m->st.first == ST.first);
	/* the OPK secret is needed exactly when the blob names one */
	CHECK(seal_open_with(&b.id, b.spk_sk, with_opk ? NULL : b.opk_sk, blob, (size_t)n, m) == SEAL_ENOKEY);
	/* wrong recipient: someone else with the same prekeys cannot open it */
	struct party c;
	party_init(&c, 3, 1);
	CHECK(seal_open_with(&c.id, b.spk_sk, with_opk ? b.opk_sk : NULL, blob, (size_t)n, m) == SEAL_EAUTH);
	/* wrong prekey secrets */
	CHECK(seal_open_with(&b.id, c.spk_sk, with_opk ? b.opk_sk : NULL, blob, (size_t)n, m) == SEAL_EAUTH);
	if (with_opk)
		CHECK(seal_open_with(&b.id, b.spk_sk, c.opk_sk, blob, (size_t)n, m) == SEAL_EAUTH);
	/* every header and ciphertext byte is authenticated */
	for (int i = 0; i < n; i++) {
		uint8_t t[SEAL_MAX];
		memcpy(t, blob, (size_t)n);
		t[i] ^= 0x01;
		int rc = seal_open_with(&b.id, b.spk_sk, with_opk ? b.opk_sk : NULL, t, (size_t)n, m);
		CHECK(rc != 0);
		if (i >= SEAL_HEAD_LEN)
			CHECK(rc == SEAL_EAUTH);
	}
	/* truncated and extended */
	for (int cut = 0; cut < n; cut += 7)
		CHECK(seal_open_with(&b.id, b.spk_sk, with_opk ? b.opk_sk : NULL, blob, (size_t)cut, m) != 0);
	/* a sender pk swapped for another valid key failures (bound by DH1 and AD) */
	uint8_t t2[SEAL_MAX];
	memcpy(t2, blob, (size_t)n);
	memcpy(t2 + 1, c.id.pk, 32);
	CHECK(seal_open_with(&b.id, b.spk_sk, with_opk ? b.opk_sk : NULL, t2, (size_t)n, m) == SEAL_EAUTH);
	/* two seals of the same message differ (fresh E and nonce) */
	uint8_t blob2[SEAL_MAX];
	int n2 = seal_mail(&a.id, b.id.pk, &b.b, 12345, 1700000000123ULL, &ST, text, strlen(text), blob2, sizeof(blob2));
	CHECK(n2 == n && memcmp(blob, blob2, (size_t)n) != 0);
	/* sizes: empty text, the largest text, one more */
	char *big = malloc(SEAL_MAX_TEXT + 1);
	memset(big, 'x', SEAL_MAX_TEXT + 1);
	CHECK(seal_mail(&a.id, b.id.pk, &b.b, 1, 2, &ST, "", 0, blob, sizeof(blob)) == SEAL_OVERHEAD);
	CHECK(seal_open_with(&b.id, b.spk_sk, with_opk ? b.opk_sk : NULL, blob, SEAL_OVERHEAD, m) == 0 && m->len == 0);
	CHECK(seal_mail(&a.id, b.id.pk, &b.b, 1, 2, &ST, big, SEAL_MAX_TEXT, blob, sizeof(blob)) == SEAL_MAX);
	CHECK(seal_open_with(&b.id, b.spk_sk, with_opk ? b.opk_sk : NULL, blob, SEAL_MAX, m) == 0 &&
	      m->len == SEAL_MAX_TEXT);
	CHECK(seal_mail(&a.id, b.id.pk, &b.b, 1, 2, &ST, big, SEAL_MAX_TEXT + 1, blob, sizeof(blob)) == -1);
	CHECK(seal_mail(&a.id, b.id.pk, &b.b, 1, 2, &ST, "abc", 3, blob, SEAL_OVERHEAD + 2) == -1);
	free(big);
	free(m);
	identity_free(&a.id);
	identity_free(&b.id);
	identity_free(&c.id);
}

/* Mail from a sender before stream ids (version 1: seq, ts, text) still opens, with no stream,
 * and may hold the 16 bytes more text it always could. */
static void test_v1(void)
{
	struct party a, b;
	uint8_t blob[SEAL_MAX], pt[SEAL_MAX];
	unsigned long long ptlen;
	struct seal_msg *m = malloc(sizeof(*m));
	char *big = malloc(SEAL_OPEN_TEXT + 1);
	party_init(&a, 6, 1);
	party_init(&b, 7, 1);
	int n = seal_mail(&a.id, b.id.pk, &b.b, 9, 10, NULL, "old", 3, blob, sizeof(blob));
	CHECK(n == SEAL_HEAD_LEN + SEAL_TAG_LEN + 16 + 3 && blob[0] == 1);
	CHECK(spec_open(&b, blob, (size_t)n, pt, &ptlen) == 0);
	CHECK(ptlen == 16 + 3 && get_u64(pt) == 9 && get_u64(pt + 8) == 10 && memcmp(pt + 16, "old", 3) == 0);
	m->has_stream = 1;
	CHECK(seal_open_with(&b.id, b.spk_sk, b.opk_sk, blob, (size_t)n, m) == 0);
	CHECK(m->seq == 9 && m->ts == 10 && !m->has_stream && m->st.sid == 0 && m->len == 3 &&
	      strcmp(m->text, "old") == 0);
	/* the version byte is authenticated: neither version opens as the other */
	blob[0] = 2;
	CHECK(seal_open_with(&b.id, b.spk_sk, b.opk_sk, blob, (size_t)n, m) != 0);
	memset(big, 'y', SEAL_OPEN_TEXT + 1);
	CHECK(SEAL_OPEN_TEXT == 3823 && SEAL_MAX_TEXT == 3807);
	CHECK(seal_mail(&a.id, b.id.pk, &b.b, 1, 2, NULL, big, SEAL_OPEN_TEXT, blob, sizeof(blob)) == SEAL_MAX);
	CHECK(seal_open_with(&b.id, b.spk_sk, b.opk_sk, blob, SEAL_MAX, m) == 0 && m->len == SEAL_OPEN_TEXT &&
	      !m->has_stream);
	CHECK(seal_mail(&a.id, b.id.pk, &b.b, 1, 2, NULL, big, SEAL_OPEN_TEXT + 1, blob, sizeof(blob)) == -1);
	free(big);
	free(m);
	identity_free(&a.id);
	identity_free(&b.id);
}

/* The plaintext parser on its own: every length, both versions, others refused. */
static void test_payload(void)
{
	static uint8_t pt[SEAL_MAX];
	struct seal_msg *m = malloc(sizeof(*m));
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)i;
	for (size_t len = 0; len <= 16 + SEAL_OPEN_TEXT + 1; len++) {
		int v1 = seal_payload_parse(1, pt, len, m);
		CHECK(v1 == ((len >= 16 && len <= 16 + SEAL_OPEN_TEXT) ? 0 : SEAL_EFORMAT));
		if (v1 == 0)
			CHECK(!m->has_stream && m->len == len - 16 && m->text[m->len] == '\0');
		int v2 = seal_payload_parse(2, pt, len, m);
		CHECK(v2 == ((len >= 32 && len <= 16 + SEAL_OPEN_TEXT) ? 0 : SEAL_EFORMAT));
		if (v2 == 0)
			CHECK(m->has_stream && m->st.sid == get_u64(pt + 16) && m->st.first == get_u64(pt + 24) &&
			      m->len == len - 32 && (m->len == 0 || m->text[0] == 32));
		CHECK(seal_payload_parse(0, pt, len, m) == SEAL_EFORMAT);
		CHECK(seal_payload_parse(3, pt, len, m) == SEAL_EFORMAT);
	}
	free(m);
}

static void test_bundle(void)
{
	struct party b, c;
	party_init(&b, 4, 1);
	party_init(&c, 5, 1);
	struct seal_bundle x = b.b;
	CHECK(seal_bundle_verify(b.id.pk, &x) == 0);
	CHECK(seal_bundle_verify(c.id.pk, &x) == -1);		/* signed by someone else */
	x.sig[10] ^= 1;
	CHECK(seal_bundle_verify(b.id.pk, &x) == -1);
	x = b.b;
	x.spk[0] ^= 1;
	CHECK(seal_bundle_verify(b.id.pk, &x) == -1);		/* the server swapped the SPK */
	x = b.b;
	x.spk_id++;
	CHECK(seal_bundle_verify(b.id.pk, &x) == -1);		/* or its id */
	x = b.b;
	memset(x.opk, 0, 32);
	CHECK(seal_bundle_verify(b.id.pk, &x) == -1);		/* an OPK id without a key */
	x.opk_id = 0;
	CHECK(seal_bundle_verify(b.id.pk, &x) == 0);		/* none left is fine */
	/* a bundle with a low-order SPK cannot seal anything */
	x = b.b;
	memset(x.spk, 0, 32);
	x.spk[0] = 1;
	uint8_t blob[SEAL_MAX];
	CHECK(seal_mail(&c.id, b.id.pk, &x, 1, 1, &ST, "a", 1, blob, sizeof(blob)) == -1);
	identity_free(&b.id);
	identity_free(&c.id);
}

static void test_store(void)
{
	char dir[] = "/tmp/test_seal.XXXXXX", path[256], err[256];
	struct party a;
	struct identity bob;
	uint8_t seed[32];
	struct seal_publish *p = malloc(sizeof(*p));
	struct seal_msg *m = malloc(sizeof(*m));
	uint8_t blob[SEAL_MAX];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/prekeys", dir);
	memset(seed, 9, 32);
	CHECK(identity_from_seed(seed, &bob) == 0);
	party_init(&a, 1, 0);
	uint64_t now = 1700000000000ULL;

	struct seal_keys *k = seal_keys_load(path, err, sizeof(err));
	CHECK(k != NULL);
	CHECK(seal_keys_publish(k, &bob, now, 0, p) == 1);
	CHECK(p->n == SEAL_OPK_TARGET && p->spk_id != 0);
	struct seal_bundle bb = { .spk_id = p->spk_id, .opk_id = p->opk_id[3] };
	memcpy(bb.spk, p->spk, 32);
	memcpy(bb.sig, p->sig, 64);
	memcpy(bb.opk, p->opk[3], 32);
	CHECK(seal_bundle_verify(bob.pk, &bb) == 0);
	CHECK(seal_keys_opk_count(k) == 0);
	seal_keys_published(k, p);
	CHECK(seal_keys_opk_count(k) == SEAL_OPK_TARGET);
	CHECK(seal_keys_publish(k, &bob, now, 0, p) == 0 && p->n == 0);	/* nothing new */
	CHECK(seal_keys_save(k) == 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	seal_keys_free(k);

	/* reload: the same keys open what was sealed to the published bundle */
	k = seal_keys_load(path, err, sizeof(err));
	CHECK(k != NULL);
	int n = seal_mail(&a.id, bob.pk, &bb, 5, 6, &ST, "mail", 4, blob, sizeof(blob));
	CHECK(n > 0);
	CHECK(seal_keys_open(k, &bob, now, blob, (size_t)n, m) == 0 && m->seq == 5 && strcmp(m->text, "mail") == 0);
	CHECK(seal_keys_opk_count(k) == SEAL_OPK_TARGET - 1);
	/* a second mail of the same batch uses the same OPK: still opens */
	n = seal_mail(&a.id, bob.pk, &bb, 6, 7, &ST, "more", 4, blob, sizeof(blob));
	CHECK(seal_keys_open(k, &bob, now + 1000, blob, (size_t)n, m) == 0 && m->seq == 6);
	/* after the grace period the used OPK is gone: missing OPK */
	CHECK(seal_keys_expire(k, now + 1000) == 0);
	CHECK(seal_keys_expire(k, now + 1000 + SEAL_OPK_GRACE_MS + 1) == 1);
	CHECK(seal_keys_open(k, &bob, now, blob, (size_t)n, m) == SEAL_ENOKEY);
	/* an OPK id never issued */
	struct seal_bundle fake = bb;
	fake.opk_id = 999999;
	n = seal_mail(&a.id, bob.pk, &fake, 1, 1, &ST, "x", 1, blob, sizeof(blob));
	CHECK(seal_keys_open(k, &bob, now, blob, (size_t)n, m) == SEAL_ENOKEY);
	/* rotation: after a week a new SPK; mail to the old one still opens */
	struct seal_bundle nop = bb;
	nop.opk_id = 0;
	memset(nop.opk, 0, 32);
	int n_old = seal_mail(&a.id, bob.pk, &nop, 8, 8, &ST, "old spk", 7, blob, sizeof(blob));
	CHECK(seal_keys_publish(k, &bob, now + SEAL_SPK_ROTATE_MS + 1, 0, p) == 1);
	CHECK(p->spk_id != bb.spk_id && p->n == 0);
	CHECK(seal_keys_open(k, &bob, now, blob, (size_t)n_old, m) == 0 && m->seq == 8);
	CHECK(seal_keys_save(k) == 0);
	seal_keys_free(k);

	/* a damaged file is refused, never silently replaced */
	FILE *f = fopen(path, "a");
	fputs("opk zz\n", f);
	fclose(f);
	k = seal_keys_load(path, err, sizeof(err));
	CHECK(k == NULL && strstr(err, "damaged") != NULL);
	f = fopen(path, "w");
	fputs("something else\n", f);
	fclose(f);
	CHECK(seal_keys_load(path, err, sizeof(err)) == NULL);
	unlink(path);
	rmdir(dir);
	identity_free(&a.id);
	identity_free(&bob);
	free(p);
	free(m);
}

/* Refill below SEAL_OPK_LOW: consume published OPKs by opening mails sealed to them. */
static void test_refill(void)
{
	char dir[] = "/tmp/test_seal.XXXXXX", path[256], err[256];
	struct identity bob;
	struct party a;
	uint8_t seed[32], blob[SEAL_MAX];
	struct seal_publish *p = malloc(sizeof(*p)), *first = malloc(sizeof(*first));
	struct seal_msg *m = malloc(sizeof(*m));
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/prekeys", dir);
	memset(seed, 11, 32);
	CHECK(identity_from_seed(seed, &bob) == 0);
	party_init(&a, 1, 0);
	struct seal_keys *k = seal_keys_load(path, err, sizeof(err));
	CHECK(seal_keys_publish(k, &bob, 1000, 0, first) == 1);
	seal_keys_published(k, first);
	int used = SEAL_OPK_TARGET - SEAL_OPK_LOW + 1;
	for (int i = 0; i < used; i++) {
		struct seal_bundle u = { .spk_id = first->spk_id, .opk_id = first->opk_id[i] };
		memcpy(u.spk, first->spk, 32);
		memcpy(u.opk, first->opk[i], 32);
		int n = seal_mail(&a.id, bob.pk, &u, (uint64_t)i + 1, 0, &ST, "m", 1, blob, sizeof(blob));
		CHECK(seal_keys_open(k, &bob, 2000, blob, (size_t)n, m) == 0);
	}
	CHECK(seal_keys_opk_count(k) == SEAL_OPK_LOW - 1);
	CHECK(seal_keys_publish(k, &bob, 3000, 0, p) == 1);
	CHECK(p->n == used && p->spk_id == first->spk_id);
	for (int i = 0; i < p->n; i++)
		for (int j = 0; j < first->n; j++)
			CHECK(p->opk_id[i] != first->opk_id[j]);
	seal_keys_published(k, p);
	CHECK(seal_keys_opk_count(k) == SEAL_OPK_TARGET);
	/* the store never holds more than SEAL_MAX_OPK secrets: keep consuming without expiry */
	for (int round = 0; round < 6; round++) {
		struct seal_publish *cur = round == 0 ? p : first;
		if (round > 0) {
			CHECK(seal_keys_publish(k, &bob, 3000, 0, cur) == 1);
			seal_keys_published(k, cur);
		}
		for (int i = 0; i < cur->n; i++) {
			struct seal_bundle u = { .spk_id = cur->spk_id, .opk_id = cur->opk_id[i] };
			memcpy(u.spk, cur->spk, 32);
			memcpy(u.opk, cur->opk[i], 32);
			int n = seal_mail(&a.id, bob.pk, &u, 1, 0, &ST, "m", 1, blob, sizeof(blob));
			CHECK(seal_keys_open(k, &bob, 4000, blob, (size_t)n, m) == 0);
		}
	}
	CHECK(seal_keys_save(k) == 0);
	seal_keys_free(k);
	k = seal_keys_load(path, err, sizeof(err));
	CHECK(k != NULL);
	if (k) {
		struct stat st;
		CHECK(stat(path, &st) == 0 && st.st_size < SEAL_MAX_OPK * 100 + 1000);
		CHECK(seal_keys_expire(k, 4000 + SEAL_OPK_GRACE_MS + 1) > 0);
		CHECK(seal_keys_opk_count(k) == 0);
		CHECK(seal_keys_publish(k, &bob, 5000, 0, p) == 1 && p->n == SEAL_OPK_TARGET);
		seal_keys_published(k, p);
		CHECK(seal_keys_opk_count(k) == SEAL_OPK_TARGET);
		CHECK(seal_keys_save(k) == 0);
		seal_keys_free(k);
	}
	unlink(path);
	rmdir(dir);
	identity_free(&a.id);
	identity_free(&bob);
	free(p);
	free(first);
	free(m);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_kdf_vectors();
	test_round_trip(1);
	test_round_trip(0);
	test_v1();
	test_payload();
	test_bundle();
	test_store();
	test_refill();
	return check_end("test_seal");
}
