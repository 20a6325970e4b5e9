/* test_accounts.c: tincand accounts: rules, lists, quotas, prekeys, mail, replay, crashes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "acct_int.h"
#include "check.h"
#include "crypto.h"
#include "log.h"
#include "util.h"

enum { NID = 12 };
static struct identity ids[NID];
static char tmpdir[] = "/tmp/test_accounts.XXXXXX";

static const uint8_t *K(int i)
{
	return ids[i].pk;
}

static int quiet;

static struct acct_db *open_db(const char *dir, const struct acct_limits *lim)
{
	struct acct_limits def;
	char err[256];
	struct acct_db *db;
	if (!lim) {
		acct_limits_default(&def);
		def.no_sync = 1;
		lim = &def;
	}
	if (acct_open(&db, dir, lim, err, sizeof(err)) < 0) {
		if (!quiet)
			fprintf(stderr, "acct_open: %s\n", err);
		return NULL;
	}
	return db;
}

/* --- a digest of the whole state, independent of ids: the sorted snapshot records --- */

struct recs {
	uint8_t **r;
	size_t *len, n, cap;
};

static int collect(void *arg, const uint8_t *rec, size_t len)
{
	struct recs *rs = arg;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 64;
		rs->r = realloc(rs->r, rs->cap * sizeof(*rs->r));
		rs->len = realloc(rs->len, rs->cap * sizeof(*rs->len));
	}
	rs->r[rs->n] = malloc(len);
	memcpy(rs->r[rs->n], rec, len);
	rs->len[rs->n++] = len;
	return 0;
}

static int acct_dump_pub(const struct acct_db *db, struct recs *rs);

static void digest(const struct acct_db *db, uint8_t out[32])
{
	struct recs rs = { 0 };
	acct_dump_pub(db, &rs);
	/* sort by content (insertion sort: small states) */
	for (size_t i = 1; i < rs.n; i++) {
		for (size_t j = i; j > 0; j--) {
			size_t a = rs.len[j - 1], b = rs.len[j];
			int c = memcmp(rs.r[j - 1], rs.r[j], a < b ? a : b);
			if (c < 0 || (c == 0 && a <= b))
				break;
			uint8_t *t = rs.r[j]; rs.r[j] = rs.r[j - 1]; rs.r[j - 1] = t;
			size_t tl = rs.len[j]; rs.len[j] = rs.len[j - 1]; rs.len[j - 1] = tl;
		}
	}
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	for (size_t i = 0; i < rs.n; i++) {
		uint8_t l[4];
		put_u32(l, (uint32_t)rs.len[i]);
		crypto_generichash_update(&st, l, 4);
		crypto_generichash_update(&st, rs.r[i], rs.len[i]);
		free(rs.r[i]);
	}
	crypto_generichash_final(&st, out, 32);
	free(rs.r);
	free(rs.len);
}

static int acct_dump_pub(const struct acct_db *db, struct recs *rs)
{
	return acct_dump(db, collect, rs);
}

/* --- unit checks on a memory database --- */

