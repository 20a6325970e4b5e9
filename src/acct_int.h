/* acct_int.h: private layout of the accounts database, shared by accounts.c and acctstore.c. */
#ifndef TINCAN_ACCT_INT_H
#define TINCAN_ACCT_INT_H

#include <string.h>

#include "accounts.h"

struct jlog;

enum acct_op {
	AOP_REGISTER = 1,
	AOP_RELEASE = 2,
	AOP_MOVE = 3,
	AOP_ALLOW = 4,
	AOP_REQ_ADD = 5,
	AOP_REQ_DEL = 6,
	AOP_PREKEYS = 7,
	AOP_OPK_TAKE = 8,
	AOP_MAIL_PUT = 9,
	AOP_MAIL_ACK = 10,
	AOP_META = 11,
};

/* Things most accounts do not have, allocated on first use and freed when empty. */
struct acct_ext {
	struct acct_allow *allow;
	uint32_t nallow, callow;
	uint32_t nreq;
	struct acct_req *req;
	struct acct_mail *mhead, *mtail;
	uint32_t nmail;
	struct acct_pre *pre;
};

struct acct_pre {
	uint32_t spk_id;
	uint8_t spk[32], sig[64];
	uint32_t nopk;
	struct rdv_opk opk[];		/* oldest first, nopk of them */
};

/* 48 bytes, so that a million accounts take 48 MB plus two tables of 8 MB. */
struct acct {
	uint8_t pk[32];
	uint32_t name_off;		/* into the names arena; 0 = free slot */
	uint32_t gen;			/* bumped when the slot is freed */
	struct acct_ext *ext;
};

/* Open-addressing table of account ids (0 = empty), linear probing, at most half full. */
struct acct_tab {
	uint32_t *slot;
	uint32_t mask;			/* capacity - 1 */
	uint32_t count;
};

struct acct_db {
	struct acct *a;			/* a[0] unused; ids index it */
	uint32_t na, ca;		/* slots used (incl. 0), capacity */
	uint32_t *freeids;
	uint32_t nfree, cfree;
	uint32_t live;
	struct acct_tab by_pk, by_name;
	uint8_t hkey[16];		/* SipHash key of both tables */
	char *names;			/* arena: len u8, bytes, NUL; offset 0 unused */
	uint32_t nnames, cnames, names_garbage;
	uint64_t next_mail_id;
	uint64_t mail_bytes, mails, requests, allow_entries;
	uint32_t with_mail, with_pre;
	struct acct_limits lim;
	/* persistence (acctstore.c); all NULL/0 for a memory-only database */
	char *dir;
	int lockfd;
	struct jlog *jl;
	uint64_t gen;			/* snapshot generation in CURRENT */
	uint64_t jgen;			/* journal being appended */
	uint64_t base;			/* logical position of the start of jl */
	uint64_t snap_bytes;		/* size of the last snapshot */
	uint64_t replayed, skipped, cut;
	int replaying;
};

/* Record builder: fills b[0..n), sets bad instead of overflowing. */
struct rb {
	uint8_t b[ACCT_REC_MAX];
	size_t n;
	int bad;
};

static inline void rb_bytes(struct rb *r, const void *p, size_t k)
{
	if (r->bad || k > sizeof(r->b) - r->n) {
		r->bad = 1;
		return;
	}
	memcpy(r->b + r->n, p, k);
	r->n += k;
}

static inline void rb_u8(struct rb *r, uint8_t v)
{
	rb_bytes(r, &v, 1);
}

static inline void rb_u16(struct rb *r, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	rb_bytes(r, b, 2);
}

static inline void rb_u32(struct rb *r, uint32_t v)
{
	rb_u16(r, (uint16_t)(v >> 16));
	rb_u16(r, (uint16_t)v);
}

static inline void rb_u64(struct rb *r, uint64_t v)
{
	rb_u32(r, (uint32_t)(v >> 32));
	rb_u32(r, (uint32_t)v);
}

static inline void rb_str8(struct rb *r, const char *s)
{
	size_t k = strlen(s);
	if (k > 255) {
		r->bad = 1;
		return;
	}
	rb_u8(r, (uint8_t)k);
	rb_bytes(r, s, k);
}

/* accounts.c: tables, names arena, extras */
void acct_tab_put(struct acct_db *db, struct acct_tab *t, uint32_t id);
int acct_tab_grow(struct acct_db *db, struct acct_tab *t);	/* room for one more */
void acct_tab_del(struct acct_db *db, struct acct_tab *t, uint32_t id);
uint32_t acct_find_name(const struct acct_db *db, const char *norm);
uint32_t acct_names_add(struct acct_db *db, const char *s, size_t n);	/* 0 = no memory */
void acct_names_compact(struct acct_db *db);
struct acct_ext *acct_ext_get(struct acct_db *db, uint32_t id);
void acct_ext_drop_mail(struct acct_db *db, struct acct_ext *x);
void acct_ext_drop_pre(struct acct_db *db, struct acct_ext *x);
void acct_ext_tidy(struct acct_db *db, uint32_t id);	/* free the extras if empty */
void acct_ext_free(struct acct_db *db, uint32_t id);
int acct_db_init(struct acct_db *db, const struct acct_limits *lim);
void acct_db_clear(struct acct_db *db);	/* free the memory state, keep limits */
/* Validate nothing beyond structure; used by the live operations after their checks. */
int acct_apply_rec(struct acct_db *db, const uint8_t *rec, size_t len);
/* Write the state as records through emit (snapshot). 0 ok, -1 if emit failed. */
int acct_dump(const struct acct_db *db, int (*emit)(void *arg, const uint8_t *rec, size_t len),
    void *arg);

/* acctstore.c: append a record to the journal (no-op in memory). 0 ok, -1 error. */
int acct_log(struct acct_db *db, const uint8_t *rec, size_t len);

#endif
