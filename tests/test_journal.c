/* test_journal.c: journal and store tests: round trip, torn tails, bit rot, SIGKILL, speed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal.h"
#include "store.h"
#include "util.h"

static const char *ctx = "";
#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: %s: CHECK failed: %s (errno %s)\n", __FILE__, __LINE__, ctx, #c, \
	    strerror(errno)); exit(1); } } while (0)

static char tdir[256];
static uint8_t *scratch;	/* JLOG_MAX_REC bytes */

static char *tpath(const char *name)
{
	static char p[16][512];
	static int n;
	char *s = p[n++ % 16];

	snprintf(s, sizeof p[0], "%s/%s", tdir, name);
	return s;
}

/* Record seq: length from seq, bytes from seq (every byte value occurs, magic ones too). */
static size_t rec_len(uint32_t seq)
{
	return seq % 97 == 5 ? 0 : 4 + (seq * 7919u) % 300;
}

static size_t rec_make(uint32_t seq, uint8_t *b)
{
	size_t len = rec_len(seq);

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seq * 31u + i * 7u);
	if (len >= 4)
		put_u32(b, seq);
	return len;
}

static int rec_ok(uint32_t seq, const uint8_t *r, size_t len)
{
	return len == rec_make(seq, scratch) && memcmp(r, scratch, len) == 0;
}

static void file_put(const char *path, const void *b, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	CHECK(write(fd, b, len) == (ssize_t)len);
	close(fd);
}

static uint8_t *file_get(const char *path, size_t *len)
{
	char *b;

	CHECK(store_read_file(path, &b, len, 1u << 30) == 0);
	return (uint8_t *)b;
}

/* Write records seq 0..n-1 to a new journal at path; offsets[i] receives each offset. */
static void make_journal(const char *path, uint32_t n, uint64_t *offsets)
{
	struct jlog *jl;
	uint64_t cut = 99;

	unlink(path);
	CHECK(jlog_open(&jl, path, &cut) == 0 && cut == 0);
	for (uint32_t i = 0; i < n; i++) {
		int64_t off = jlog_append(jl, scratch, rec_make(i, scratch));

		CHECK(off >= 0);
		if (offsets)
			offsets[i] = (uint64_t)off;
	}
	jlog_close(jl);
}

/* Iterate all of jl in one direction; the records must be exactly seqs[0..n-1] in that order. */
static void expect(const struct jlog *jl, int dir, const uint32_t *seqs, size_t n,
    uint64_t skipped)
{
	struct jlog_iter it;
	const uint8_t *r;
	size_t len, got = 0;
	uint64_t off, prev = dir > 0 ? 0 : UINT64_MAX;
	int ret;

	if (dir > 0)
		CHECK(jlog_iter_fwd(&it, jl, 0) == 0);
	else
		CHECK(jlog_iter_rev(&it, jl, UINT64_MAX) == 0);
	while ((ret = jlog_next(&it, &r, &len, &off)) == 1) {
		size_t k = dir > 0 ? got : n - 1 - got;

		CHECK(got < n);
		CHECK(rec_ok(seqs[k], r, len));
		CHECK(dir > 0 ? off >= prev : off < prev);
		prev = dir > 0 ? off + len + JLOG_OVERHEAD : off;
		got++;
	}
	CHECK(ret == 0);
	CHECK(got == n);
	CHECK(it.skipped == skipped);
	jlog_iter_done(&it);
}

static uint32_t ident[1024];

static uint32_t crc_bitwise(const uint8_t *p, size_t len)
{
	uint32_t c = 0xFFFFFFFFu;

	while (len--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
	}
	return ~c;
}

