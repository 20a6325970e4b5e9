/* rdv_int.h: internals of the rendezvous client shared by rdv.c (accounts, contacts, presence),
 * rdv_conn.c (one encrypted session per server, requests) and rdv_mail.c (offline mail). */
#ifndef TINCAN_RDV_INT_H
#define TINCAN_RDV_INT_H


#include "engine_int.h"
#include "rdv.h"
#include "rdv_tcp.h"
#include "rdvmsg.h"
#include "seal.h"

enum {
	RDV_MAX_SERVERS = 64,
	RDV_HOST_MAX = 200,
	RDV_HANDLE_MAX = RDV_STR8_MAX,
	RDV_MAX_REQUESTS = 64,			/* unanswered requests shown at once */
	RDV_MAX_ACKS = 20000,			/* mail waiting for the log sync */
	RDV_MAX_DENIED = 1024,			/* requesters remembered as denied */
	RDV_KEEPALIVE_MS = 25000,		/* idle: a PING this often, nothing else */
	RDV_DEAD_MS = 60000,			/* silent this long: the session is dead */
	RDV_RESULT_MS = 10000,			/* a request unanswered this long: reconnect */
	RDV_REKEY_MS = 100000,			/* a fresh session before REKEY_AFTER_MS */
	RDV_HS_MIN_MS = 500,
	RDV_HS_MAX_MS = 30000,
	RDV_RESOLVE_MS = 10000,
	RDV_CMD_MS = 20000,			/* /register, /add: an answer within this or an error */
	RDV_KEYREQ_LEN = 64,
	RDV_KEY_LEN = 36,
	RDV_KEYREQ_TYPE = 0x10,
	RDV_KEY_TYPE = 0x11,
	RDV_DIRECT_WAIT_MS = 15000,		/* online but no direct session this long: mail */
	RDV_PRESENCE_WAIT_MS = 5000,		/* subscribed, no presence this long: offline */
	RDV_MAIL_GRACE_MS = 2000,		/* no mail this soon after subscribing: two clients
						 * started together find each other directly first */
	RDV_MAIL_BATCH = 100,
	RDV_MAIL_RETRY_MS = 600000,		/* after QUOTA */
	RDV_NOTFOUND_RETRY_MS = 60000,		/* not (yet) allowed, or no prekeys */
};

enum srv_phase { SRV_IDLE, SRV_RESOLVING, SRV_KEYREQ, SRV_HANDSHAKE, SRV_UP, SRV_REFUSED };

struct rdv_srv;
struct rdv_op;
/* res is the RESULT, or NULL when the request was given up (deadline, server refused). */
typedef void (*rdv_done_cb)(struct rdv_srv *s, struct rdv_op *op, const struct rdv_msg *res);

struct rdv_op {
	struct rdv_op *next;
	uint8_t type;
	int scoped;			/* belongs to one session: dropped when it ends */
	uint32_t req;			/* 0 = not sent in this session */
	uint64_t sent_ms, deadline_ms;	/* deadline 0 = none */
	rdv_done_cb done;
	uint8_t pk[32];			/* the contact concerned */
	uint64_t seq;			/* MAILPUT: the message */
	uint8_t mode;			/* ALLOW */
	char handle[RDV_HANDLE_MAX + 1];	/* /add, /register, accept: the handle */
	char text[REQUEST_TEXT_MAX + 1];
	uint8_t *buf;			/* the encoded message; bytes 1..4 get the req */
	size_t len;
};

struct rdv_srv {
	struct rdv *r;
	char host[RDV_HOST_MAX + 1];
	uint16_t port;
	char label[RDV_HOST_MAX + 16];	/* host:port, [v6]:port */
	uint8_t pk[32];
	int have_pk;
	uint8_t stun_txid[12];		/* our STUN Binding request to it, when one is out */
	int stun_out;
	struct sockaddr_storage mapped;	/* our address as this rendezvous sees it (STUN) */
	socklen_t mappedlen;
	enum srv_phase phase;
	uint64_t phase_ms, next_ms, backoff_ms;
	int tries;
	struct sockaddr_storage addr;	/* in the engine socket's family */
	socklen_t addrlen;
	struct rdv_gai *gai;		/* getaddrinfo_a in progress */
	struct rdv_tcp tcp;		/* the TCP fallback (rdv_tcp.c) */
	struct noise_hs *hs;
	uint64_t hs_sent_ms;
	uint8_t cookie[16];
	uint64_t cookie_ms;
	int keycheck;			/* a KEYREQ to check a pinned key is out */
	int bye;			/* the server said goodbye */
	int registering;		/* a REGISTER of the home name from tincan.conf is out */
	struct noise_keypair *kp;
	uint64_t session_ms, last_rx_ms, last_tx_ms;
	uint64_t ping_ms;		/* a keepalive went out then, no answer yet */
	struct rel rel;
	int rel_ready;
	uint32_t next_req;
	struct rdv_op *ops;		/* in order */
	int home;			/* our home: LOGIN here */
	int logged_in, announced, warned;
	struct timer t;
};

enum peer_state { PEER_NONE, PEER_CONTACT, PEER_REQUEST };

/* What the rendezvous side knows of one contact. */
struct rdv_peer {
	struct contact *c;
	enum peer_state state;
	char handle[RDV_HANDLE_MAX + 1];	/* name@host[:port], "" none */
	struct rdv_srv *srv;		/* the handle's server */
	int presence;			/* -1 unknown, else RDV_OFFLINE.. */
	uint64_t presence_ms, subscribed_ms;
	struct rdv_addr cand[RDV_ADDR_MAX];
	int ncand;
	uint64_t mailed_upto;
	int mail_busy, mail_inflight, mail_stop;
	uint64_t mail_next_ms;
};

