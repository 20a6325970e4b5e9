/* engine_int.h: the engine's internals shared by engine.c (contacts, life cycle),
 * engine_cmd.c (commands), engine_log.c (logs) and session.c (sockets, handshakes, the
 * encrypted channel). Not for front ends. */
#ifndef TINCAN_ENGINE_INT_H
#define TINCAN_ENGINE_INT_H

#include <stdarg.h>
#include <sys/socket.h>

#include "contacts.h"
#include "crypto.h"
#include "engine.h"
#include "journal.h"
#include "lan.h"
#include "nat.h"
#include "noise.h"
#include "rel.h"
#include "rdv.h"

enum {
	ENGINE_MAX_CONTACTS = 4096,
	ENGINE_MAX_PEERS = 256,
	STATUS_TEXT_MAX = 200,
	REQUEST_TEXT_MAX = 200,
	KEEPALIVE_MS = 25000,		/* idle session off the LAN: a PING this often (NAT bindings) */
	KEEPALIVE_SLACK_MS = 5000,	/* the side that only answers pings after this much more */
	DEAD_MS = 50000,		/* nothing heard this long: the peer is offline */
	HELLO_RESEND_MS = 400,
	HS_RETRY_MIN_MS = 500,
	HS_RETRY_MAX_MS = 30000,
	HS_RETRY_BUSY_MS = 2000,	/* backoff cap while messages wait */
	SUSPECT_MS = 1000,		/* silent this long with messages unacknowledged */
	SESSION_MAX_CAND = 9,		/* addresses from one rendezvous introduction */
	TYPING_IDLE_MS = 5000,		/* typing -> paused after this long without a key */
	TYPING_REFRESH_MS = 3000,	/* "typing" again this often while typing */
	TYPING_EXPIRE_MS = 10000,	/* their "typing" without a refresh this long: paused */
	/* paths (path.c) */
	PATH_RELAY_AFTER_MS = 1000,	/* handshakes go through the relay too after this long */
	PATH_FALLBACK_MS = 2500,	/* direct path owes an answer this long: relay */
	PATH_PUNCH_FIRST_MS = 200,	/* on the relay: the first probe round after this */
	PATH_PUNCH_MIN_MS = 1000,	/* then rounds at growing gaps, from this ... */
	PATH_PUNCH_MAX_MS = 15000,	/* ... up to this */
	PATH_PUNCH_DEFAULT_HALF_MS = 50,	/* half the relay round trip before one is measured */
	PATH_SPRAY_ROUND = 3,		/* the probe rounds that spray instead (spray.c) */
	PATH_SPRAY_ROUND2 = 5,
};

/* The start of an away auto-reply (engine_log.c, engine_cmd.c autoreply_send). */
#define AUTOREPLY_TAG "[auto-reply] "

/* Engine-only contact flag, kept in the contacts file with the others: another key claimed
 * this contact's name; /msg is refused until /verify <contact> confirm. */
enum { CONTACT_KEY_CHANGED = 1 << 8 };

enum status { ST_OFFLINE, ST_ONLINE, ST_AWAY, ST_BUSY, ST_INVISIBLE };

/* Journal record types (one log per contact holds history and outbox). */
enum rec_type {
	REC_OUT = 'O',		/* seq, unix-ms, text: a message we sent (the outbox until durable) */
	REC_IN = 'I',		/* seq, unix-ms, text: a message we received */
	REC_DURABLE = 'D',	/* upto: the peer has our messages <= upto on disk */
	REC_SHOWN = 'S',	/* upto: received messages <= upto were given to the front end */
	REC_CHECK = 'C',	/* last_out, durable; text: last_in u64, shown u64, and since stream
				 * ids: our stream u64, theirs u64, theirs known u8, then the streams
				 * of theirs we left: n u8, n u64 (recovery stops here) */
	REC_TXID = 'T',		/* stream id: our numbering, made with the log (its first record) */
	REC_RXID = 'R',		/* their stream id, base; text: shown u64, the streams of theirs left
				 * (n u8, n u64): their messages are counted on that stream from
				 * base + 1 (rel_rx_stream) */
};
enum { CHECKPOINT_EVERY = 1024 };	/* records between checkpoints */

