/* rdvd_int.h: private structures of the rendezvous server core (rdvd*.c). */
#ifndef TINCAN_RDVD_INT_H
#define TINCAN_RDVD_INT_H

#include <netinet/in.h>

#include "noise.h"
#include "rdvd.h"
#include "rdvmsg.h"
#include "rel.h"

enum {
	SESS_CHUNK = 4096,		/* sessions are allocated in chunks and never move */
	KP_CHUNK = 1024,		/* keypairs per sodium_malloc'd arena */
	BUCKETS_SRC = 1 << 16,		/* token buckets per source address (shared on collision) */
	BUCKETS_KEY = 1 << 14,		/* token buckets per sender key for contact requests */
	MAIL_WINDOW = 32,		/* MAIL pushed ahead of the client's acknowledgements */
};

enum sess_state {
	SESS_FREE = 0,
	SESS_HS = 1,			/* RESP sent, no DATA yet */
	SESS_UP = 2,
};

enum sess_flag {
	SF_TOUCHED = 1 << 0,		/* in srv->touched: poll rel at the next flush */
	SF_WAITING = 1 << 1,		/* in srv->waiting: answers held for the journal */
	SF_BUSY = 1 << 2,		/* in srv->busy: rel has work pending */
	SF_CLOSE = 1 << 3,		/* drop at the next flush */
};

/* Token bucket: tokens in thousandths, refilled at rate per period. */
struct bucket {
	uint32_t milli;
	uint32_t last_ms;		/* low bits of mono_ms at the last refill; 0 = never used */
};

/* A message waiting for the journal to be synced before it may go out. */
struct outq {
	struct outq *next;
	uint64_t tag;			/* acct_end() when it was made */
	uint16_t len;
	uint8_t data[];
};

/* What few sessions need; allocated on first use. */
struct sess_ext {
	char *text;			/* status text (logged in), NULL if empty */
	struct rdv_addr *local;		/* reported local addresses */
	uint8_t nlocal;
	uint32_t nsubs, csubs;
	uint64_t *subs;			/* sorted: account id << 32 | generation */
	struct outq *oq_head, *oq_tail;
	uint32_t noq;
};

