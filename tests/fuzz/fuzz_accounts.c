/* fuzz_accounts.c: libFuzzer target replaying arbitrary tincand state files (snapshot, journal). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts.h"
#include "journal.h"
#include "log.h"
#include "store.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

/* Input: flags u8, then records as (len u16, bytes). Records before the first zero-length one
 * go into snap.1 (if flags & 1) or journal.0, the rest into the journal; flags & 2 appends the
 * leftover bytes raw (a torn tail); flags & 4 writes a bad CURRENT. */
static void write_files(const uint8_t *data, size_t size)
{
	char path[128];
	struct jlog *snap = NULL, *jl = NULL;
	uint8_t flags = size ? data[0] : 0;
	size_t off = 1;
	int in_snap = flags & 1;
	snprintf(path, sizeof(path), "%s/CURRENT", dir);
	if (flags & 4)
		store_write_atomic(path, "tincand-state 1\nsnap x\n", 23, 0600);
	else if (in_snap)
		store_write_atomic(path, "tincand-state 1\nsnap 1\n", 23, 0600);
	snprintf(path, sizeof(path), "%s/snap.1", dir);
	if (in_snap && jlog_open(&snap, path, NULL) < 0)
		return;
	snprintf(path, sizeof(path), "%s/journal.%d", dir, in_snap ? 1 : 0);
	if (jlog_open(&jl, path, NULL) < 0) {
		jlog_close(snap);
		return;
	}
	while (off + 2 <= size) {
		size_t n = get_u16(data + off);
		if (n > size - off - 2)
			break;
		off += 2;
		if (n == 0)
			in_snap = 0;
		else
			jlog_append(in_snap ? snap : jl, data + off, n);
		off += n;
	}
	jlog_flush(jl);
	jlog_close(jl);
	jlog_close(snap);
	if ((flags & 2) && off < size) {
		FILE *f = fopen(path, "ab");
		if (f) {
			fwrite(data + off, 1, size - off, f);
			fclose(f);
		}
	}
}

static void clear_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acct_limits lim;
	struct acct_db *db;
	struct acct_stats a, b;
	char err[256];
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/fuzz_accounts.%d",
		    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
		log_set_file(-1);
	}
	if (store_mkdirs(dir, 0700) < 0)
		abort();
	clear_dir();
	write_files(data, size);
	acct_limits_default(&lim);
	lim.no_sync = 1;
	if (acct_open(&db, dir, &lim, err, sizeof(err)) < 0)
		return 0;	/* a bad CURRENT is refused, never crashes */
	if (acct_check(db) < 0)
		abort();
	acct_stats(db, &a);
	/* the snapshot of what was replayed replays to the same state */
	if (acct_rotate(db, 1) < 0)
		abort();
	acct_close(db);
	if (acct_open(&db, dir, &lim, err, sizeof(err)) < 0 || acct_check(db) < 0)
		abort();
	acct_stats(db, &b);
	if (a.accounts != b.accounts || a.mails != b.mails || a.mail_bytes != b.mail_bytes ||
	    a.requests != b.requests || a.allow_entries != b.allow_entries ||
	    a.with_prekeys != b.with_prekeys || b.skipped != 0)
		abort();
	acct_close(db);
	return 0;
}
