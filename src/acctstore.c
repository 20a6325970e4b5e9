/* acctstore.c: accounts on disk: CURRENT, snapshots, journals, replay, group commit, rotation. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "acct_int.h"
#include "journal.h"
#include "log.h"
#include "store.h"
#include "util.h"

enum { PATH_CAP = 4096 };

static int path_of(const struct acct_db *db, char *out, const char *what, uint64_t gen)
{
	int n = gen == UINT64_MAX ? snprintf(out, PATH_CAP, "%s/%s", db->dir, what)
	    : snprintf(out, PATH_CAP, "%s/%s.%" PRIu64, db->dir, what, gen);
	if (n < 0 || n >= PATH_CAP) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int acct_log(struct acct_db *db, const uint8_t *rec, size_t len)
{
	if (!db->jl || db->replaying)
		return 0;
	return jlog_append(db->jl, rec, len) < 0 ? -1 : 0;
}

int acct_apply(struct acct_db *db, const uint8_t *rec, size_t len)
{
	int rc = acct_apply_rec(db, rec, len);
	if (rc == 0)
		db->replayed++;
	else
		db->skipped++;
	return rc;
}

uint64_t acct_end(const struct acct_db *db)
{
	return db->jl ? db->base + jlog_end(db->jl) : 0;
}

uint64_t acct_synced(const struct acct_db *db)
{
	if (!db->jl)
		return 0;
	return db->base + (db->lim.no_sync ? jlog_written(db->jl) : jlog_synced(db->jl));
}

int acct_dirty(const struct acct_db *db)
{
	return acct_end(db) > acct_synced(db);
}

int acct_sync(struct acct_db *db)
{
	if (!db->jl)
		return 0;
	if (jlog_flush(db->jl) < 0)
		return -1;
	return db->lim.no_sync ? 0 : jlog_sync(db->jl);
}

/* Replay every record of one file; -1 only if it cannot be read. */
static int replay_file(struct acct_db *db, struct jlog *jl, const char *path)
{
	struct jlog_iter it;
	const uint8_t *rec;
	size_t len;
	int r;
	if (jlog_iter_fwd(&it, jl, 0) < 0)
		return -1;
	while ((r = jlog_next(&it, &rec, &len, NULL)) == 1)
		acct_apply(db, rec, len);
	if (it.skipped)
		log_warn("%s: %" PRIu64 " corrupt regions skipped", path, it.skipped);
	jlog_iter_done(&it);
	return r < 0 ? -1 : 0;
}

static int read_current(struct acct_db *db, char *err, size_t errlen)
{
	char path[PATH_CAP], *buf = NULL;
	size_t len;
	unsigned long long g;
	int n = 0;
	if (path_of(db, path, "CURRENT", UINT64_MAX) < 0)
		goto fail;
	if (store_read_file(path, &buf, &len, 256) < 0) {
		if (errno == ENOENT) {
			db->gen = 0;
			return 0;
		}
		goto fail;
	}
	if (sscanf(buf, "tincand-state 1\nsnap %llu\n%n", &g, &n) != 1 || (size_t)n != len) {
		snprintf(err, errlen, "%s: not a tincand state file", path);
		free(buf);
		return -1;
	}
	free(buf);
	db->gen = g;
	return 0;
fail:
	snprintf(err, errlen, "%s/CURRENT: %s", db->dir, strerror(errno));
	return -1;
}

static int write_current(struct acct_db *db, uint64_t gen)
{
	char path[PATH_CAP], buf[64];
	int n = snprintf(buf, sizeof(buf), "tincand-state 1\nsnap %" PRIu64 "\n", gen);
	if (path_of(db, path, "CURRENT", UINT64_MAX) < 0)
		return -1;
	return store_write_atomic(path, buf, (size_t)n, 0600);
}

/* Remove snapshots other than keep_snap and journals outside [keep_snap, keep_journal]. */
static void remove_stale(struct acct_db *db, uint64_t keep_snap, uint64_t keep_journal)
{
	DIR *d = opendir(db->dir);
	struct dirent *e;
	char path[PATH_CAP];
	int removed = 0;
	if (!d)
		return;
	while ((e = readdir(d))) {
		unsigned long long g;
		int n = 0, snap;
		if (sscanf(e->d_name, "snap.%llu%n", &g, &n) == 1 && !e->d_name[n])
			snap = 1;
		else if (sscanf(e->d_name, "journal.%llu%n", &g, &n) == 1 && !e->d_name[n])
			snap = 0;
		else
			continue;
		if (snap ? g == keep_snap : (g >= keep_snap && g <= keep_journal))
			continue;
		if (path_of(db, path, snap ? "snap" : "journal", g) == 0 && unlink(path) == 0)
			removed = 1;
	}
	closedir(d);
	if (removed && path_of(db, path, "CURRENT", UINT64_MAX) == 0)
		store_fsync_dir(path);
}

