/* test_crypto.c: identity keys, key file, ID strings, typo detection, fingerprints. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "crypto.h"

static void unhex(const char *h, uint8_t *out, size_t n)
{
	size_t len = 0;

	if (sodium_hex2bin(out, n, h, strlen(h), NULL, &len, NULL) != 0 || len != n) {
		fprintf(stderr, "bad hex in test: %s\n", h);
		exit(2);
	}
}

/* RFC 8032 section 7.1, test 1: the public key and the signature of the empty message. */
static void test_rfc8032(void)
{
	struct identity id;
	uint8_t seed[32], pk[32], sig[64], want[64];

	unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, 32);
	unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pk, 32);
	unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
	      "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b", want, 64);
	CHECK(identity_from_seed(seed, &id) == 0);
	CHECK(memcmp(id.pk, pk, 32) == 0);
	CHECK(identity_sign(&id, (const uint8_t *)"", 0, sig) == 0);
	CHECK(memcmp(sig, want, 64) == 0);
	CHECK(identity_verify(pk, (const uint8_t *)"", 0, sig) == 0);
	sig[10] ^= 1;
	CHECK(identity_verify(pk, (const uint8_t *)"", 0, sig) == -1);  /* forgery must fail */
	sig[10] ^= 1;
	CHECK(identity_verify(pk, (const uint8_t *)"x", 1, sig) == -1);

	/* Known answers for this fixed key, computed once with this code and pasted
	 * (cross-checked with Python's hashlib/base64). */
	{
		char idstr[ID_STRLEN + 1], fpr[FPR_STRLEN + 1];
		uint8_t xpk[32], back[32];

		id_encode(id.pk, idstr);
		CHECK(strcmp(idstr, "tc25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenklj2p") == 0);
		id_fingerprint(id.pk, fpr);
		CHECK(strcmp(fpr, "00304 43596 38637 15293") == 0);
		CHECK(id_pk_to_x25519(id.pk, xpk) == 0);
		CHECK(memcmp(xpk, id.xpk, 32) == 0);
		crypto_scalarmult_base(back, id.xsk);
		CHECK(memcmp(back, id.xpk, 32) == 0);
	}
	identity_free(&id);
	CHECK(id.sk == NULL && id.xsk == NULL);
	identity_free(&id);  /* twice is harmless */
}

static void make_id(int n, struct identity *id)
{
	uint8_t seed[32];

	memset(seed, n, sizeof(seed));
	if (identity_from_seed(seed, id) != 0) {
		fprintf(stderr, "identity_from_seed failed\n");
		exit(2);
	}
}

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static void test_id_roundtrip(void)
{
	struct identity id;
	char s[ID_STRLEN + 1], buf[ID_STRLEN + 16];
	uint8_t pk[32];
	size_t i;
	int n;

	for (n = 1; n <= 40; n++) {
		make_id(n, &id);
		id_encode(id.pk, s);
		CHECK(strlen(s) == ID_STRLEN && s[0] == 't' && s[1] == 'c');
		for (i = 2; i < ID_STRLEN; i++)
			CHECK(strchr(alphabet, s[i]) != NULL);
		memset(pk, 0, 32);
		CHECK(id_decode(s, pk) == 0 && memcmp(pk, id.pk, 32) == 0);
		/* upper case and surrounding whitespace are accepted */
		snprintf(buf, sizeof(buf), " \t%s\n", s);
		for (i = 0; buf[i]; i++)
			if (buf[i] >= 'a' && buf[i] <= 'z')
				buf[i] = (char)(buf[i] - 'a' + 'A');
		memset(pk, 0, 32);
		CHECK(id_decode(buf, pk) == 0 && memcmp(pk, id.pk, 32) == 0);
		identity_free(&id);
	}
}

