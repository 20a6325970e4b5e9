/* fuzz_journal.c: libFuzzer target: any file opens as a journal, reads both ways, appends. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUST(c) do { if (!(c)) { fprintf(stderr, "fuzz_journal: %s\n", #c); abort(); } } while (0)

static char path[64];

static void cleanup(void)
{
	unlink(path);
}

/* Walk jl in one direction, checking that records are in bounds and ordered; returns the
 * offset just past the first record met (reverse) or the count (forward). */
static uint64_t walk(const struct jlog *jl, int dir)
{
	struct jlog_iter it;
	const uint8_t *rec;
	size_t len;
	uint64_t off, end = jlog_end(jl), prev = dir > 0 ? 0 : end, first_end = 0, n = 0;
	int r;

	if (dir > 0)
		MUST(jlog_iter_fwd(&it, jl, 0) == 0);
	else
		MUST(jlog_iter_rev(&it, jl, UINT64_MAX) == 0);
	while ((r = jlog_next(&it, &rec, &len, &off)) == 1) {
		uint64_t fend = off + len + JLOG_OVERHEAD;

		MUST(len <= JLOG_MAX_REC && fend <= end);
		if (dir > 0) {
			MUST(off >= prev);
			prev = fend;
		} else {
			MUST(fend <= prev);
			if (n == 0)
				first_end = fend;
			prev = off;
		}
		if (len) {	/* readable: ASan checks */
			volatile uint8_t sink = rec[0] ^ rec[len - 1];

			(void)sink;
		}
		n++;
	}
	MUST(r == 0);
	jlog_iter_done(&it);
	return dir > 0 ? n : first_end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jlog *jl;
	struct jlog_iter it;
	const uint8_t *rec;
	size_t len;
	uint64_t cut, end, off;
	int fd;

	if (!path[0]) {
		/* tmpfs if there is one: fsync there costs nothing */
		const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

		snprintf(path, sizeof path, "%s/fuzz_journal.%d", dir, (int)getpid());
		atexit(cleanup);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	MUST(fd >= 0);
	MUST(write(fd, data, size) == (ssize_t)size);
	close(fd);

	MUST(jlog_open(&jl, path, &cut) == 0);
	end = jlog_end(jl);
	MUST(end + cut == size && jlog_written(jl) == end);
	/* open keeps the file up to the end of its last valid frame */
	walk(jl, 1);
	MUST(walk(jl, -1) == end);

	MUST(jlog_append(jl, "fuzz", 4) == (int64_t)end);
	MUST(jlog_iter_rev(&it, jl, UINT64_MAX) == 0);
	MUST(jlog_next(&it, &rec, &len, &off) == 1 && len == 4 && !memcmp(rec, "fuzz", 4) &&
	    off == end);
	jlog_iter_done(&it);
	jlog_close(jl);

	MUST(jlog_open(&jl, path, &cut) == 0 && cut == 0 && jlog_end(jl) == end + 4 + JLOG_OVERHEAD);
	MUST(walk(jl, -1) == jlog_end(jl));
	jlog_close(jl);
	return 0;
}