static void test_crc(void)
{
	uint8_t b[160];

	ctx = "crc";
	CHECK(jlog_crc32c(0, "123456789", 9) == 0xE3069283u);
	CHECK(jlog_crc32c(jlog_crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u);
	CHECK(jlog_crc32c(0, "", 0) == 0);
	/* RFC 3720 B.4 vectors */
	memset(b, 0, 32);
	CHECK(jlog_crc32c(0, b, 32) == 0x8A9136AAu);
	memset(b, 0xff, 32);
	CHECK(jlog_crc32c(0, b, 32) == 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	CHECK(jlog_crc32c(0, b, 32) == 0x46DD794Eu);
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = (uint8_t)(i * 37 + 11);
	for (size_t s = 0; s < 9; s++)
		for (size_t l = 0; s + l <= sizeof b; l++)
			CHECK(jlog_crc32c(0, b + s, l) == crc_bitwise(b + s, l));
}

static void test_roundtrip(void)
{
	const char *p = tpath("rt.j");
	enum { N = 1000 };
	static uint64_t offs[N + 3];
	struct jlog *jl, *jl2;
	struct jlog_iter it;
	const uint8_t *r;
	size_t len;
	uint64_t off, cut, end;
	int64_t o;

	ctx = "roundtrip";
	unlink(p);
	CHECK(jlog_open(&jl, p, &cut) == 0 && cut == 0 && jlog_end(jl) == 0);
	errno = 0;
	CHECK(jlog_open(&jl2, p, &cut) == -1 && errno == EWOULDBLOCK);
	for (uint32_t i = 0; i < N; i++) {
		o = jlog_append(jl, scratch, rec_make(i, scratch));
		CHECK(o >= 0 && (uint64_t)o == (i ? offs[i - 1] + rec_len(i - 1) + JLOG_OVERHEAD : 0));
		offs[i] = (uint64_t)o;
	}
	/* readers see records still in the write buffer */
	expect(jl, 1, ident, N, 0);
	expect(jl, -1, ident, N, 0);
	CHECK(jlog_written(jl) < jlog_end(jl));
	CHECK(jlog_flush(jl) == 0 && jlog_written(jl) == jlog_end(jl) && jlog_dirty(jl));
	CHECK(jlog_sync(jl) == 0 && !jlog_dirty(jl) && jlog_synced(jl) == jlog_end(jl));
	/* a record bigger than the write buffer, the largest one, one too large */
	memset(scratch, 0xFA, JLOG_MAX_REC);
	end = jlog_end(jl);
	CHECK(jlog_append(jl, scratch, 200000) == (int64_t)end);
	CHECK(jlog_append(jl, scratch, JLOG_MAX_REC) >= 0);
	errno = 0;
	CHECK(jlog_append(jl, scratch, JLOG_MAX_REC + 1) == -1 && errno == EMSGSIZE);
	CHECK(jlog_iter_rev(&it, jl, UINT64_MAX) == 0);
	CHECK(jlog_next(&it, &r, &len, &off) == 1 && len == JLOG_MAX_REC && r[7] == 0xFA);
	CHECK(jlog_next(&it, &r, &len, &off) == 1 && len == 200000);
	CHECK(jlog_next(&it, &r, &len, &off) == 1 && rec_ok(N - 1, r, len) && off == offs[N - 1]);
	jlog_iter_done(&it);
	/* forward from a record's offset; backward from a record's offset (the ones before it) */
	CHECK(jlog_iter_fwd(&it, jl, offs[600]) == 0);
	CHECK(jlog_next(&it, &r, &len, &off) == 1 && rec_ok(600, r, len) && off == offs[600]);
	CHECK(jlog_next(&it, &r, &len, &off) == 1 && rec_ok(601, r, len));
	jlog_iter_done(&it);
	CHECK(jlog_iter_rev(&it, jl, offs[600]) == 0);
	CHECK(jlog_next(&it, &r, &len, &off) == 1 && rec_ok(599, r, len) && off == offs[599]);
	jlog_iter_done(&it);
	/* forward from the middle of a record resynchronises on the next one */
	CHECK(jlog_iter_fwd(&it, jl, offs[300] + 3) == 0);
	CHECK(jlog_next(&it, &r, &len, &off) == 1 && rec_ok(301, r, len) && it.skipped == 1);
	jlog_iter_done(&it);
	end = jlog_end(jl);
	jlog_close(jl);

	CHECK(jlog_open(&jl, p, &cut) == 0 && cut == 0 && jlog_end(jl) == end);
	CHECK(jlog_synced(jl) == end && !jlog_dirty(jl));
	for (uint32_t i = 0; i < 2; i++) {
		uint64_t e = jlog_end(jl);

		CHECK(jlog_append(jl, scratch, rec_make(N + i, scratch)) == (int64_t)e);
	}
	jlog_close(jl);
	CHECK(jlog_open_ro(&jl, p) == 0);
	errno = 0;
	CHECK(jlog_append(jl, "x", 1) == -1 && errno == EBADF);
	CHECK(jlog_iter_fwd(&it, jl, offs[N - 1]) == 0);
	CHECK(jlog_next(&it, &r, &len, &off) == 1 && rec_ok(N - 1, r, len));
	CHECK(jlog_next(&it, &r, &len, &off) == 1 && len == 200000);
	CHECK(jlog_next(&it, &r, &len, &off) == 1 && len == JLOG_MAX_REC);
	CHECK(jlog_next(&it, &r, &len, &off) == 1 && rec_ok(N, r, len) && off == end);
	CHECK(jlog_next(&it, &r, &len, &off) == 1 && rec_ok(N + 1, r, len));
	CHECK(jlog_next(&it, &r, &len, &off) == 0 && it.skipped == 0);
	jlog_iter_done(&it);
	jlog_close(jl);
}

/* Truncate inside the last record at every byte offset, and add junk of several kinds. */
static void test_torn(void)
{
	const char *p = tpath("torn.j"), *src = tpath("torn.src");
	enum { N = 5 };
	uint64_t offs[N], cut, last;
	uint8_t *full, *junk;
	size_t flen;
	struct jlog *jl;

	ctx = "torn";
	make_journal(src, N, offs);
	full = file_get(src, &flen);
	last = offs[N - 1];
	CHECK(flen == last + rec_len(N - 1) + JLOG_OVERHEAD && flen - last > 100);
	for (size_t k = 0; k < flen - last; k++) {
		uint32_t seqs[N] = { 0, 1, 2, 3, 77 };

		file_put(p, full, last + k);
		CHECK(jlog_open(&jl, p, &cut) == 0);
		CHECK(cut == k && jlog_end(jl) == last);
		expect(jl, 1, seqs, N - 1, 0);
		expect(jl, -1, seqs, N - 1, 0);
		CHECK(jlog_append(jl, scratch, rec_make(77, scratch)) == (int64_t)last);
		jlog_close(jl);
		CHECK(jlog_open(&jl, p, &cut) == 0 && cut == 0);
		expect(jl, 1, seqs, N, 0);
		expect(jl, -1, seqs, N, 0);
		jlog_close(jl);
	}
	/* junk after the last record: zeros (power loss), random bytes, and a copy of the
	 * last frame, which does not check at the wrong offset */
	junk = malloc(flen + 20000);
	CHECK(junk != NULL);
	for (int kind = 0; kind < 4; kind++) {
		size_t jn = kind == 2 ? flen - last : 10000 + (size_t)kind;

		memcpy(junk, full, flen);
		for (size_t i = 0; i < jn; i++)
			junk[flen + i] = kind == 0 ? 0 : kind == 2 ? full[last + i] :
			    (uint8_t)(i % 3 ? JLOG_TAIL : i * 131 + 7);
		file_put(p, junk, flen + jn);
		CHECK(jlog_open(&jl, p, &cut) == 0 && cut == jn && jlog_end(jl) == flen);
		expect(jl, 1, ident, N, 0);
		jlog_close(jl);
	}
	/* nothing but junk; an empty file */
	file_put(p, junk + flen, 3000);
	CHECK(jlog_open(&jl, p, &cut) == 0 && cut == 3000 && jlog_end(jl) == 0);
	expect(jl, 1, ident, 0, 0);
	jlog_close(jl);
	file_put(p, "", 0);
	CHECK(jlog_open(&jl, p, &cut) == 0 && cut == 0 && jlog_end(jl) == 0);
	jlog_close(jl);
	free(junk);
	free(full);
}

/* Flip a byte in the first, a middle, and the last record; at every byte position. */
static void test_bitflip(void)
{
	const char *p = tpath("flip.j"), *src = tpath("flip.src");
	enum { N = 9 };
	uint64_t offs[N], cut;
	uint8_t *full;
	size_t flen;
	struct jlog *jl;
	const uint32_t victims[] = { 0, 4, N - 1 };

	ctx = "bitflip";
	make_journal(src, N, offs);
	full = file_get(src, &flen);
	for (size_t v = 0; v < ARRAY_LEN(victims); v++) {
		uint32_t bad = victims[v], seqs[N], n = 0;
		uint64_t start = offs[bad], fsz = rec_len(bad) + JLOG_OVERHEAD;

		for (uint32_t i = 0; i < N; i++)
			if (i != bad)
				seqs[n++] = i;
		for (uint64_t b = start; b < start + fsz; b++) {
			full[b] ^= (uint8_t)(1u << (b % 8));
			file_put(p, full, flen);
			full[b] ^= (uint8_t)(1u << (b % 8));
			CHECK(jlog_open(&jl, p, &cut) == 0);
			if (bad == N - 1) {
				/* a corrupt last record is cut at open */
				CHECK(cut == fsz);
				expect(jl, 1, seqs, n, 0);
				expect(jl, -1, seqs, n, 0);
			} else {
				CHECK(cut == 0);
				expect(jl, 1, seqs, n, 1);
				expect(jl, -1, seqs, n, 1);
			}
			jlog_close(jl);
		}
	}
	free(full);
}

/* A child appends and flushes in a tight loop and is SIGKILLed at a random moment. */
static void test_kill(void)
{
	const char *p = tpath("kill.j");
	volatile uint64_t *shared;
	int rounds = 20, torn = 0;
	uint64_t most = 0;

	ctx = "kill";
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shared != MAP_FAILED);
	for (int round = 0; round < rounds; round++) {
		struct jlog *jl;
		struct jlog_iter it;
		const uint8_t *r;
		size_t len;
		uint64_t off, cut, flushed, n = 0;
		pid_t pid;
		int st;

		unlink(p);
		__atomic_store_n(shared, 0, __ATOMIC_SEQ_CST);
		if ((pid = fork()) == 0) {
			uint32_t seq = 0;

			srand((unsigned)round);
			if (jlog_open(&jl, p, NULL) < 0)
				_exit(2);
			for (;;) {
				int batch = 1 + rand() % 300;

				for (int i = 0; i < batch; i++, seq++) {
					/* now and then a big record, to make torn writes likely */
					size_t l = seq % 50 == 49 ? 300000 : rec_make(seq, scratch);

					if (l == 300000) {
						memset(scratch, (int)seq, l);
						put_u32(scratch, seq);
					}
					if (jlog_append(jl, scratch, l) < 0)
						_exit(3);
				}
				if (jlog_flush(jl) < 0)
					_exit(4);
				__atomic_store_n(shared, seq, __ATOMIC_SEQ_CST);
			}
		}
		CHECK(pid > 0);
		usleep((useconds_t)(5000 + (rand() % 60) * 1000));
		CHECK(kill(pid, SIGKILL) == 0);
		CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
		flushed = __atomic_load_n(shared, __ATOMIC_SEQ_CST);

		CHECK(jlog_open(&jl, p, &cut) == 0);
		torn += cut > 0;
		CHECK(jlog_iter_fwd(&it, jl, 0) == 0);
		while (jlog_next(&it, &r, &len, &off) == 1) {
			if (n % 50 == 49)
				CHECK(len == 300000 && get_u32(r) == n && r[len - 1] == (uint8_t)n);
			else
				CHECK(rec_ok((uint32_t)n, r, len));
			n++;
		}
		CHECK(it.skipped == 0);
		jlog_iter_done(&it);
		CHECK(n >= flushed);	/* every flushed record, in order, nothing else */
		if (n > most)
			most = n;
		CHECK(jlog_append(jl, "after", 5) >= 0);
		jlog_close(jl);
		CHECK(jlog_open(&jl, p, &cut) == 0 && cut == 0);
		CHECK(jlog_iter_rev(&it, jl, UINT64_MAX) == 0);
		CHECK(jlog_next(&it, &r, &len, &off) == 1 && len == 5 && !memcmp(r, "after", 5));
		jlog_iter_done(&it);
		jlog_close(jl);
	}
	printf("kill: %d rounds, %d with a torn tail cut at open, up to %llu records\n", rounds,
	    torn, (unsigned long long)most);
	munmap((void *)shared, 4096);
}

static void test_speed(void)
{
	const char *p = tpath("speed.j");
	struct jlog *jl;
	struct jlog_iter it;
	const uint8_t *r;
	size_t len;
	uint64_t off, t0, t1, t2, n = 0;
	uint8_t rec[100];

	ctx = "speed";
	unlink(p);
	memset(rec, 'x', sizeof rec);
	CHECK(jlog_open(&jl, p, NULL) == 0);
	t0 = mono_us();
	for (uint32_t i = 0; i < 1000000; i++) {
		put_u32(rec, i);
		CHECK(jlog_append(jl, rec, sizeof rec) >= 0);
		if (i % 256 == 255)
			CHECK(jlog_flush(jl) == 0);
	}
	CHECK(jlog_flush(jl) == 0);
	t1 = mono_us();
	CHECK(jlog_sync(jl) == 0);
	t2 = mono_us();
	printf("speed: 1000000 appends of 100 bytes, flush every 256: %.1f ms (fdatasync %.1f ms)\n",
	    (t1 - t0) / 1000.0, (t2 - t1) / 1000.0);
	t0 = mono_us();
	CHECK(jlog_iter_fwd(&it, jl, 0) == 0);
	while (jlog_next(&it, &r, &len, &off) == 1) {
		CHECK(len == 100 && get_u32(r) == n);
		n++;
	}
	jlog_iter_done(&it);
	CHECK(n == 1000000);
	printf("speed: forward read of 1000000 records: %.1f ms\n", (mono_us() - t0) / 1000.0);
	jlog_close(jl);
	unlink(p);

	/* the UI opening a 100,000-record conversation and showing its last lines */
	make_journal(p, 100000, NULL);
	t0 = mono_us();
	CHECK(jlog_open(&jl, p, NULL) == 0);
	CHECK(jlog_iter_rev(&it, jl, UINT64_MAX) == 0);
	for (uint32_t i = 0; i < 20; i++)
		CHECK(jlog_next(&it, &r, &len, &off) == 1 && rec_ok(99999 - i, r, len));
	jlog_iter_done(&it);
	jlog_close(jl);
	printf("speed: open a 100000-record journal and read its last 20 records: %.3f ms\n",
	    (mono_us() - t0) / 1000.0);
	unlink(p);
}

static void test_store(void)
{
	char p[512], d[512];
	size_t alen = 300000, blen = 500000, len;
	uint8_t *a = malloc(alen), *b = malloc(blen);
	struct stat st;
	char *got;
	int stale = 0;

	ctx = "store";
	snprintf(p, sizeof p, "%s", tpath("atomic"));
	snprintf(d, sizeof d, "%s", tpath("a/b//c/"));
	CHECK(a && b);
	for (size_t i = 0; i < alen; i++)
		a[i] = (uint8_t)('A' + i % 7);
	for (size_t i = 0; i < blen; i++)
		b[i] = (uint8_t)('b' + i % 5);
	umask(022);
	CHECK(store_mkdirs(d, 0700) == 0 && store_mkdirs(d, 0700) == 0);
	CHECK(stat(tpath("a/b/c"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	CHECK(store_write_atomic(tpath("a/b/c/f"), "x", 1, 0644) == 0);
	errno = 0;
	CHECK(store_mkdirs(tpath("a/b/c/f/g"), 0700) == -1 && errno == ENOTDIR);
	/* mode is exact, not masked by umask */
	umask(077);
	CHECK(store_write_atomic(tpath("a/b/c/f"), "yz", 2, 0644) == 0);
	CHECK(stat(tpath("a/b/c/f"), &st) == 0 && (st.st_mode & 0777) == 0644 && st.st_size == 2);
	umask(022);

	/* store_read_file: exact, limits, missing, non-regular files */
	CHECK(store_read_file(tpath("a/b/c/f"), &got, &len, 2) == 0 && len == 2 && !strcmp(got, "yz"));
	free(got);
	errno = 0;
	CHECK(store_read_file(tpath("a/b/c/f"), &got, &len, 1) == -1 && errno == EFBIG && !got);
	errno = 0;
	CHECK(store_read_file(tpath("nope"), &got, &len, 10) == -1 && errno == ENOENT);
	CHECK(store_read_file(tpath("a"), &got, &len, 10) == -1);
	CHECK(store_read_file("/proc/self/status", &got, &len, 1 << 20) == 0 && len > 100 &&
	    strlen(got) == len);
	free(got);
	errno = 0;
	CHECK(store_read_file("/proc/self/status", &got, &len, 50) == -1 && errno == EFBIG);
	file_put(p, "", 0);
	CHECK(store_read_file(p, &got, &len, 0) == 0 && len == 0 && got[0] == 0);
	free(got);

	/* a child replaces the file in a loop and dies at a random moment */
	CHECK(store_write_atomic(p, a, alen, 0600) == 0);
	for (int round = 0; round < 20; round++) {
		pid_t pid;
		int s;
		DIR *dh;
		struct dirent *de;

		if ((pid = fork()) == 0) {
			for (int i = 0;; i++)
				if (store_write_atomic(p, i % 2 ? a : b, i % 2 ? alen : blen, 0600) < 0)
					_exit(2);
		}
		CHECK(pid > 0);
		usleep((useconds_t)(1000 + rand() % 20000));
		CHECK(kill(pid, SIGKILL) == 0 && waitpid(pid, &s, 0) == pid && WIFSIGNALED(s));
		CHECK(store_read_file(p, &got, &len, 1 << 20) == 0);
		CHECK((len == alen && !memcmp(got, a, alen)) || (len == blen && !memcmp(got, b, blen)));
		free(got);
		CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
		CHECK((dh = opendir(tdir)) != NULL);
		while ((de = readdir(dh)) != NULL)
			if (!strncmp(de->d_name, "atomic.tmp.", 11)) {
				stale++;
				CHECK(unlink(tpath(de->d_name)) == 0);
			}
		closedir(dh);
	}
	printf("store: 20 kills during atomic replace, %d stray temporary files\n", stale);
	free(a);
	free(b);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(tdir, sizeof tdir, "%s/tincan-journal.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	CHECK(mkdtemp(tdir) != NULL);
	CHECK((scratch = malloc(JLOG_MAX_REC)) != NULL);
	for (uint32_t i = 0; i < ARRAY_LEN(ident); i++)
		ident[i] = i;
	srand((unsigned)getpid());
	test_crc();
	test_roundtrip();
	test_torn();
	test_bitflip();
	test_store();
	test_kill();
	test_speed();
	nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(scratch);
	printf("journal: all tests passed\n");
	return 0;
}