/* Substitutions, deletions, insertions, adjacent swaps: each must be rejected. */
static void test_id_typos(void)
{
	struct identity id;
	char s[ID_STRLEN + 1], t[ID_STRLEN + 2];
	uint8_t pk[32];
	size_t i, j;
	int n, rc, tried = 0;

	for (n = 1; n <= 8; n++) {
		make_id(n, &id);
		id_encode(id.pk, s);
		for (i = 0; i < ID_STRLEN; i++) {
			for (j = 0; j < 256; j++) {
				if (j == 0 || j == (unsigned char)s[i] || (j >= 'A' && j <= 'Z' &&
				    j - 'A' + 'a' == (unsigned char)s[i]))
					continue;  /* NUL would shorten; a case change is not a typo */
				memcpy(t, s, sizeof(s));
				t[i] = (char)j;
				rc = id_decode(t, pk);
				CHECK(rc < 0);
				if (strchr(alphabet, (int)j) != NULL && i >= 2)
					CHECK(rc == ID_ECHECKSUM);
				tried++;
			}
			memcpy(t, s, i);  /* deletion */
			memcpy(t + i, s + i + 1, ID_STRLEN - i);
			CHECK(id_decode(t, pk) == ID_EBADLEN);
			memcpy(t, s, i);  /* insertion */
			t[i] = 'q';
			memcpy(t + i + 1, s + i, ID_STRLEN - i + 1);
			CHECK(id_decode(t, pk) == ID_EBADLEN);
			if (i + 1 < ID_STRLEN && s[i] != s[i + 1]) {
				memcpy(t, s, sizeof(s));
				t[i] = s[i + 1];
				t[i + 1] = s[i];
				CHECK(id_decode(t, pk) < 0);
			}
		}
		identity_free(&id);
	}
	CHECK(tried > 8 * 56 * 31);
	CHECK(id_decode("", pk) == ID_EBADLEN);
	CHECK(id_decode(NULL, pk) == ID_EBADLEN);
	CHECK(strstr(id_strerror(ID_ECHECKSUM), "typo") != NULL);
	CHECK(strlen(id_strerror(ID_EBADLEN)) > 0 && strlen(id_strerror(ID_EBADCHAR)) > 0);
	CHECK(strlen(id_strerror(12345)) > 0);
	/* a well-formed ID of a small-order point is not a usable key */
	memset(pk, 0, 32);
	pk[0] = 1;
	id_encode(pk, s);
	CHECK(id_decode(s, pk) == ID_EBADKEY);
	memset(pk, 0, 32);
	pk[0] = 1;
	CHECK(id_pk_to_x25519(pk, pk) == -1);
}

static int is_digit_groups(const char *s, int groups)
{
	int g, k;

	for (g = 0; g < groups; g++) {
		for (k = 0; k < 5; k++)
			if (*s < '0' || *s > '9')
				return 0;
			else
				s++;
		if (g + 1 < groups && *s++ != ' ')
			return 0;
	}
	return *s == '\0';
}

static void test_fingerprints(void)
{
	struct identity a, b, c;
	char f1[FPR_STRLEN + 1], f2[FPR_STRLEN + 1], s1[SAFETY_STRLEN + 1], s2[SAFETY_STRLEN + 1];
	char s3[SAFETY_STRLEN + 1];

	make_id(1, &a);
	make_id(2, &b);
	make_id(3, &c);
	id_fingerprint(a.pk, f1);
	id_fingerprint(b.pk, f2);
	CHECK(strlen(f1) == FPR_STRLEN && is_digit_groups(f1, 4));
	CHECK(strcmp(f1, f2) != 0);
	id_safety_number(a.pk, b.pk, s1);
	id_safety_number(b.pk, a.pk, s2);
	id_safety_number(a.pk, c.pk, s3);
	CHECK(strlen(s1) == SAFETY_STRLEN && is_digit_groups(s1, 6));
	CHECK(strcmp(s1, s2) == 0);  /* order-independent */
	CHECK(strcmp(s1, s3) != 0);
	/* Known answers (seeds 0x01.. and 0x02..), computed once with this code and pasted. */
	CHECK(strcmp(f1, "57946 66390 56746 66303") == 0);
	CHECK(strcmp(s1, "54779 78619 49968 86518 01489 12963") == 0);
	identity_free(&a);
	identity_free(&b);
	identity_free(&c);
}

static int write_file(const char *path, const char *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		return -1;
	fchmod(fd, mode);
	return close(fd);
}

