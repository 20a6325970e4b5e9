/* accounts.h: tincand's durable state: names, allow lists, requests, prekeys, mailboxes. */
#ifndef TINCAN_ACCOUNTS_H
#define TINCAN_ACCOUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "rdvmsg.h"

/*
 * The whole state lives in memory and is made durable by an append-only journal of operations
 * (journal.h: CRC-checked frames, torn tail cut at open) plus snapshots. Files in the state
 * directory:
 *
 *	CURRENT		"tincand-state 1\nsnap N\n", replaced atomically (store_write_atomic)
 *	snap.N		the state as a sequence of records (absent for N = 0: empty state)
 *	journal.N	records appended since snap.N (then journal.N+1, ... if present)
 *
 * A snapshot is written under a new generation G, synced, journal.G created, then CURRENT is
 * switched to G and the old files removed: a crash at any point leaves either the old or the
 * new generation complete. Records (the same in snapshots and journals), integers big-endian:
 *
 *	1 REGISTER	pk 32, name str8 (lower case)
 *	2 RELEASE	pk 32
 *	3 MOVE		old pk 32, new pk 32
 *	4 ALLOW		owner pk 32, target pk 32, mode u8 (0 remove, 1 allow, 2 block)
 *	5 REQ_ADD	target pk 32, from pk 32, handle str8, text str8
 *	6 REQ_DEL	target pk 32, from pk 32
 *	7 PREKEYS	owner pk 32, spk_id u32, spk 32, sig 64, n u8, (opk_id u32, opk 32) * n
 *	8 OPK_TAKE	owner pk 32, opk_id u32
 *	9 MAIL_PUT	recipient pk 32, mail_id u64, from pk 32, sealed str16
 *	10 MAIL_ACK	recipient pk 32, mail_id u64
 *	11 META		next_mail_id u64 (first record of a snapshot)
 *
 * Limits (quotas) are checked when an operation is made, never at replay, so lowering a limit
 * loses nothing already stored. Every operation is validated, appended, then applied; an
 * operation is durable once acct_synced() >= the acct_end() read after it.
 */

enum {
	ACCT_NONE = 0,		/* account ids are >= 1 */
	ACCT_REC_MAX = 1 + 32 + 8 + 32 + 2 + RDV_SEALED_MAX,
};

struct acct_limits {
	uint32_t max_accounts;		/* REGISTER beyond: QUOTA */
	uint32_t max_allow;		/* entries in one allow/block list */
	uint32_t max_requests;		/* pending contact requests per user */
	uint32_t mail_per_sender;	/* mails from one sender in one mailbox */
	uint32_t mail_per_box;		/* mails in one mailbox */
	uint64_t mail_bytes;		/* sealed bytes stored in all mailboxes */
	uint64_t rotate_bytes;		/* snapshot once the journal is larger than this and the
					 * last snapshot */
	int no_sync;			/* tests and fuzzing only: never fsync */
};
void acct_limits_default(struct acct_limits *lim);

struct acct_allow {
	uint8_t pk[32];
	uint8_t mode;			/* RDV_ALLOW_ALLOW or RDV_ALLOW_BLOCK */
};

struct acct_req {
	struct acct_req *next;		/* oldest first */
	uint8_t from[32];
	char *handle, *text;		/* NUL-terminated, inside this allocation */
};

struct acct_mail {
	struct acct_mail *next;		/* in the order stored */
	uint64_t id;
	uint8_t from[32];
	uint16_t len;
	uint8_t sealed[];
};

struct acct_bundle {
	uint32_t spk_id;
	uint8_t spk[32], sig[64];
	struct rdv_opk opk;		/* id 0 and zero key: none left */
};

struct acct_db;

/* Open (or create) the state in dir (created 0700), replaying snapshot and journals; dir NULL
 * gives a memory-only database (tests, fuzzing). Takes an exclusive lock: a second process on
 * the same directory fails. 0 ok, -1 with a message in err. */
int acct_open(struct acct_db **db, const char *dir, const struct acct_limits *lim,
    char *err, size_t errlen);
/* Sync and close; NULL is a no-op. */
void acct_close(struct acct_db *db);
void acct_set_limits(struct acct_db *db, const struct acct_limits *lim);