struct session {
	struct noise_keypair *cur, *prev, *next;
	struct noise_hs *hs;		/* our outstanding INIT */
	uint8_t init_pkt[NOISE_INIT_LEN];
	uint64_t hs_sent_ms, hs_retry_ms;
	uint8_t cookie[16];
	uint64_t cookie_ms;
	uint8_t last_ts[NOISE_TS_LEN];	/* newest INIT timestamp accepted from the peer */
	struct sockaddr_storage addr;	/* the direct address (the last one, while on the relay) */
	socklen_t addrlen;
	int relay;			/* the path is the rendezvous relay */
	uint64_t direct_rx_ms;		/* last authenticated packet that came directly */
	uint64_t unanswered_ms;		/* direct: first packet since the last answer, 0 = none */
	int ka_out;			/* a keepalive PING is unanswered */
	uint64_t hs_first_ms;		/* first INIT of this attempt, 0 = none */
	uint64_t punch_ms, punch_gap_ms;	/* on the relay: next probe round, back-off */
	uint64_t probe_at_ms;		/* a coordinated probe due then, 0 = none */
	uint16_t frag_id;
	struct path_frag *frag;		/* a relayed packet in pieces (path.h) */
	int own_fd;			/* > 0: the direct path uses this socket of its own (spray.c) */
	int punch_rounds;		/* probe rounds on the relay since it started */
	int spray_due;			/* the coordinated action at probe_at_ms is a spray */
	uint64_t last_rx_ms, last_tx_ms;
	int up;				/* a keypair is confirmed */
	/* HELLO exchange: our generation, and the last of theirs we saw / they saw of ours */
	uint32_t hello_gen, peer_gen, peer_ack;
	int peer_hello;			/* a HELLO arrived in this session */
	int peer_stream;		/* an FR_STREAM arrived in this session (log_peer_stream) */
	uint64_t hello_sent_ms;
	/* an introduction by a rendezvous: INITs go to every candidate, the first answer wins */
	struct sockaddr_storage cand[SESSION_MAX_CAND];
	socklen_t cand_len[SESSION_MAX_CAND];
	int ncand;
};

struct contact {
	uint8_t pk[32];
	char id[ID_STRLEN + 1];
	char name[CONTACT_NAME_MAX + 1];
	unsigned flags;			/* CONTACT_* */
	int peer_accepts;		/* their HELLO says we are their contact */
	int online;			/* event state as last told to the front end */
	enum status status;
	char status_text[STATUS_TEXT_MAX + 1];
	char request_text[REQUEST_TEXT_MAX + 1];	/* what we send with our request */
	int request_shown;
	struct jlog *log;
	struct rel rel;
	int rel_ready;
	uint64_t delivered_upto;	/* highest seq reported as delivered */
	uint64_t durable_logged;	/* highest REC_DURABLE written */
	uint64_t shown;			/* highest received seq given to the front end */
	uint64_t last_out;		/* highest seq we ever queued */
	uint64_t tx_sid;		/* our stream id for this contact (0: a log older than them) */
	unsigned since_check;		/* records since the last checkpoint */
	struct session s;
	struct peer *lan_peer;		/* the LAN peer with this key, or NULL (on_beacon keeps it) */
	struct rdv_peer *rdvp;		/* its state at the rendezvous, or NULL (rdv.c keeps it) */
	struct timer t_hs, t_tick, t_path;
	/* typing notices (typing.c): ours as last sent, theirs as last shown */
	uint8_t typing_out, typing_in;
	uint64_t typing_key_ms, typing_sent_ms, typing_in_ms;
	struct timer t_typing;
	/* away auto-reply: sent in this away spell (until we reply or come back) / to send */
	int autoreplied, autoreply_due;
	struct engine *e;
};

struct peer {
	uint8_t pk[32];
	char id[ID_STRLEN + 1];
	char name[CONTACT_NAME_MAX + 1];
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t heard_ms;
};

struct dev {				/* an event whose facts must be on disk first */
	enum ev_type type;
	struct contact *c;
	uint64_t msgid, ts;
	char *text;
};

