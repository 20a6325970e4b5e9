/* crypto.c: identity keys (Ed25519), the key file, ID strings, fingerprints and safety numbers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "util.h"

#define KEYFILE_MAGIC "tincan-identity-v1\n"
#define KEYFILE_MAGIC_LEN (sizeof(KEYFILE_MAGIC) - 1)
#define KEYFILE_LEN (KEYFILE_MAGIC_LEN + 128 + 1)  /* magic, hex secret key, newline */
#define KEYFILE_READ_CAP 512                         /* anything longer is not our file */

#define ID_PREFIX "tc"
#define ID_RAWLEN 35                                 /* pk(32) || checksum(3) */
#define FPR_ROUNDS 1024                              /* hash iterations for digit strings */

static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Fill the derived halves of id from a 64-byte secret key already in id->sk. */
static int identity_derive(struct identity *id)
{
	uint8_t pk[32], sk[64];
	int rc = -1;

	/* The public half must be the one the seed gives: catches a corrupt or spliced file. */
	if (crypto_sign_seed_keypair(pk, sk, id->sk) != 0)
		goto out;
	if (sodium_memcmp(sk, id->sk, 64) != 0)
		goto out;
	memcpy(id->pk, pk, 32);
	if (crypto_sign_ed25519_pk_to_curve25519(id->xpk, id->pk) != 0)
		goto out;
	if (crypto_sign_ed25519_sk_to_curve25519(id->xsk, id->sk) != 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

static int identity_alloc(struct identity *id)
{
	memset(id, 0, sizeof(*id));
	if (sodium_init() < 0)
		return -1;
	id->sk = sodium_malloc(64);
	id->xsk = sodium_malloc(32);
	if (id->sk == NULL || id->xsk == NULL) {
		identity_free(id);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void identity_free(struct identity *id)
{
	if (id == NULL)
		return;
	sodium_free(id->sk);  /* sodium_free wipes before freeing; NULL is fine */
	sodium_free(id->xsk);
	sodium_memzero(id, sizeof(*id));
}

int identity_from_seed(const uint8_t seed[32], struct identity *id)
{
	uint8_t pk[32];

	if (identity_alloc(id) != 0)
		return -1;
	if (crypto_sign_seed_keypair(pk, id->sk, seed) != 0 || identity_derive(id) != 0) {
		identity_free(id);
		return -1;
	}
	return 0;
}

/* Parse the key file contents buf[0..n) into id (already allocated). */
static int keyfile_parse(const char *buf, size_t n, struct identity *id, const char *path,
                         char *err, size_t errlen)
{
	size_t binlen = 0;
	const char *end = NULL;

	if (n < KEYFILE_MAGIC_LEN || memcmp(buf, KEYFILE_MAGIC, KEYFILE_MAGIC_LEN) != 0) {
		set_err(err, errlen, "%s: not a tincan identity file (bad magic line)", path);
		return -1;
	}
	if (n != KEYFILE_LEN && n != KEYFILE_LEN - 1) {
		set_err(err, errlen, "%s: corrupt identity file (length %zu, expected %zu)",
		        path, n, KEYFILE_LEN);
		return -1;
	}
	if (n == KEYFILE_LEN && buf[n - 1] != '\n') {
		set_err(err, errlen, "%s: corrupt identity file (no newline after the key)", path);
		return -1;
	}
	if (sodium_hex2bin(id->sk, 64, buf + KEYFILE_MAGIC_LEN, 128, NULL, &binlen, &end) != 0 ||
	    binlen != 64 || end != buf + KEYFILE_MAGIC_LEN + 128) {
		set_err(err, errlen, "%s: corrupt identity file (key is not 128 hex digits)", path);
		return -1;
	}
	if (identity_derive(id) != 0) {
		set_err(err, errlen, "%s: corrupt identity file (secret key does not match its "
		        "public half)", path);
		return -1;
	}
	return 0;
}

static int identity_load_fd(int fd, const char *path, struct identity *id, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int rc = -1, saved = EINVAL;

	if (fstat(fd, &st) != 0) {
		saved = errno;
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	buf = sodium_malloc(KEYFILE_READ_CAP);
	if (buf == NULL || identity_alloc(id) != 0) {
		saved = ENOMEM;
		set_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (n < KEYFILE_READ_CAP) {
		r = read(fd, buf + n, KEYFILE_READ_CAP - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			saved = errno;
			set_err(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (keyfile_parse(buf, n, id, path, err, errlen) != 0)
		goto out;
	rc = 0;
	if (st.st_mode & 077) {
		set_err(err, errlen, "%s: identity key is accessible by group/others (mode %03o); "
		        "run chmod 600 on it", path, (unsigned)(st.st_mode & 0777));
		rc = IDENTITY_WARN_MODE;
	}
out:
	sodium_free(buf);
	if (rc < 0) {
		identity_free(id);
		errno = saved;
	}
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, rc;

	str_copy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == NULL)
		str_copy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Make a new key and put it at path. 0 created, 1 someone else created it first, -1 error. */
static int identity_create(const char *path, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	uint8_t seed[32], pk[32], *sk = NULL;
	char *text = NULL;
	int fd = -1, rc = -1, saved = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new-%08x", path, randombytes_random()) >= sizeof(tmp)) {
		saved = ENAMETOOLONG;
		set_err(err, errlen, "%s: path too long", path);
		goto out;
	}
	sk = sodium_malloc(64);
	text = sodium_malloc(KEYFILE_LEN + 1);
	if (sk == NULL || text == NULL) {
		saved = ENOMEM;
		set_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	memcpy(text, KEYFILE_MAGIC, KEYFILE_MAGIC_LEN);
	sodium_bin2hex(text + KEYFILE_MAGIC_LEN, 129, sk, 64);
	text[KEYFILE_LEN - 1] = '\n';

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		saved = errno;
		set_err(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, text, KEYFILE_LEN) != 0 || fsync(fd) != 0) {
		saved = errno ? errno : EIO;
		set_err(err, errlen, "%s: %s", tmp, strerror(saved));
		goto out_unlink;
	}
	if (close(fd) != 0) {
		fd = -1;
		saved = errno;
		set_err(err, errlen, "%s: %s", tmp, strerror(saved));
		goto out_unlink;
	}
	fd = -1;
	/* link(2) never replaces: a concurrent creator wins and we load its key instead. */
	if (link(tmp, path) != 0) {
		saved = errno;
		if (saved == EEXIST) {
			rc = 1;
		} else {
			set_err(err, errlen, "%s: %s", path, strerror(saved));
		}
		goto out_unlink;
	}
	unlink(tmp);
	if (fsync_parent(path) != 0) {
		saved = errno;
		set_err(err, errlen, "%s: fsync of directory: %s", path, strerror(saved));
		goto out;
	}
	rc = 0;
	goto out;
out_unlink:
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	sodium_memzero(seed, sizeof(seed));
	sodium_free(sk);
	sodium_free(text);
	if (rc < 0)
		errno = saved;
	return rc;
}

int identity_load_or_create(const char *path, struct identity *id, int *created, char *err, size_t errlen)
{
	int fd, rc, tries;

	memset(id, 0, sizeof(*id));
	if (created != NULL)
		*created = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (sodium_init() < 0) {
		set_err(err, errlen, "libsodium failed to initialise");
		errno = EIO;
		return -1;
	}
	for (tries = 0; tries < 2; tries++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			rc = identity_load_fd(fd, path, id, err, errlen);
			close(fd);
			return rc;
		}
		if (errno != ENOENT) {
			set_err(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		rc = identity_create(path, err, errlen);
		if (rc < 0)
			return -1;
		if (rc == 0 && created != NULL)
			*created = 1;
		/* Load what is now on disk, ours or a concurrent creator's. */
	}
	set_err(err, errlen, "%s: vanished while being created", path);
	errno = ENOENT;
	return -1;
}

int identity_sign(const struct identity *id, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	if (id == NULL || id->sk == NULL)
		return -1;
	return crypto_sign_detached(sig, NULL, msg, len, id->sk) == 0 ? 0 : -1;
}

int identity_verify(const uint8_t pk[32], const uint8_t *msg, size_t len, const uint8_t sig[64])
{
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : -1;
}

int id_pk_to_x25519(const uint8_t pk[32], uint8_t xpk[32])
{
	if (crypto_sign_ed25519_pk_to_curve25519(xpk, pk) != 0) {
		memset(xpk, 0, 32);
		return -1;
	}
	return 0;
}

static void id_checksum(const uint8_t pk[32], uint8_t sum[3])
{
	static const char tag[] = "tincan-id";
	crypto_generichash_state st;
	uint8_t h[32];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)tag, sizeof(tag) - 1);
	crypto_generichash_update(&st, pk, 32);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(sum, h, 3);
}

void id_encode(const uint8_t pk[32], char out[ID_STRLEN + 1])
{
	uint8_t raw[ID_RAWLEN];
	uint32_t acc = 0;
	int bits = 0;
	size_t i, o = 2;

	memcpy(raw, pk, 32);
	id_checksum(pk, raw + 32);
	memcpy(out, ID_PREFIX, 2);
	for (i = 0; i < ID_RAWLEN; i++) {
		acc = (acc << 8 | raw[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32_alphabet[(acc >> bits) & 31];
		}
	}
	/* 35 bytes are exactly 56 characters: no bits left over. */
	out[o] = '\0';
}

static int b32_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int id_decode(const char *s, uint8_t pk[32])
{
	uint8_t raw[ID_RAWLEN], sum[3];
	uint32_t acc = 0;
	size_t len, i, o = 0;
	int bits = 0, v;

	if (s == NULL)
		return ID_EBADLEN;
	while (is_space((unsigned char)*s))
		s++;
	len = strnlen(s, ID_STRLEN + 64);
	while (len > 0 && is_space((unsigned char)s[len - 1]))
		len--;
	if (len != ID_STRLEN)
		return ID_EBADLEN;
	if ((s[0] != 't' && s[0] != 'T') || (s[1] != 'c' && s[1] != 'C'))
		return ID_EBADCHAR;
	for (i = 2; i < ID_STRLEN; i++) {
		v = b32_value((unsigned char)s[i]);
		if (v < 0)
			return ID_EBADCHAR;
		acc = (acc << 5 | (uint32_t)v) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			raw[o++] = (uint8_t)(acc >> bits);
		}
	}
	id_checksum(raw, sum);
	if (memcmp(sum, raw + 32, 3) != 0)
		return ID_ECHECKSUM;
	if (!crypto_core_ed25519_is_valid_point(raw))
		return ID_EBADKEY;
	memcpy(pk, raw, 32);
	return 0;
}

const char *id_strerror(int code)
{
	switch (code) {
	case 0:
		return "valid ID";
	case ID_EBADLEN:
		return "wrong length: an ID is \"tc\" and 56 letters and digits (a character is missing or extra)";
	case ID_EBADCHAR:
		return "invalid character: an ID starts with \"tc\" and uses only a-z and 2-7";
	case ID_ECHECKSUM:
		return "checksum mismatch: the ID has a typo";
	case ID_EBADKEY:
		return "not a valid key";
	default:
		return "unknown ID error";
	}
}

/* Iterated BLAKE2b-512 of label || keys: raises the cost of searching for a key with a chosen
 * digit string by FPR_ROUNDS. */
static void digits_hash(const char *label, const uint8_t *k1, const uint8_t *k2, uint8_t d[64])
{
	crypto_generichash_state st;
	int i;

	crypto_generichash_init(&st, NULL, 0, 64);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, k1, 32);
	if (k2 != NULL)
		crypto_generichash_update(&st, k2, 32);
	crypto_generichash_final(&st, d, 64);
	for (i = 1; i < FPR_ROUNDS; i++) {
		crypto_generichash_init(&st, NULL, 0, 64);
		crypto_generichash_update(&st, d, 64);
		crypto_generichash_update(&st, k1, 32);
		if (k2 != NULL)
			crypto_generichash_update(&st, k2, 32);
		crypto_generichash_final(&st, d, 64);
	}
}

/* groups of 5 digits, each from 5 bytes (40 bits) mod 100000: bias below 2^-23. */
static void digits_format(const uint8_t *d, int groups, char *out)
{
	uint64_t v;
	int g, j;
	char *p = out;

	for (g = 0; g < groups; g++) {
		v = 0;
		for (j = 0; j < 5; j++)
			v = v << 8 | d[g * 5 + j];
		snprintf(p, 7, g + 1 < groups ? "%05u " : "%05u", (unsigned)(v % 100000));
		p += 6;
	}
	out[groups * 6 - 1] = '\0';
}

void id_fingerprint(const uint8_t pk[32], char out[FPR_STRLEN + 1])
{
	uint8_t d[64];

	digits_hash("tincan-fingerprint-v1", pk, NULL, d);
	digits_format(d, 4, out);
}

void id_safety_number(const uint8_t a[32], const uint8_t b[32], char out[SAFETY_STRLEN + 1])
{
	uint8_t d[64];
	int lo_a = memcmp(a, b, 32) <= 0;

	digits_hash("tincan-safety-v1", lo_a ? a : b, lo_a ? b : a, d);
	digits_format(d, 6, out);
}
