/* rel.h: reliable, ordered, exactly-once message delivery over an unreliable packet channel.
 *
 * Pure logic with no I/O and no clock of its own: the caller feeds decrypted packets in with
 * rel_input() and asks rel_poll() for packets to send, passing the current time. A packet is a
 * sequence of frames: type u8, length u16 (big-endian), body. See tincan-protocol(7). */
#ifndef TINCAN_REL_H
#define TINCAN_REL_H

#include <stddef.h>
#include <stdint.h>

enum {
	REL_MAX_TEXT = 4000,	/* bytes of UTF-8 in one message */
	REL_WINDOW = 2048,	/* messages in flight, and the receiver's reorder buffer */
	REL_MTU = 1200,		/* plaintext bytes we pack into one packet */
	REL_ACK_RANGES = 32,	/* out-of-order ranges one ACK reports */
	REL_MAX_PKT = REL_MAX_TEXT + 64,
	REL_MIN_RTO_US = 30000,
	REL_MAX_RTO_US = 3000000,
	REL_INIT_RTO_US = 300000,
	/* Congestion window, counted in packets that carry DATA (see rel_poll): */
	REL_CWND_INIT = 10,	/* at start, on a new session and on a new path (RFC 6928) */
	REL_CWND_MIN = 2,	/* after a retransmission timeout, and the floor of ssthresh */
	REL_CWND_MAX = REL_WINDOW,	/* REL_WINDOW messages never need more packets */
	REL_MIN_PROBE_US = 10000,	/* tail probe after 2 SRTT of silence, at least this */
	REL_LEFT_MAX = 4,	/* the peer's streams remembered as left (rx_left) */
};

enum frame_type {
	FR_DATA = 1,		/* seq u64, unix-ms u64, text */
	FR_ACK = 2,		/* stored u64, durable u64, echo u32, n u8, n * (start u16, len u16) */
	FR_PING = 3,		/* empty: asks for an ACK */
	FR_TS = 4,		/* u32 sender microseconds, echoed in the next ACK */
	FR_HELLO = 5,		/* engine: see hello.h */
	FR_REQUEST = 6,		/* reserved */
	FR_BYE = 7,		/* engine: clean logout */
	FR_STATUS = 8,		/* reserved */
	FR_TYPING = 9,		/* reserved: typing notices */
	FR_RELAY = 10,		/* rendezvous relay, outside rel (unreliable): pk 32 | peer packet;
			 * client->server: target pk, server->client: source pk (rdvd_relay.c) */
	FR_PUNCH = 11,		/* engine, outside rel: probe the direct path now (path.c) */
	FR_STREAM = 12,		/* stream id u64, first u64: our numbering and its first seq not
			 * known durable at the peer; just before each HELLO (session.c) */
};

struct rel_out {
	uint64_t seq, ts;
	char *text;
	uint32_t len;
	uint32_t tries;
	uint64_t sent_us;	/* 0 = due now */
	uint64_t pn;		/* the data packet it last went out in (rel.pkt_sent then) */
	int sacked;
	int lost;		/* an ACK shows it missing: resend when the window allows */
	int sent;		/* sent at least once (statistics) */
};

struct rel_in {
	uint64_t seq, ts;	/* seq 0 = empty slot */
	char *text;
	uint32_t len;
};

struct rel_ops {
	/* A message arrived in order: store it (append to the log) before returning. */
	void (*deliver)(void *arg, uint64_t seq, uint64_t ts, const char *text, size_t len);
	/* The receiver has written every message up to `upto` (safe against its death). */
	void (*stored)(void *arg, uint64_t upto);
	/* The receiver has every message up to `upto` on disk: the outbox may drop them. */
	void (*durable)(void *arg, uint64_t upto);
	/* Any frame type this layer does not own. */
	void (*frame)(void *arg, int type, const uint8_t *body, size_t len);
};

struct rel {
	const struct rel_ops *ops;
	void *arg;
	/* sender */
	struct rel_out *q;	/* ring: seq durable+1 .. next-1 at q[(head + i) % cap] */
	size_t head, cnt, cap;
	uint64_t acked;		/* receiver stored (wrote) everything <= acked */
	uint64_t durable;	/* receiver synced everything <= durable */
	uint64_t snd_nxt;	/* first seq never sent in this session */
	uint64_t srtt_us, rttvar_us, rto_us;
	uint64_t ping_us;	/* when we last asked for an ACK */
	int want_ping;
	uint64_t rtx_due_us;	/* earliest retransmission, for rel_next_us */
	/* congestion control: packets in flight are pkt_acked + 1 .. pkt_sent */
	uint64_t pkt_sent;	/* data packets sent: the number of the last one */
	uint64_t pkt_acked;	/* the newest data packet known to have arrived (or written off) */
	uint64_t recover;	/* pkt_sent at the last reduction: losses up to it are answered */
	uint64_t rto_recover;	/* the same for the last timeout */
	uint32_t cwnd, ssthresh, cwnd_acc;	/* window, slow start threshold, packets toward +1 */
	int cwnd_full;		/* the last poll held data back for the window */
	int rtx_held;		/* the last scan held a resend back for the window */
	uint64_t news_us;	/* the flight started or an ACK showed progress: probe timer */
	int probed;		/* the tail probe went out since */
	int no_cc;		/* tests only: no congestion window */
	/* receiver */
	uint64_t rx_stored, rx_durable;
	uint64_t rx_sid;	/* the peer's stream that rx_stored counts in, if rx_known */
	int rx_known;		/* the peer told us its stream (an FR_STREAM was logged) */
	uint64_t rx_left[REL_LEFT_MAX];	/* the peer's streams a restart replaced, newest first */
	size_t rx_nleft;
	int rx_hold;		/* DATA ignored and no ACK sent until the peer's stream is known */
	struct rel_in *ooo;	/* REL_WINDOW slots indexed by seq % REL_WINDOW */
	int ack_needed;
	uint32_t echo;		/* TS of the last packet that carried data, 0 = none fresh */
	/* statistics */
	uint64_t n_sent, n_rtx, n_dup, n_rto, n_fast;
};