union rdvd_sa {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct sess {
	uint8_t pk[32];
	struct rdvd *srv;
	struct noise_keypair *cur, *next;
	struct rel rel;
	uint32_t acct, acct_gen;	/* logged in as this account (0: not logged in) */
	uint32_t src;
	union rdvd_sa addr;
	uint8_t addrlen;
	uint8_t state, status, flags;
	uint8_t ts[NOISE_TS_LEN];	/* newest INIT timestamp accepted */
	uint32_t idx;			/* own index in the session store */
	uint64_t last_rx_ms, created_ms;
	uint64_t mail_last;		/* highest mail id pushed in this login */
	struct bucket req_bucket;
	struct sess_ext *x;
};

/* Relay accounting of one sender (by account id), kept only while it relays: the table is
 * emptied at each 24-hour boundary, which also restarts the daily count. */
struct relay_user {
	uint32_t id, gen;		/* id 0 = empty slot */
	uint64_t last_ms;		/* last refill */
	uint64_t bytes_milli;		/* byte tokens, in thousandths */
	uint64_t pkts_milli;		/* packet tokens, in thousandths */
	uint64_t day_bytes;		/* forwarded in the current 24 hours */
};

/* u32 -> session index map (receiver indices, TCP sources): open addressing, key 0 = empty. */
struct idx_ent {
	uint32_t key;
	uint32_t sess;
};

struct u32map {
	struct idx_ent *e;
	uint32_t mask, count;
};

struct rdvd {
	const struct identity *me;
	struct acct_db *db;
	struct rdvd_conf conf;
	rdvd_send_fn send;
	void *send_arg;
	struct noise_hs *hs;
	struct noise_cookie_checker *cc;	/* sodium_malloc'd */
	uint8_t hkey[16];
	/* sessions: chunks, free ids, tables */
	struct sess **chunks;
	uint32_t nchunks, nsess_slots;	/* slots handed out so far */
	uint32_t *free_sess;
	uint32_t nfree_sess, cfree_sess;
	uint64_t nsessions, nhandshaking, nlogged;
	struct u32map by_idx, by_tcp;
	uint32_t *by_pk;		/* session index + 1, 0 = empty */
	uint32_t pk_mask, pk_count;
	/* keypair pool */
	struct noise_keypair **kp_arenas;
	uint32_t nkp_arenas;
	struct noise_keypair **kp_free;
	uint32_t nkp_free, ckp_free;
	uint64_t nkp;
	/* work lists of session indices */
	uint32_t *touched, *waiting, *busy;
	uint32_t ntouched, ctouched, nwaiting, cwaiting, nbusy, cbusy;
	/* abuse limits */
	struct bucket *src_hs, *src_reg, *key_req;
	uint64_t load_s;
	uint32_t load_cur, load_prev;
	struct relay_user *relay;	/* open addressing by account id; NULL until used */
	uint32_t relay_mask, relay_count;
	uint64_t relay_day;		/* now_ms / 86400000 when the table was started */
	uint64_t last_sweep_ms, now_ms, sync_warn_ms;
	int shutting_down;
	struct rdvd_stats st;
	struct rdv_msg msg;		/* decode buffer for one request */
	struct rdv_msg pres;		/* presence being built */
	uint8_t pt[NOISE_MAX_PACKET];	/* decrypted packet */
	uint8_t ct[REL_MAX_PKT + NOISE_DATA_OVERHEAD + 64];	/* packet to send */
};

/* rdvd.c */
struct sess *rdvd_sess(const struct rdvd *srv, uint32_t i);
struct sess *rdvd_sess_by_pk(const struct rdvd *srv, const uint8_t pk[32]);
void rdvd_touch(struct rdvd *srv, struct sess *s);
void rdvd_sess_free(struct rdvd *srv, struct sess *s);	/* logs out first */
uint32_t rdvd_tcp_session(const struct rdvd *srv, uint32_t src);	/* UINT32_MAX: none */
/* 1 and one token taken, or 0 (empty). rate per period_s seconds; rate 0 = no limit. */
int rdvd_bucket_take(struct bucket *b, uint32_t rate, uint32_t burst, uint32_t period_s,
    uint64_t now_ms);
struct bucket *rdvd_bucket_for(struct rdvd *srv, struct bucket *tab, uint32_t n, const void *key,
    size_t klen);
/* Bytes naming a source: IPv4 address, or IPv6 /64 prefix; with_port: full address + port. */
size_t rdvd_src_key(const union rdvd_sa *a, uint8_t out[18], int with_port);
int rdvd_subscribed(const struct sess *s, uint32_t id, uint32_t gen);

/* rdvd_req.c */
extern const struct rel_ops rdvd_rel_ops;
/* Queue a message to s, held until the journal holds everything before it. */
void rdvd_push(struct rdvd *srv, struct sess *s, const uint8_t *msg, size_t len);
/* Move held messages whose journal position is synced into rel. */
void rdvd_release(struct rdvd *srv, struct sess *s);
/* Mail for a logged-in client, a window at a time. */
void rdvd_pump_mail(struct rdvd *srv, struct sess *s);
/* A logged-in session ends (dead, logout, release): tell its subscribers. */
void rdvd_logout(struct rdvd *srv, struct sess *s);
/* The observed address of a logged-in client changed. */
void rdvd_presence_changed(struct rdvd *srv, struct sess *s);
void rdvd_ext_free(struct sess *s);

/* rdvd_relay.c */
/* rel's frame callback (arg: the session): FR_RELAY is forwarded or dropped, others ignored. */
void rdvd_relay_frame(void *arg, int type, const uint8_t *body, size_t len);
void rdvd_relay_free(struct rdvd *srv);

#endif