static void test_names(void)
{
	struct acct_limits lim;
	acct_limits_default(&lim);
	lim.max_accounts = 4;
	struct acct_db *db = open_db(NULL, &lim);
	CHECK(acct_register(db, K(0), "Alice") == RDV_OK);
	CHECK(acct_register(db, K(0), "alice") == RDV_OK);		/* ours already */
	CHECK(acct_register(db, K(0), "ALICE") == RDV_OK);
	CHECK(acct_register(db, K(1), "aLiCe") == RDV_TAKEN);
	CHECK(acct_register(db, K(0), "alice2") == RDV_BAD);	/* one name per key */
	CHECK(acct_register(db, K(1), ".bob") == RDV_BAD);
	CHECK(acct_register(db, K(1), "bo b") == RDV_BAD);
	CHECK(acct_register(db, K(1), "") == RDV_BAD);
	CHECK(acct_register(db, K(1), "abcdefghijklmnopqrstuvwxyz0123456") == RDV_BAD);
	CHECK(acct_register(db, K(1), "abcdefghijklmnopqrstuvwxyz012345") == RDV_OK);
	CHECK(acct_register(db, K(2), "b-o_b.9") == RDV_OK);
	CHECK(acct_register(db, K(3), "carol") == RDV_OK);
	CHECK(acct_register(db, K(4), "dave") == RDV_QUOTA);
	uint32_t a = acct_by_name(db, "ALICE");
	CHECK(a && !memcmp(acct_pk(db, a), K(0), 32) && !strcmp(acct_name(db, a), "alice"));
	CHECK(acct_by_pk(db, K(0)) == a && acct_by_pk(db, K(4)) == ACCT_NONE);
	CHECK(acct_by_name(db, "nobody") == ACCT_NONE && acct_by_name(db, "no body") == ACCT_NONE);

	/* release */
	CHECK(acct_release(db, K(4), "dave") == RDV_NOTREG);
	CHECK(acct_release(db, K(0), "carol") == RDV_NOTFOUND);
	uint32_t gen = acct_gen(db, a);
	CHECK(acct_release(db, K(0), "Alice") == RDV_OK);
	CHECK(acct_by_name(db, "alice") == ACCT_NONE && acct_by_pk(db, K(0)) == ACCT_NONE);
	CHECK(acct_gen(db, a) != gen && acct_pk(db, a) == NULL);
	CHECK(acct_register(db, K(4), "alice") == RDV_OK);		/* the name is free again */
	CHECK(acct_check(db) == 0);

	/* move: signature by the old key over the lower-case name and the new key */
	uint8_t msg[RDV_MOVE_SIGMSG_MAX], sig[64];
	uint32_t c = acct_by_name(db, "carol");
	CHECK(acct_allow(db, c, K(7), RDV_ALLOW_ALLOW) == RDV_OK);
	size_t n = rdv_move_sigmsg("carol", K(5), msg);
	identity_sign(&ids[3], msg, n, sig);
	CHECK(acct_move(db, K(3), "CAROL", K(4), sig) == RDV_BAD);	/* signed for K(5) */
	n = rdv_move_sigmsg("carol", K(4), msg);
	identity_sign(&ids[3], msg, n, sig);
	CHECK(acct_move(db, K(3), "carol", K(4), sig) == RDV_TAKEN);	/* K(4) holds alice */
	n = rdv_move_sigmsg("carol", K(5), msg);
	identity_sign(&ids[5], msg, n, sig);
	CHECK(acct_move(db, K(3), "carol", K(5), sig) == RDV_BAD);	/* signed by the new key */
	identity_sign(&ids[3], msg, n, sig);
	CHECK(acct_move(db, K(6), "carol", K(5), sig) == RDV_NOTREG);
	CHECK(acct_move(db, K(3), "carol", K(5), sig) == RDV_OK);
	CHECK(acct_by_name(db, "carol") == c && !memcmp(acct_pk(db, c), K(5), 32));
	CHECK(acct_by_pk(db, K(3)) == ACCT_NONE && acct_mode(db, c, K(7)) == RDV_ALLOW_ALLOW);
	CHECK(acct_check(db) == 0);
	acct_close(db);
}