/* Durability: positions grow monotonically across journal rotations. */
uint64_t acct_end(const struct acct_db *db);	/* after the last operation */
uint64_t acct_synced(const struct acct_db *db);	/* everything before is on disk */
int acct_dirty(const struct acct_db *db);	/* operations not yet synced */
/* Group commit: write and fdatasync the journal. 0 ok, -1 (errno; nothing acknowledged). */
int acct_sync(struct acct_db *db);
/* Snapshot and switch to a new journal if the journal has grown past the limit (or always if
 * force). Syncs first. 0 ok or not needed, -1 error (the old generation stays in use). */
int acct_rotate(struct acct_db *db, int force);

/* What replay found at open (for the log). */
struct acct_stats {
	uint32_t accounts, with_mail, with_prekeys;
	uint64_t mails, mail_bytes, requests, allow_entries;
	uint64_t replayed, skipped, cut_bytes;	/* records applied / inapplicable / torn tail */
	uint64_t generation, journal_bytes;
};
void acct_stats(const struct acct_db *db, struct acct_stats *st);

/* Lookups. Ids stay valid until the account is released or moved; gen tells a reused id. */
uint32_t acct_by_pk(const struct acct_db *db, const uint8_t pk[32]);
uint32_t acct_by_name(const struct acct_db *db, const char *name);	/* any case */
const uint8_t *acct_pk(const struct acct_db *db, uint32_t id);
const char *acct_name(const struct acct_db *db, uint32_t id);	/* valid until the next op */
uint32_t acct_gen(const struct acct_db *db, uint32_t id);
/* Mode of target in id's list: 0 none, RDV_ALLOW_ALLOW, RDV_ALLOW_BLOCK. */
int acct_mode(const struct acct_db *db, uint32_t id, const uint8_t target[32]);
/* id's list (both modes); valid until the next op. */
const struct acct_allow *acct_list(const struct acct_db *db, uint32_t id, size_t *n);
const struct acct_req *acct_requests(const struct acct_db *db, uint32_t id);
const struct acct_mail *acct_mails(const struct acct_db *db, uint32_t id);
uint32_t acct_mail_count(const struct acct_db *db, uint32_t id);
int acct_has_prekeys(const struct acct_db *db, uint32_t id);
uint32_t acct_opk_count(const struct acct_db *db, uint32_t id);

/* Operations; each returns an RDV_* code, and journals only when it changes something. */
int acct_register(struct acct_db *db, const uint8_t pk[32], const char *name);
int acct_release(struct acct_db *db, const uint8_t pk[32], const char *name);
/* sig: Ed25519 by pk over rdv_move_sigmsg(name, new_pk). */
int acct_move(struct acct_db *db, const uint8_t pk[32], const char *name,
    const uint8_t new_pk[32], const uint8_t sig[64]);
int acct_allow(struct acct_db *db, uint32_t id, const uint8_t target[32], int mode);
/* A contact request to id: OK even when dropped (blocked sender); *stored tells. */
int acct_request(struct acct_db *db, uint32_t id, const uint8_t from[32], const char *handle,
    const char *text, int *stored);
/* sig: Ed25519 by id's key over rdv_spk_sigmsg(spk_id, spk). */
int acct_prekeys(struct acct_db *db, uint32_t id, uint32_t spk_id, const uint8_t spk[32],
    const uint8_t sig[64], size_t n, const struct rdv_opk *opk);
/* Bundle of id for requester (must be in id's allow list, else NOTFOUND); takes one OPK. */
int acct_bundle(struct acct_db *db, uint32_t id, const uint8_t requester[32], struct acct_bundle *b);
int acct_mail_put(struct acct_db *db, uint32_t id, const uint8_t from[32], const uint8_t *sealed,
    size_t len, uint64_t *mail_id);
int acct_mail_ack(struct acct_db *db, uint32_t id, uint64_t mail_id);

/* Apply one record as replay does (for fuzzing): 0 applied, -1 malformed or inapplicable. */
int acct_apply(struct acct_db *db, const uint8_t *rec, size_t len);
/* Check every internal invariant (tables, counts, lists); 0 ok, -1 broken. O(state). */
int acct_check(const struct acct_db *db);

#endif