int rel_init(struct rel *r, const struct rel_ops *ops, void *arg);
void rel_free(struct rel *r);
/* Sender restart: the peer has every message <= durable. */
void rel_tx_start(struct rel *r, uint64_t durable);
/* Receiver restart: we stored everything <= stored. */
void rel_rx_start(struct rel *r, uint64_t stored);

/* The sender's numbering is a stream with a random 64-bit id, made with its log (0: a log
 * older than stream ids). Its FR_STREAM says which, and the first seq it still holds. */
enum rel_stream {
	REL_STREAM_SAME,	/* nothing to do */
	REL_STREAM_FIRST,	/* the first word on this stream: the same numbers go on */
	REL_STREAM_JUMP,	/* the sender holds nothing <= base, more than we have: skip there */
	REL_STREAM_NEW,		/* another stream: its numbering starts afresh after base */
	REL_STREAM_LEFT,	/* as NEW, but one of rx_left: the sender went back to an old copy of
			 * its log (a session), or a server replays old mail (stale) */
};
/* What the peer's FR_STREAM means for us; *base is the last seq to count as received. */
enum rel_stream rel_rx_stream(const struct rel *r, uint64_t sid, uint64_t first, uint64_t *base);
/* Receive stream sid after base (the caller has logged that first): forgets what is
 * buffered out of order; a stream it replaces goes into rx_left. */
void rel_rx_restart(struct rel *r, uint64_t sid, uint64_t base);
/* rx_left as rel_rx_restart(r, sid, ...) would leave it, into out; returns the count. */
size_t rel_rx_left_after(const struct rel *r, uint64_t sid, uint64_t out[REL_LEFT_MAX]);
/* While held, DATA is dropped unread and no ACK goes out (a new session until the peer has
 * said which stream it sends). */
void rel_rx_hold(struct rel *r, int hold);
/* seq must be the next number (durable + count + 1). Copies text. */
int rel_queue(struct rel *r, uint64_t seq, uint64_t ts, const char *text, size_t len);
uint64_t rel_next_seq(const struct rel *r);
size_t rel_pending(const struct rel *r);	/* not yet durable at the peer */
/* A new session: resend everything the peer has not acknowledged as stored. */
void rel_session_reset(struct rel *r);
/* The same session moved to another path: resend now what is in flight and not known to be
 * stored or buffered, and measure the round trip afresh. */
void rel_path_change(struct rel *r);
/* Feed a decrypted packet. Returns -1 for a malformed packet (nothing is applied after the
 * first bad frame; frames before it are). */
int rel_input(struct rel *r, const uint8_t *pkt, size_t len, uint64_t now_us);
/* Our log holding messages <= upto is on disk: tell the sender. */
void rel_synced(struct rel *r, uint64_t upto);
/* Append an engine frame to go out with the next packet (typing, status...). */
typedef void (*rel_emit)(void *arg, const uint8_t *pkt, size_t len);
/* Build and emit every packet due now; at most max_pkts. Returns packets emitted.
 *
 * Congestion control, in packets: a packet that carries DATA is started only while fewer than
 * cwnd such packets are in flight (sent after the newest one an ACK has shown arrived); a
 * message that fits into the packet being built still goes in it. ACK-only and PING packets
 * are never held. Slow start adds one per packet acknowledged up to ssthresh, then one per
 * cwnd acknowledged (about one per round trip), and only while the window was what held data
 * back. A fast retransmit halves cwnd, and a retransmission timeout sets ssthresh to half the
 * flight and cwnd to REL_CWND_MIN, writing the flight off so the resend can go; each at most
 * once for what was in flight when it last happened. A new session or path starts again at
 * REL_CWND_INIT. After two SRTT (at least REL_MIN_PROBE_US) without an ACK showing progress,
 * one tail probe resends the newest missing message outside the window. */
int rel_poll(struct rel *r, uint64_t now_us, int max_pkts, rel_emit emit, void *arg);
/* When rel_poll next has work: 0 = now, UINT64_MAX = nothing pending. */
uint64_t rel_next_us(const struct rel *r, uint64_t now_us);
void rel_ask_ack(struct rel *r);	/* send a PING with the next poll */

/* Frame helpers shared with the engine. */
size_t frame_put(uint8_t *buf, size_t cap, size_t off, int type, const void *body, size_t len);
/* Walk frames: returns 1 with type, body and length, 0 at the end, -1 if malformed. */
int frame_next(const uint8_t *pkt, size_t len, size_t *off, int *type, const uint8_t **body, size_t *blen);

#endif