static void test_lists(void)
{
	struct acct_limits lim;
	acct_limits_default(&lim);
	lim.max_allow = 3;
	lim.max_requests = 2;
	struct acct_db *db = open_db(NULL, &lim);
	CHECK(acct_register(db, K(0), "alice") == RDV_OK);
	uint32_t a = acct_by_pk(db, K(0));
	CHECK(acct_allow(db, 999, K(1), 1) == RDV_NOTREG);
	CHECK(acct_allow(db, a, K(1), 3) == RDV_BAD);
	CHECK(acct_allow(db, a, K(1), RDV_ALLOW_ALLOW) == RDV_OK);
	CHECK(acct_allow(db, a, K(2), RDV_ALLOW_BLOCK) == RDV_OK);
	CHECK(acct_allow(db, a, K(3), RDV_ALLOW_ALLOW) == RDV_OK);
	CHECK(acct_allow(db, a, K(4), RDV_ALLOW_ALLOW) == RDV_QUOTA);
	CHECK(acct_allow(db, a, K(3), RDV_ALLOW_BLOCK) == RDV_OK);	/* a change, not a new entry */
	CHECK(acct_mode(db, a, K(1)) == RDV_ALLOW_ALLOW && acct_mode(db, a, K(2)) == RDV_ALLOW_BLOCK);
	CHECK(acct_mode(db, a, K(3)) == RDV_ALLOW_BLOCK && acct_mode(db, a, K(4)) == 0);
	CHECK(acct_allow(db, a, K(3), RDV_ALLOW_REMOVE) == RDV_OK);
	CHECK(acct_allow(db, a, K(3), RDV_ALLOW_REMOVE) == RDV_OK);
	size_t n;
	acct_list(db, a, &n);
	CHECK(n == 2);

	/* requests: blocked ones vanish, newer replaces older, the oldest gives way */
	int stored;
	CHECK(acct_request(db, a, K(2), "x@h", "hi", &stored) == RDV_OK && !stored);
	CHECK(acct_requests(db, a) == NULL);
	CHECK(acct_request(db, a, K(5), "e@h", "one", &stored) == RDV_OK && stored);
	CHECK(acct_request(db, a, K(5), "e@h", "two", &stored) == RDV_OK && stored);
	CHECK(acct_request(db, a, K(6), "f@h", "three", &stored) == RDV_OK && stored);
	const struct acct_req *q = acct_requests(db, a);
	CHECK(q && !memcmp(q->from, K(5), 32) && !strcmp(q->text, "two") && !strcmp(q->handle, "e@h"));
	CHECK(q && q->next && !memcmp(q->next->from, K(6), 32) && !q->next->next);
	CHECK(acct_request(db, a, K(7), "g@h", "four", &stored) == RDV_OK && stored);
	q = acct_requests(db, a);
	CHECK(q && !memcmp(q->from, K(6), 32) && q->next && !memcmp(q->next->from, K(7), 32));
	CHECK(acct_request(db, 77, K(7), "g@h", "x", &stored) == RDV_NOTFOUND);
	/* answering (deny = remove) deletes it */
	CHECK(acct_allow(db, a, K(6), RDV_ALLOW_REMOVE) == RDV_OK);
	q = acct_requests(db, a);
	CHECK(q && !memcmp(q->from, K(7), 32) && !q->next);
	CHECK(acct_check(db) == 0);
	acct_close(db);
}