struct rdv_ack {			/* a MAIL to acknowledge once its message is on disk */
	struct rdv_srv *s;
	struct contact *c;
	uint64_t mail_id, seq;
};

struct rdv {
	struct engine *e;
	struct rdv_srv *srv[RDV_MAX_SERVERS];
	int nsrv;
	struct rdv_srv *home;
	char home_handle[RDV_HANDLE_MAX + 1];
	char home_name[RDV_NAME_MAX + 1];
	struct rdv_peer **peers;
	size_t npeers;
	uint8_t (*denied)[32];
	size_t ndenied;
	struct seal_keys *keys;
	struct rdv_ack *acks;
	size_t nacks, capacks;
	struct seal_publish pub;
	int pub_busy, pub_done, allowed_sent;
	int conf_home;			/* the home comes from tincan.conf: register it when needed */
	int relogin;			/* our addresses changed since the last LOGIN was built */
	uint64_t maint_ms;
	struct timer t_mail;
	struct rdv_msg msg;		/* decode scratch */
	uint8_t relay_from[32];		/* a relayed peer packet, taken out of rel_input */
	uint8_t relay_pkt[RDV_RELAY_MAX];
	size_t relay_len;
};

/* rdv.c */
void rdv_error(struct rdv *r, const char *word, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void rdv_info(struct rdv *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rdv_warning(struct rdv *r, const char *id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void rdv_on_session(struct rdv_srv *s);		/* a new session: LOGIN, SUBSCRIBEs */
void rdv_on_push(struct rdv_srv *s, const struct rdv_msg *m);
void rdv_on_down(struct rdv_srv *s);		/* the session is gone */
int rdv_save_servers(struct rdv *r);
int rdv_srv_wanted(const struct rdv_srv *s);	/* home, requests or contacts there */
struct rdv_peer *rdv_peer_get(struct rdv *r, struct contact *c, int create);
/* "name@host[:port]" -> parts; port defaults to RDV_PORT. 0 or -1. */
int rdv_parse_handle(const char *in, char name[RDV_NAME_MAX + 1], char host[RDV_HOST_MAX + 1], uint16_t *port);
/* The canonical handle: default port left out, IPv6 in brackets. */
void rdv_handle_format(char *out, size_t cap, const char *name, const struct rdv_srv *s);
const char *rdv_srv_display(const struct rdv_srv *s);	/* host, or host:port */
struct rdv_srv *rdv_srv_for_handle(struct rdv *r, const char *handle, char name[RDV_NAME_MAX + 1]);
int rdv_write_file(struct rdv *r, const char *file, const char *buf, size_t len);
int rdv_save_handles(struct rdv *r);
int rdv_denied(const struct rdv *r, const uint8_t pk[32]);
void rdv_set_denied(struct rdv *r, const uint8_t pk[32], int denied);

/* rdv_cmd.c */
void rdv_home_login(struct rdv_srv *s);		/* LOGIN (and, once a run, our allow list) */

/* rdv_conn.c */
struct rdv_srv *srv_get(struct rdv *r, const char *host, uint16_t port, int create);
void srv_start(struct rdv_srv *s);
void srv_free(struct rdv_srv *s, int logout);
void srv_flush(struct rdv_srv *s);
/* Queue a request (m->req is filled in when sent). timeout_ms 0 = keep trying. NULL if it
 * does not encode or memory is short. */
struct rdv_op *srv_request(struct rdv_srv *s, const struct rdv_msg *m, rdv_done_cb done, int scoped,
			   uint64_t timeout_ms);
int srv_up(const struct rdv_srv *s);
void srv_arm(struct rdv_srv *s);		/* the server's timer: the next thing due */

/* rdv_ops.c: requests */
void ops_free(struct rdv_op *op);
void ops_send(struct rdv_srv *s);		/* number the unsent ones, hand them to rel */
void ops_finish(struct rdv_srv *s, struct rdv_op *op, const struct rdv_msg *res);
void ops_drop_scoped(struct rdv_srv *s);	/* the session ended: its own go, others wait */
void ops_fail_all(struct rdv_srv *s);
void ops_expire(struct rdv_srv *s, uint64_t now);
void ops_on_result(struct rdv_srv *s, const struct rdv_msg *m);
/* From rdv_tcp.c: one frame read from s's stream; the stream is open; it failed (why). */
void srv_tcp_input(struct rdv_srv *s, const uint8_t *pkt, size_t len);
void srv_tcp_connected(struct rdv_srv *s);
void srv_tcp_failed(struct rdv_srv *s, const char *why);
void srv_set_pk(struct rdv_srv *s, const uint8_t pk[32]);

/* rdv.c, name lookup: 0 s->addr is set, 1 in progress (poll from the timer), -1 failed (why) */
int rdv_resolve(struct rdv_srv *s, const char **why);
int rdv_resolve_poll(struct rdv_srv *s, const char **why);
void rdv_resolve_free(struct rdv_srv *s);

/* rdv_mail.c */
void mail_on_mail(struct rdv_srv *s, const struct rdv_msg *m);
void mail_flush(struct rdv *r);			/* acks, batches, prekey upkeep */
void mail_publish(struct rdv *r, int force);	/* PREKEYS on the home when due */
void mail_srv_down(struct rdv_srv *s);
void mail_kick(struct rdv *r, uint64_t delay_ms);
void mail_tick(struct loop *l, void *arg);

#endif