struct engine {
	struct loop *loop;
	struct identity me;
	char id[ID_STRLEN + 1];
	char fpr[FPR_STRLEN + 1];
	char nick[CONTACT_NAME_MAX + 1];
	char home[512];
	enum status status;
	char status_text[STATUS_TEXT_MAX + 1];
	engine_event_cb cb;
	void *cb_arg;
	int lan_only;
	int fd;				/* the UDP socket, dual-stack when possible */
	int rx_fd;			/* the socket the packet being handled came in on */
	struct spray *spray;		/* the birthday method in progress (spray.c), or NULL */
	int lock_fd;			/* flock on home/lock: one client per home */
	int family;
	uint16_t port;
	struct lan *lan;
	struct rdv *rdv;		/* the rendezvous client; NULL with --lan */
	struct contact **contacts;
	size_t ncontacts;
	struct peer peers[ENGINE_MAX_PEERS];
	size_t npeers;
	struct dev *devs;
	size_t ndevs, capdevs;
	struct syncer *syncer;
	struct timer t_probe;		/* LAN answer requests after the start */
	int probes;
	struct sync_item {
		struct contact *c;
		uint64_t off, rx;	/* log offset written, messages stored, at batch start */
	} *batch;
	int *batch_fds;
	size_t nbatch, capbatch;
	int verbose;
	int closing;
	int autoreplies_due;		/* some contact has autoreply_due set */
	/* the router's port mapping (UPnP IGD / NAT-PMP): a candidate sent first in LOGIN */
	struct nat *nat;		/* NULL in LAN-only mode or with --no-portmap */
	struct netwatch *netwatch;	/* address and link changes; NULL in LAN-only mode */
	struct sockaddr_storage map_addr;	/* external address:port; map_len 0 = none */
	socklen_t map_len;
	int map_failed_logged;		/* a failed round was logged at info level */
};