static void test_prekeys_mail(void)
{
	struct acct_limits lim;
	acct_limits_default(&lim);
	lim.mail_per_sender = 3;
	lim.mail_per_box = 5;
	lim.mail_bytes = 700;
	struct acct_db *db = open_db(NULL, &lim);
	CHECK(acct_register(db, K(0), "bob") == RDV_OK);
	uint32_t b = acct_by_pk(db, K(0));
	uint8_t spk[32], msg[RDV_SPK_SIGMSG_LEN], sig[64];
	struct rdv_opk opk[3];
	struct acct_bundle bd;
	memset(spk, 0x11, 32);
	rdv_spk_sigmsg(9, spk, msg);
	identity_sign(&ids[0], msg, sizeof(msg), sig);
	for (int i = 0; i < 3; i++) {
		opk[i].id = (uint32_t)(100 + i);
		memset(opk[i].pk, 0x20 + i, 32);
	}
	CHECK(acct_prekeys(db, b, 10, spk, sig, 3, opk) == RDV_BAD);	/* signed id 9 */
	CHECK(acct_prekeys(db, b, 9, spk, sig, 3, opk) == RDV_OK);
	CHECK(acct_opk_count(db, b) == 3);
	CHECK(acct_bundle(db, b, K(1), &bd) == RDV_NOTFOUND);		/* not allowed */
	CHECK(acct_allow(db, b, K(1), RDV_ALLOW_ALLOW) == RDV_OK);
	CHECK(acct_allow(db, b, K(2), RDV_ALLOW_ALLOW) == RDV_OK);
	CHECK(acct_bundle(db, b, K(1), &bd) == RDV_OK && bd.spk_id == 9 && bd.opk.id == 100);
	CHECK(!memcmp(bd.sig, sig, 64) && bd.opk.pk[0] == 0x20);
	CHECK(acct_bundle(db, b, K(1), &bd) == RDV_OK && bd.opk.id == 101);
	CHECK(acct_bundle(db, b, K(1), &bd) == RDV_OK && bd.opk.id == 102);
	CHECK(acct_bundle(db, b, K(1), &bd) == RDV_OK && bd.opk.id == 0 && bd.opk.pk[0] == 0);
	/* 110 one-time prekeys: the newest 100 are kept */
	struct rdv_opk many[RDV_OPK_MSG_MAX];
	for (int i = 0; i < RDV_OPK_MSG_MAX; i++) {
		many[i].id = (uint32_t)(1000 + i);
		memset(many[i].pk, i, 32);
	}
	CHECK(acct_prekeys(db, b, 9, spk, sig, 10, many) == RDV_OK);
	for (int i = 0; i < RDV_OPK_MSG_MAX; i++)
		many[i].id = (uint32_t)(2000 + i);
	CHECK(acct_prekeys(db, b, 9, spk, sig, RDV_OPK_MSG_MAX, many) == RDV_OK);
	CHECK(acct_opk_count(db, b) == RDV_OPK_STORE_MAX);
	CHECK(acct_bundle(db, b, K(1), &bd) == RDV_OK && bd.opk.id == 2000);

	/* mail */
	uint8_t sealed[400];
	uint64_t mid, first = 0;
	memset(sealed, 0xee, sizeof(sealed));
	CHECK(acct_mail_put(db, b, K(3), sealed, 10, &mid) == RDV_NOTFOUND);	/* not allowed */
	CHECK(acct_mail_put(db, 55, K(1), sealed, 10, &mid) == RDV_NOTFOUND);
	CHECK(acct_mail_put(db, b, K(1), sealed, 0, &mid) == RDV_BAD);
	for (int i = 0; i < 3; i++) {
		sealed[0] = (uint8_t)i;
		CHECK(acct_mail_put(db, b, K(1), sealed, 100, &mid) == RDV_OK && mid);
		if (!first)
			first = mid;
	}
	CHECK(acct_mail_put(db, b, K(1), sealed, 100, &mid) == RDV_QUOTA);	/* per sender */
	CHECK(acct_mail_put(db, b, K(2), sealed, 100, &mid) == RDV_OK);
	CHECK(acct_mail_put(db, b, K(2), sealed, 300, &mid) == RDV_OK);
	uint64_t big = mid;
	CHECK(acct_mail_put(db, b, K(2), sealed, 1, &mid) == RDV_QUOTA && mid == 0);	/* per box */
	CHECK(acct_mail_ack(db, b, big) == RDV_OK);
	CHECK(acct_mail_put(db, b, K(2), sealed, 301, &mid) == RDV_QUOTA);	/* bytes */
	CHECK(acct_mail_count(db, b) == 4);
	const struct acct_mail *m = acct_mails(db, b);
	CHECK(m && m->id == first && m->sealed[0] == 0 && m->len == 100 && !memcmp(m->from, K(1), 32));
	CHECK(m && m->next && m->next->sealed[0] == 1 && m->next->id > first);
	CHECK(acct_mail_ack(db, b, first) == RDV_OK && acct_mail_ack(db, b, first) == RDV_NOTFOUND);
	CHECK(acct_mail_ack(db, 55, first) == RDV_NOTREG);
	CHECK(acct_mails(db, b) && acct_mails(db, b)->sealed[0] == 1);
	CHECK(acct_check(db) == 0);
	/* a release frees everything */
	CHECK(acct_release(db, K(0), "bob") == RDV_OK);
	struct acct_stats st;
	acct_stats(db, &st);
	CHECK(st.accounts == 0 && st.mails == 0 && st.mail_bytes == 0 && st.allow_entries == 0);
	CHECK(st.with_prekeys == 0 && st.with_mail == 0);
	CHECK(acct_check(db) == 0);
	acct_close(db);
}