static int load(struct acct_db *db, char *err, size_t errlen)
{
	char path[PATH_CAP];
	struct jlog *jl;
	uint64_t cut;
	if (read_current(db, err, errlen) < 0)
		return -1;
	db->replaying = 1;
	if (db->gen > 0) {
		if (path_of(db, path, "snap", db->gen) < 0 || jlog_open_ro(&jl, path) < 0) {
			snprintf(err, errlen, "%s/snap.%" PRIu64 ": %s", db->dir, db->gen, strerror(errno));
			return -1;
		}
		int r = replay_file(db, jl, path);
		db->snap_bytes = jlog_end(jl);
		jlog_close(jl);
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
	}
	for (uint64_t g = db->gen;; g++) {
		if (path_of(db, path, "journal", g) < 0)
			return -1;
		if (g > db->gen && access(path, F_OK) < 0)
			break;
		if (jlog_open(&jl, path, &cut) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		if (cut)
			log_warn("%s: torn tail of %" PRIu64 " bytes cut", path, cut);
		db->cut += cut;
		if (replay_file(db, jl, path) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			jlog_close(jl);
			return -1;
		}
		if (db->jl) {
			db->base += jlog_end(db->jl);
			jlog_close(db->jl);
		}
		db->jl = jl;
		db->jgen = g;
	}
	db->replaying = 0;
	remove_stale(db, db->gen, db->jgen);
	return 0;
}

int acct_open(struct acct_db **out, const char *dir, const struct acct_limits *lim,
    char *err, size_t errlen)
{
	char path[PATH_CAP];
	struct acct_db *db = calloc(1, sizeof(*db));
	*out = NULL;
	if (!db || acct_db_init(db, lim) < 0) {
		free(db);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!dir) {
		*out = db;
		return 0;
	}
	if (!(db->dir = strdup(dir)) || store_mkdirs(dir, 0700) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (path_of(db, path, "lock", UINT64_MAX) < 0 ||
	    (db->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, errlen, "%s/lock: %s", dir, strerror(errno));
		goto fail;
	}
	if (flock(db->lockfd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "%s: in use by another tincand (%s)", dir, strerror(errno));
		goto fail;
	}
	if (load(db, err, errlen) < 0)
		goto fail;
	/* More than one journal means a rotation was cut short: fold them into a snapshot. */
	if (db->jgen > db->gen && acct_rotate(db, 1) < 0)
		log_warn("%s: cannot write a snapshot yet: %s", dir, strerror(errno));
	*out = db;
	return 0;
fail:
	acct_close(db);
	return -1;
}

void acct_close(struct acct_db *db)
{
	if (!db)
		return;
	if (db->jl)
		jlog_close(db->jl);
	if (db->lockfd >= 0)
		close(db->lockfd);
	acct_db_clear(db);
	free(db->dir);
	free(db);
}

static int emit_snap(void *arg, const uint8_t *rec, size_t len)
{
	return jlog_append(arg, rec, len) < 0 ? -1 : 0;
}

int acct_rotate(struct acct_db *db, int force)
{
	char spath[PATH_CAP], jpath[PATH_CAP];
	struct jlog *snap = NULL, *nj = NULL;
	if (!db->jl)
		return 0;
	uint64_t size = jlog_end(db->jl), lim = db->lim.rotate_bytes;
	if (!force && (size < lim || size < db->snap_bytes))
		return 0;
	if (acct_sync(db) < 0)
		return -1;
	uint64_t g = db->jgen + 1, t0 = mono_ms();
	if (path_of(db, spath, "snap", g) < 0 || path_of(db, jpath, "journal", g) < 0)
		return -1;
	unlink(spath);
	unlink(jpath);
	if (jlog_open(&snap, spath, NULL) < 0)
		return -1;
	if (acct_dump(db, emit_snap, snap) < 0 ||
	    (db->lim.no_sync ? jlog_flush(snap) : jlog_sync(snap)) < 0)
		goto fail;
	uint64_t snap_bytes = jlog_end(snap);
	jlog_close(snap);
	snap = NULL;
	if (jlog_open(&nj, jpath, NULL) < 0)
		goto fail;
	if (write_current(db, g) < 0) {
		/* CURRENT may or may not have been replaced: believe what it says now. */
		char e[128];
		uint64_t was = db->gen;
		if (read_current(db, e, sizeof(e)) < 0 || db->gen != g) {
			db->gen = was;
			goto fail;
		}
	}
	db->base += jlog_end(db->jl);
	jlog_close(db->jl);
	db->jl = nj;
	db->gen = db->jgen = g;
	db->snap_bytes = snap_bytes;
	remove_stale(db, g, g);
	log_info("accounts: snapshot %" PRIu64 " written (%" PRIu64 " bytes, %u accounts) in %" PRIu64
	    " ms", g, snap_bytes, db->live, mono_ms() - t0);
	return 0;
fail:
	{
		int e = errno;
		if (snap)
			jlog_close(snap);
		if (nj)
			jlog_close(nj);
		unlink(spath);
		unlink(jpath);
		errno = e;
	}
	return -1;
}