static void test_keyfile(void)
{
	char dir[] = "/tmp/tincan-test-crypto-XXXXXX", path[256], bad[256], err[256];
	char text[512];
	struct identity id, id2;
	struct stat st;
	int created = -1, fd, rc;
	ssize_t n;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/identity", dir);
	snprintf(bad, sizeof(bad), "%s/bad", dir);

	CHECK(identity_load_or_create(path, &id, &created, err, sizeof(err)) == 0);
	CHECK(created == 1);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && S_ISREG(st.st_mode));
	fd = open(path, O_RDONLY);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	CHECK(n == 148);
	text[n > 0 ? n : 0] = '\0';
	CHECK(strncmp(text, "tincan-identity-v1\n", 19) == 0 && text[147] == '\n');

	CHECK(identity_load_or_create(path, &id2, &created, err, sizeof(err)) == 0);
	CHECK(created == 0);
	CHECK(memcmp(id.pk, id2.pk, 32) == 0 && memcmp(id.xpk, id2.xpk, 32) == 0);
	CHECK(sodium_memcmp(id.sk, id2.sk, 64) == 0 && sodium_memcmp(id.xsk, id2.xsk, 32) == 0);
	identity_free(&id2);

	/* group/world readable: loads, but says so */
	CHECK(chmod(path, 0644) == 0);
	err[0] = '\0';
	CHECK(identity_load_or_create(path, &id2, NULL, err, sizeof(err)) == IDENTITY_WARN_MODE);
	CHECK(strstr(err, "chmod") != NULL && id2.sk != NULL && memcmp(id.pk, id2.pk, 32) == 0);
	identity_free(&id2);
	CHECK(chmod(path, 0640) == 0);  /* group alone is too much as well */
	CHECK(identity_load_or_create(path, &id2, NULL, err, sizeof(err)) == IDENTITY_WARN_MODE);
	identity_free(&id2);
	CHECK(chmod(path, 0600) == 0);
	CHECK(identity_load_or_create(path, &id2, NULL, err, sizeof(err)) == 0);
	identity_free(&id2);

	/* corruptions: each one rejected with a message, nothing usable returned */
	{
		char c[512];
		struct { const char *what; size_t len; int pos; char val; } cases[] = {
			{ "bad magic", 148, 0, 'T' },
			{ "public half flipped", 148, 19 + 100, 0 },
			{ "seed flipped", 148, 19 + 3, 0 },
			{ "non-hex digit", 148, 19 + 50, 'g' },
			{ "missing final newline ok", 147, -1, 0 },
			{ "truncated", 120, -1, 0 },
			{ "empty", 0, -1, 0 },
			{ "trailing garbage", 149, 148, 'x' },
			{ "newline replaced", 148, 147, 'x' },
		};
		size_t k;

		for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			memcpy(c, text, 148);
			c[148] = '\n';
			if (cases[k].pos >= 0) {
				if (cases[k].val == 0)  /* change a hex digit to another hex digit */
					c[cases[k].pos] = c[cases[k].pos] == '0' ? '1' : '0';
				else
					c[cases[k].pos] = cases[k].val;
			}
			CHECK(write_file(bad, c, cases[k].len, 0600) == 0);
			err[0] = '\0';
			errno = 0;
			rc = identity_load_or_create(bad, &id2, &created, err, sizeof(err));
			if (strstr(cases[k].what, " ok") != NULL) {
				CHECK(rc == 0 && memcmp(id.pk, id2.pk, 32) == 0);
			} else {
				if (rc != -1)
					fprintf(stderr, "case %s: rc %d\n", cases[k].what, rc);
				CHECK(rc == -1 && err[0] != '\0' && errno != 0);
				CHECK(id2.sk == NULL && id2.xsk == NULL);
			}
			identity_free(&id2);
		}
	}
	CHECK(strstr(err, "corrupt") != NULL);

	/* a directory is not a key file; a missing parent directory is an error */
	CHECK(identity_load_or_create(dir, &id2, NULL, err, sizeof(err)) == -1);
	snprintf(bad, sizeof(bad), "%s/no/such/identity", dir);
	CHECK(identity_load_or_create(bad, &id2, NULL, err, sizeof(err)) == -1 && errno == ENOENT);

	identity_free(&id);
	snprintf(bad, sizeof(bad), "%s/bad", dir);
	unlink(bad);
	unlink(path);
	CHECK(rmdir(dir) == 0);  /* no temporary files left behind */
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	test_rfc8032();
	test_id_roundtrip();
	test_id_typos();
	test_fingerprints();
	test_keyfile();
	return check_end("test_crypto");
}