/* --- a deterministic stream of operations: op k depends only on k and the state --- */

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static void do_op(struct acct_db *db, uint64_t k)
{
	uint64_t r = mix(k);
	int who = (int)(r % NID), other = (int)((r >> 8) % NID), kind = (int)((r >> 16) % 12);
	uint32_t id = acct_by_pk(db, K(who));
	char name[40], text[40];
	uint8_t buf[RDV_SEALED_MAX], sig[64], msg[RDV_MOVE_SIGMSG_MAX];
	int stored;
	snprintf(name, sizeof(name), "%s%u", (r >> 40) & 1 ? "User" : "user", (unsigned)((r >> 20) % 16));
	snprintf(text, sizeof(text), "t%llu", (unsigned long long)k);
	switch (kind) {
	case 0: case 1: case 11:
		acct_register(db, K(who), name);
		break;
	case 2:
		if ((r >> 24) % 3 == 0)	/* releases are rarer than registrations */
			acct_release(db, K(who), id ? acct_name(db, id) : name);
		break;
	case 3:
		acct_allow(db, id, K(other), (int)((r >> 24) % 3));
		break;
	case 4:
		acct_request(db, acct_by_name(db, name), K(other), "someone@host", text, &stored);
		break;
	case 5: {
		struct rdv_opk opk[4];
		uint8_t spk[32], sm[RDV_SPK_SIGMSG_LEN];
		size_t n = (r >> 24) % 5;
		memset(spk, (int)(r >> 32), 32);
		rdv_spk_sigmsg((uint32_t)k, spk, sm);
		identity_sign(&ids[who], sm, sizeof(sm), sig);
		for (size_t i = 0; i < n; i++) {
			opk[i].id = (uint32_t)(k * 4 + i + 1);
			memset(opk[i].pk, (int)i, 32);
		}
		acct_prekeys(db, id, (uint32_t)k, spk, sig, n, opk);
		break;
	}
	case 6: {
		struct acct_bundle b;
		acct_bundle(db, acct_by_pk(db, K(other)), K(who), &b);
		break;
	}
	case 7: case 8: {
		uint64_t mid;
		size_t len = 1 + (r >> 24) % 300;
		if ((r >> 50) % 20 == 0)
			len = RDV_SEALED_MAX;
		memset(buf, (int)k, len);
		if ((r >> 45) % 2)
			acct_allow(db, acct_by_pk(db, K(other)), K(who), RDV_ALLOW_ALLOW);
		acct_mail_put(db, acct_by_pk(db, K(other)), K(who), buf, len, &mid);
		break;
	}
	case 9: {
		const struct acct_mail *m = acct_mails(db, id);
		if (m && (r >> 24) % 2 && m->next)
			m = m->next;
		acct_mail_ack(db, id, m ? m->id : 1);
		break;
	}
	case 10:
		if (id && (r >> 24) % 4 == 0) {
			size_t n = rdv_move_sigmsg(acct_name(db, id), K(other), msg);
			identity_sign(&ids[who], msg, n, sig);
			acct_move(db, K(who), acct_name(db, id), K(other), sig);
		}
		break;
	}
}

static int same(const struct acct_db *a, const struct acct_db *b)
{
	uint8_t da[32], dbb[32];
	digest(a, da);
	digest(b, dbb);
	return !memcmp(da, dbb, 32);
}