/* engine.c */
void engine_emit(struct engine *e, const struct event *ev);
/* An event of type with its text formatted (at most 511 bytes) and word (NULL: none). */
void engine_emitv(struct engine *e, enum ev_type type, const char *word, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
void emit_error(struct engine *e, const char *word, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void emit_info(struct engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int contacts_save(struct engine *e);
void fingerprint(const uint8_t pk[32], char out[FPR_STRLEN + 1]);
int status_parse(const char *w, enum status *s);
struct peer *peer_find_pk(struct engine *e, const uint8_t pk[32]);

/* engine_log.c */
/* Append a record to c's log (written at the end of the pass); 0 or -1. */
int log_append(struct contact *c, int type, uint64_t a, uint64_t b, const char *text, size_t len);
void log_checkpoint(struct contact *c);	/* a REC_CHECK: recovery reads back only to here */
/* Open c's log, start its rel and recover the outbox and unshown messages; 0 or -1. */
int contact_open_log(struct contact *c);
/* The peer's stream (from its FR_STREAM or a sealed mail): log and apply what it means for our
 * receiving side (rel_rx_stream). 0, or -1 when the log refused the record (nothing changed). */
int log_rx_stream(struct contact *c, uint64_t sid, uint64_t first);
/* The peer's FR_STREAM in a session: log_rx_stream, then count its DATA. */
void log_peer_stream(struct contact *c, const uint8_t *body, size_t len);

/* engine_cmd.c */
void autoreply_send(struct engine *e);	/* the away auto-replies that are due */
int save_nick(struct engine *e);
void engine_defer(struct engine *e, enum ev_type type, struct contact *c, uint64_t msgid,
		  uint64_t ts, const char *text, size_t len);
struct contact *contact_find_pk(struct engine *e, const uint8_t pk[32]);
struct contact *contact_new(struct engine *e, const uint8_t pk[32], const char *name, unsigned flags);
void contact_set_online(struct contact *c, int online);
void contact_refresh_online(struct contact *c);
void contact_remove(struct engine *e, struct contact *c);
const char *status_word(enum status s);
int contact_is_friend(const struct contact *c);
/* Pin pk as a contact and ask it (the end of /add): EV_ADDED; NULL with EV_ERROR. */
struct contact *engine_pin_contact(struct engine *e, const uint8_t pk[32], const char *name, const char *text);
const char *contact_path(const struct contact *c);	/* "lan", "direct" or "relay" */
/* The LAN peer whose beacon address is c's direct address (c is on the LAN path), or NULL. */
const struct peer *contact_lan_peer(const struct contact *c);
/* A contact by full ID, unique ID prefix (6+) or name; NULL (and an error unless quiet). */
struct contact *contact_lookup(struct engine *e, const char *who, int quiet);
/* Another key claims c's name (a LAN beacon; a rendezvous that resolves c's handle to a new
 * key): set CONTACT_KEY_CHANGED, save, and warn with one instruction. why is for people. */
void contact_key_changed(struct contact *c, const char *why);

/* typing.c */
void typing_init(struct contact *c);
void typing_free(struct contact *c);
void typing_set(struct contact *c, int state);
void typing_input(struct contact *c, const uint8_t *b, size_t n);
void typing_reset(struct contact *c, int offline);
const char *typing_word(int state);
int typing_parse(const char *w);

/* session.c */
int session_open_socket(struct engine *e, int port, char *err, size_t errlen);
void session_close(struct engine *e);
void session_input(struct loop *l, int fd, short revents, void *arg);
void session_connect(struct contact *c, const struct sockaddr *sa, socklen_t len);
void session_check_peer(struct contact *c);
/* Addresses already in the socket's family (addr_for_socket); the first to answer wins. */
void session_connect_multi(struct contact *c, const struct sockaddr_storage *ss, const socklen_t *len, int n);
socklen_t addr_for_socket(const struct engine *e, const struct sockaddr *sa, socklen_t len,
			  struct sockaddr_storage *out);
void session_flush(struct contact *c);		/* send what rel and HELLO have due */
/* One engine frame now, outside the reliable stream (typing notices). */
void session_send_frame(struct contact *c, int type, const void *body, size_t len);
void session_hello_changed(struct contact *c);	/* our flags/status changed: tell the peer */
void session_bye(struct contact *c);
void session_drop(struct contact *c);		/* forget keys; the peer is gone */
void session_tick(struct loop *l, void *arg);
/* A packet from the peer: src NULL = relayed from the peer key relay_pk. */
void session_packet(struct engine *e, const uint8_t *pkt, size_t n, const struct sockaddr *src, socklen_t srclen,
		    const uint8_t *relay_pk);
/* An encrypted PING from socket fd to each address (path probes, sprays); answers come back
 * as ACKs. */
void session_probe(struct contact *c, int fd, const struct sockaddr_storage *ss, const socklen_t *len, int n);

/* path.c */
struct path_frag;
void path_send_relay(struct contact *c, const uint8_t *pkt, size_t len);
int path_relay_ok(const struct contact *c);
void path_relay_input(struct engine *e, const uint8_t pk[32], const uint8_t *pkt, size_t len);
/* The path is now src (direct) or, with src NULL, the relay: EV_PATH if the word changed. */
void path_set(struct contact *c, const struct sockaddr *src, socklen_t srclen);
void path_heard(struct contact *c, const struct sockaddr *src, socklen_t srclen);
void path_on_punch(struct contact *c, const uint8_t *body, size_t len);
int path_sock(const struct contact *c);	/* the socket of c's direct path */

/* spray.c */
void spray_start(struct contact *c);
int spray_owns(const struct engine *e, int fd);
/* 1 if fd is a socket of a spray for c (which may then take it as its own). */
int spray_for(const struct engine *e, const struct contact *c, int fd);
void spray_forget(struct engine *e, const struct contact *c);
void spray_free(struct engine *e);
void path_tick(struct loop *l, void *arg);
void path_arm(struct contact *c);
void path_candidates_changed(struct contact *c);
void path_label_changed(struct contact *c, const char *before);
void session_frame(void *arg, int type, const uint8_t *body, size_t len);
int session_up(const struct contact *c);
void addr_format(const struct sockaddr *sa, socklen_t len, char *out, size_t cap);

#endif