static void test_persist(void)
{
	char dir[256], path[300];
	struct acct_limits lim;
	acct_limits_default(&lim);
	lim.rotate_bytes = 4000;
	snprintf(dir, sizeof(dir), "%s/persist", tmpdir);
	struct acct_db *db = open_db(dir, &lim), *model = open_db(NULL, NULL);
	CHECK(db && model);
	if (!db || !model)
		return;
	quiet = 1;
	CHECK(open_db(dir, &lim) == NULL);	/* locked */
	quiet = 0;
	for (uint64_t k = 1; k <= 600; k++) {
		do_op(db, k);
		do_op(model, k);
		if (k % 50 == 0)
			CHECK(acct_rotate(db, 0) == 0);
	}
	struct acct_stats st;
	acct_stats(db, &st);
	CHECK(st.accounts > 3 && st.mails > 3 && st.generation > 0);
	if (failures)
		fprintf(stderr, "accounts %u mails %llu gen %llu\n", st.accounts,
		    (unsigned long long)st.mails, (unsigned long long)st.generation);
	CHECK(acct_check(db) == 0 && same(db, model));
	uint64_t gen = st.generation;
	acct_close(db);
	db = open_db(dir, &lim);
	CHECK(db && acct_check(db) == 0 && same(db, model));
	acct_stats(db, &st);
	CHECK(st.generation == gen && st.skipped == 0 && st.cut_bytes == 0);
	acct_close(db);

	/* a torn tail is cut, a stale next snapshot is ignored and removed */
	snprintf(path, sizeof(path), "%s/journal.%llu", dir, (unsigned long long)gen);
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "\xfa\0\0\0\x10garbage", 12) == 12);
	close(fd);
	snprintf(path, sizeof(path), "%s/snap.%llu", dir, (unsigned long long)gen + 1);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, "junk", 4) == 4);
	close(fd);
	db = open_db(dir, &lim);
	CHECK(db && acct_check(db) == 0 && same(db, model));
	acct_stats(db, &st);
	CHECK(st.cut_bytes == 12 && access(path, F_OK) < 0);
	CHECK(acct_rotate(db, 1) == 0);
	acct_close(db);
	db = open_db(dir, &lim);
	CHECK(db && same(db, model));
	acct_close(db);
	acct_close(model);
}

/* The child runs operations from `start`, syncing after each batch and reporting how many are
 * acknowledged, until it is killed. */
static void crash_child(const char *dir, uint64_t start, int wfd)
{
	struct acct_limits lim;
	acct_limits_default(&lim);
	lim.rotate_bytes = 3000;
	struct acct_db *db = open_db(dir, &lim);
	if (!db)
		_exit(3);
	for (uint64_t k = start; k < start + 1000000;) {
		int batch = 1 + (int)(k % 7);
		while (batch--)
			do_op(db, k++);
		if (acct_rotate(db, 0) < 0 || acct_sync(db) < 0)
			_exit(4);
		if (write(wfd, &k, sizeof(k)) != sizeof(k))
			_exit(5);
	}
	_exit(0);
}

static void test_crash(void)
{
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/crash", tmpdir);
	struct acct_db *model = open_db(NULL, NULL);
	uint64_t done = 1, total_acked = 0;
	srand((unsigned)time(NULL));
	for (int round = 0; round < 20; round++) {
		int p[2];
		if (pipe(p) < 0)
			return;
		pid_t pid = fork();
		if (pid == 0) {
			close(p[0]);
			crash_child(dir, done, p[1]);
		}
		close(p[1]);
		struct timespec ts = { 0, (long)(2 + rand() % 80) * 1000000L };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		uint64_t acked = done, v;
		while (read(p[0], &v, sizeof(v)) == sizeof(v))
			acked = v;
		close(p[0]);
		total_acked += acked - done;

		struct acct_db *db = open_db(dir, NULL);
		CHECK(db != NULL);
		if (!db)
			break;
		CHECK(acct_check(db) == 0);
		/* the disk holds every acknowledged operation: some prefix at or past acked */
		while (done < acked)
			do_op(model, done++);
		int found = 0;
		for (int extra = 0; extra <= 16 && !found; extra++) {
			if (same(db, model))
				found = 1;
			else
				do_op(model, done++);
		}
		CHECK(found);
		acct_close(db);
		if (!found)
			break;
	}
	CHECK(total_acked > 20);
	acct_close(model);
}

int main(void)
{
	if (sodium_init() < 0 || !mkdtemp(tmpdir))
		return 1;
	log_set_file(-1);
	for (int i = 0; i < NID; i++) {
		uint8_t seed[32];
		memset(seed, i + 1, 32);
		identity_from_seed(seed, &ids[i]);
	}
	test_names();
	test_lists();
	test_prekeys_mail();
	test_persist();
	test_crash();
	for (int i = 0; i < NID; i++)
		identity_free(&ids[i]);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (!failures && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	if (failures)
		fprintf(stderr, "test_accounts: files left in %s\n", tmpdir);
	return check_end("test_accounts");
}
