/* test_rel.c: the reliability layer under simulated loss, duplication, reordering and restarts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rel.h"
#include "util.h"

/* A simulated network: packets in flight with a delivery time; loss, duplication, jitter. */
struct flight {
	uint64_t at;
	int to;
	size_t len;
	uint8_t data[REL_MAX_PKT];
};

struct side {
	struct rel r;
	uint64_t got;		/* last seq delivered */
	int order_bad, text_bad;
	uint64_t durable_seen;
	int id;
};

static struct flight *net;
static size_t nnet, capnet;
static uint64_t now;
static unsigned loss_pct, dup_pct, jitter_us;
static uint64_t rng = 88172645463325252ull;
/* A bottleneck in each direction, off while bn_gap_us is 0: one packet leaves every
 * bn_gap_us, at most bn_queue wait (the one being sent included), the rest are dropped. */
static unsigned bn_gap_us, bn_queue;
static uint64_t bn_free[2], bn_drops;
static unsigned msg_pad;	/* bytes added to each test message */

static unsigned rnd(unsigned n)
{
	return (unsigned)(check_rand64(&rng) % n);
}

static void send_pkt(int to, const uint8_t *pkt, size_t len)
{
	int copies = rnd(100) < loss_pct ? 0 : (rnd(100) < dup_pct ? 2 : 1);
	for (int c = 0; c < copies; c++) {
		uint64_t at = now;
		if (bn_gap_us) {
			if (bn_free[to] < now)
				bn_free[to] = now;
			if ((bn_free[to] - now) / bn_gap_us >= bn_queue) {
				bn_drops++;
				continue;
			}
			at = bn_free[to] += bn_gap_us;
		}
		if (nnet == capnet) {
			capnet = capnet ? capnet * 2 : 256;
			net = realloc(net, capnet * sizeof(*net));
		}
		struct flight *f = &net[nnet++];
		f->at = at + 200 + rnd(jitter_us + 1);
		f->to = to;
		f->len = len;
		memcpy(f->data, pkt, len);
	}
}

static void emit_to_b(void *arg, const uint8_t *pkt, size_t len) { (void)arg; send_pkt(1, pkt, len); }
static void emit_to_a(void *arg, const uint8_t *pkt, size_t len) { (void)arg; send_pkt(0, pkt, len); }

/* The text of message seq to side id: "msg id seq" and msg_pad dots. */
static int msg_text(char *buf, size_t cap, int id, uint64_t seq)
{
	int n = snprintf(buf, cap, "msg %d %llu", id, (unsigned long long)seq);
	for (unsigned i = 0; i < msg_pad && (size_t)n + 1 < cap; i++)
		buf[n++] = '.';
	buf[n] = '\0';
	return n;
}

static void deliver(void *arg, uint64_t seq, uint64_t ts, const char *text, size_t len)
{
	struct side *s = arg;
	char want[512];
	int n = msg_text(want, sizeof(want), s->id, seq);
	if (seq != s->got + 1)
		s->order_bad++;
	if ((size_t)n != len || memcmp(want, text, len) != 0 || ts != seq * 10)
		s->text_bad++;
	s->got = seq;
}

static void durable(void *arg, uint64_t upto)
{
	struct side *s = arg;
	s->durable_seen = upto;
}

static const struct rel_ops ops = { .deliver = deliver, .durable = durable };

static void queue_n(struct side *s, int peer_id, uint64_t from, uint64_t to)
{
	for (uint64_t q = from; q <= to; q++) {
		char t[512];
		int n = msg_text(t, sizeof(t), peer_id, q);
		CHECK(rel_queue(&s->r, q, q * 10, t, (size_t)n) == 0);
	}
}

/* Run the simulation until both directions are durable or the virtual deadline passes. */
static void run(struct side *a, struct side *b, uint64_t n, uint64_t deadline, uint64_t stop_b_at)
{
	uint64_t next_sync = now + 3000;
	while (now < deadline) {
		rel_poll(&a->r, now, 64, emit_to_b, NULL);
		rel_poll(&b->r, now, 64, emit_to_a, NULL);
		if (a->durable_seen == n && b->durable_seen == n && nnet == 0)
			return;
		if (stop_b_at && b->got >= stop_b_at)
			return;
		uint64_t t = next_sync;
		uint64_t ta = rel_next_us(&a->r, now), tb = rel_next_us(&b->r, now);
		if (ta < t) t = ta;
		if (tb < t) t = tb;
		for (size_t i = 0; i < nnet; i++)
			if (net[i].at < t)
				t = net[i].at;
		if (t > now)
			now = t;
		for (size_t i = 0; i < nnet;) {
			if (net[i].at <= now) {
				struct flight f = net[i];
				net[i] = net[--nnet];
				struct side *s = f.to ? b : a;
				CHECK(rel_input(&s->r, f.data, f.len, now) == 0);
			} else {
				i++;
			}
		}
		if (now >= next_sync) {
			rel_synced(&a->r, a->r.rx_stored);
			rel_synced(&b->r, b->r.rx_stored);
			next_sync = now + 3000;
		}
	}
}

/* Two fresh sides and an empty network that loses loss%, duplicates dup% and delays each
 * packet by up to jitter microseconds more. */
static void setup(struct side *a, struct side *b, unsigned loss, unsigned dup, unsigned jitter)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->id = 0;
	b->id = 1;
	CHECK(rel_init(&a->r, &ops, a) == 0);
	CHECK(rel_init(&b->r, &ops, b) == 0);
	nnet = 0;
	bn_gap_us = bn_queue = 0;
	bn_free[0] = bn_free[1] = 0;
	bn_drops = 0;
	msg_pad = 0;
	loss_pct = loss;
	dup_pct = dup;
	jitter_us = jitter;
}

static void test_lossy(unsigned loss, unsigned dup, unsigned jitter, uint64_t n)
{
	struct side a, b;
	setup(&a, &b, loss, dup, jitter);
	queue_n(&a, 1, 1, n);	/* a -> b, delivered at b with b's id in the text */
	queue_n(&b, 0, 1, n);
	uint64_t start = now;
	run(&a, &b, n, now + 600000000ull, 0);
	CHECK(b.got == n && a.got == n);
	CHECK(a.order_bad == 0 && b.order_bad == 0);
	CHECK(a.text_bad == 0 && b.text_bad == 0);
	CHECK(a.durable_seen == n && b.durable_seen == n);
	CHECK(rel_pending(&a.r) == 0 && rel_pending(&b.r) == 0);
	if (loss == 0 && dup == 0)
		CHECK(a.r.n_rtx == 0);
	printf("rel: loss %u%% dup %u%% jitter %uus: %llu msgs each way in %llu ms, %llu sent, %llu retransmitted, %llu dups seen rto %llu fast %llu\n",
	       loss, dup, jitter, (unsigned long long)n, (unsigned long long)(now - start) / 1000,
	       (unsigned long long)a.r.n_sent,
	       (unsigned long long)a.r.n_rtx, (unsigned long long)b.r.n_dup, (unsigned long long)a.r.n_rto, (unsigned long long)a.r.n_fast);
	rel_free(&a.r);
	rel_free(&b.r);
}

/* The receiver dies mid-stream, keeping only what it had synced (power cut) or stored
 * (process crash); the sender keeps its outbox. Nothing may be lost or delivered twice. */
static void test_restart(int power_cut)
{
	struct side a, b;
	setup(&a, &b, 10, 2, 2000);
	uint64_t n = 3000;
	queue_n(&a, 1, 1, n);
	run(&a, &b, n, now + 600000000ull, 1234);
	CHECK(b.got >= 1234);
	uint64_t kept = power_cut ? b.r.rx_durable : b.r.rx_stored;
	rel_free(&b.r);
	nnet = 0;		/* packets in flight die with the receiver */
	struct side b2 = { .id = 1, .got = kept };
	CHECK(rel_init(&b2.r, &ops, &b2) == 0);
	rel_rx_start(&b2.r, kept);
	rel_session_reset(&a.r);
	b2.durable_seen = n;	/* b2 sends nothing */
	run(&a, &b2, n, now + 600000000ull, 0);
	CHECK(b2.got == n);
	CHECK(b2.order_bad == 0 && b2.text_bad == 0);
	CHECK(a.durable_seen == n);
	rel_free(&a.r);
	rel_free(&b2.r);
}

static void test_malformed(void)
{
	struct side a, b;
	setup(&a, &b, 0, 0, 0);
	uint8_t pkt[64];
	size_t off = frame_put(pkt, sizeof(pkt), 0, FR_PING, NULL, 0);
	CHECK(off == 3);
	for (size_t cut = 1; cut < 3; cut++)
		CHECK(rel_input(&a.r, pkt, cut, 0) == -1);
	uint8_t bad[5] = { FR_DATA, 0, 200, 1, 2 };	/* length beyond the packet */
	CHECK(rel_input(&a.r, bad, sizeof(bad), 0) == -1);
	uint8_t shortdata[3 + 4] = { FR_DATA, 0, 4, 0, 0, 0, 1 };	/* too short to be DATA */
	CHECK(rel_input(&a.r, shortdata, sizeof(shortdata), 0) == 0);
	CHECK(a.got == 0);
	/* Far-future sequence numbers are ignored, not buffered. */
	uint8_t far[3 + 16 + 1];
	far[0] = FR_DATA;
	put_u16(far + 1, 17);
	put_u64(far + 3, 1000000);
	put_u64(far + 11, 0);
	far[19] = 'x';
	CHECK(rel_input(&a.r, far, sizeof(far), 0) == 0);
	CHECK(a.got == 0);
	/* An ACK claiming more than was ever sent does not release anything. */
	uint8_t ack[3 + 21] = { FR_ACK, 0, 21 };
	put_u64(ack + 3, 50);
	put_u64(ack + 11, 50);
	CHECK(rel_input(&a.r, ack, sizeof(ack), 0) == 0);
	CHECK(a.r.durable == 0);
	/* An ACK announcing more ranges than it carries is ignored whole. */
	ack[3 + 20] = 3;
	CHECK(rel_input(&a.r, ack, sizeof(ack), 0) == 0);
	CHECK(a.r.durable == 0 && a.r.acked == 0);
	CHECK(rel_queue(&a.r, 5, 0, "x", 1) == -1);	/* out of sequence */
	rel_free(&a.r);
	rel_free(&b.r);
}

static void test_stream_classify(void)
{
	struct rel r;
	uint64_t base;
	CHECK(rel_init(&r, &ops, NULL) == 0);
	/* a new log: the sender's outbox says where to start */
	CHECK(rel_rx_stream(&r, 7, 1, &base) == REL_STREAM_FIRST && base == 0);
	CHECK(rel_rx_stream(&r, 7, 4, &base) == REL_STREAM_FIRST && base == 3);
	/* a log with messages but no stream known (an old log, or messages that came only as
	 * sealed mail, which names no stream): they are of the first stream we hear of, even
	 * one whose outbox starts below them (mail is acknowledged later) */
	rel_rx_start(&r, 5);
	CHECK(rel_rx_stream(&r, 0, 3, &base) == REL_STREAM_FIRST && base == 5);
	CHECK(rel_rx_stream(&r, 7, 6, &base) == REL_STREAM_FIRST && base == 5);
	CHECK(rel_rx_stream(&r, 7, 9, &base) == REL_STREAM_FIRST && base == 8);
	CHECK(rel_rx_stream(&r, 7, 1, &base) == REL_STREAM_FIRST && base == 5);
	/* a known stream */
	rel_rx_restart(&r, 7, 5);
	CHECK(r.rx_known && r.rx_sid == 7 && r.rx_stored == 5);
	CHECK(rel_rx_stream(&r, 7, 3, &base) == REL_STREAM_SAME);
	CHECK(rel_rx_stream(&r, 7, 6, &base) == REL_STREAM_SAME);
	CHECK(rel_rx_stream(&r, 7, 9, &base) == REL_STREAM_JUMP && base == 8);
	CHECK(rel_rx_stream(&r, 9, 1, &base) == REL_STREAM_NEW && base == 0);
	CHECK(rel_rx_stream(&r, 0, 6, &base) == REL_STREAM_NEW && base == 5);
	CHECK(rel_rx_stream(&r, 9, 0, &base) == REL_STREAM_NEW && base == 0);
	rel_free(&r);
}

/* The streams left: a restart puts the one it replaces first, a stream taken up again leaves
 * the list, the oldest beyond REL_LEFT_MAX fall off. Mail naming one is a replay (rdv_mail.c). */
static void test_stream_left(void)
{
	struct rel r;
	uint64_t base, left[REL_LEFT_MAX];
	CHECK(rel_init(&r, &ops, NULL) == 0);
	rel_rx_restart(&r, 7, 0);	/* the first stream heard of: nothing left */
	CHECK(r.rx_nleft == 0);
	rel_rx_restart(&r, 7, 5);	/* a jump on the same stream */
	CHECK(r.rx_nleft == 0);
	CHECK(rel_rx_left_after(&r, 8, left) == 1 && left[0] == 7);
	rel_rx_restart(&r, 8, 0);
	CHECK(r.rx_nleft == 1 && r.rx_left[0] == 7);
	CHECK(rel_rx_stream(&r, 7, 6, &base) == REL_STREAM_LEFT && base == 5);	/* stale mail */
	CHECK(rel_rx_stream(&r, 8, 1, &base) == REL_STREAM_SAME);
	CHECK(rel_rx_stream(&r, 9, 1, &base) == REL_STREAM_NEW);
	/* a session names 7 again (an old copy of the sender's log): 8 is left, 7 no longer */
	rel_rx_restart(&r, 7, 5);
	CHECK(r.rx_nleft == 1 && r.rx_left[0] == 8);
	CHECK(rel_rx_stream(&r, 8, 1, &base) == REL_STREAM_LEFT);
	CHECK(rel_rx_stream(&r, 7, 6, &base) == REL_STREAM_SAME);
	/* 7 -> 9 -> 10 -> 11 -> 12: newest first, four kept, 8 fell off */
	for (uint64_t sid = 9; sid <= 12; sid++)
		rel_rx_restart(&r, sid, 0);
	CHECK(r.rx_nleft == REL_LEFT_MAX && r.rx_left[0] == 11 && r.rx_left[1] == 10 &&
	      r.rx_left[2] == 9 && r.rx_left[3] == 7);
	CHECK(rel_rx_stream(&r, 8, 1, &base) == REL_STREAM_NEW);
	CHECK(rel_rx_stream(&r, 7, 1, &base) == REL_STREAM_LEFT);
	/* back to 10: it moves out, 12 goes first, nothing falls off */
	CHECK(rel_rx_left_after(&r, 10, left) == 4 && left[0] == 12 && left[1] == 11 &&
	      left[2] == 9 && left[3] == 7);
	rel_free(&r);
}

/* What the engine does with the peer's FR_STREAM (log_peer_stream), then lets DATA in. */
static void stream_in(struct side *s, uint64_t sid, uint64_t first)
{
	uint64_t base;
	if (rel_rx_stream(&s->r, sid, first, &base) != REL_STREAM_SAME) {
		rel_rx_restart(&s->r, sid, base);
		s->got = base;
	}
	rel_rx_hold(&s->r, 0);
}

/* A: the sender loses its log and numbers from 1 again on a new stream. Without stream ids
 * the receiver drops 1..n as duplicates and acknowledges them: silent loss. */
static void test_stream_sender_lost(int with_ids)
{
	struct side a, b;
	setup(&a, &b, 5, 1, 1000);
	stream_in(&b, 0x1111, 1);
	queue_n(&a, 1, 1, 40);
	b.durable_seen = 40;
	run(&a, &b, 40, now + 60000000ull, 0);
	CHECK(b.got == 40 && a.durable_seen == 40);
	rel_free(&a.r);
	nnet = 0;
	struct side a2 = { .id = 0 };
	CHECK(rel_init(&a2.r, &ops, &a2) == 0);
	queue_n(&a2, 1, 1, 10);
	rel_session_reset(&b.r);
	rel_rx_hold(&b.r, 1);		/* a new session */
	b.durable_seen = 10;
	if (with_ids)
		stream_in(&b, 0x2222, a2.r.durable + 1);
	else
		rel_rx_hold(&b.r, 0);	/* a HELLO without a stream */
	run(&a2, &b, 10, now + 60000000ull, 0);
	CHECK(a2.durable_seen == 10);	/* the sender believes all arrived */
	if (with_ids) {
		CHECK(b.got == 10 && b.order_bad == 0 && b.text_bad == 0);
	} else {
		CHECK(b.got == 40);	/* the defect: nothing new was delivered */
	}
	rel_free(&a2.r);
	rel_free(&b.r);
}

/* B: the receiver loses its log while the sender's outbox starts at durable + 1. Without
 * stream ids the receiver waits for 1..durable forever. */
static void test_stream_receiver_lost(int with_ids)
{
	struct side a, b;
	setup(&a, &b, 5, 1, 1000);
	queue_n(&a, 1, 1, 30);
	b.durable_seen = 30;
	run(&a, &b, 30, now + 60000000ull, 0);
	CHECK(b.got == 30 && a.durable_seen == 30);
	rel_free(&b.r);
	nnet = 0;
	struct side b2 = { .id = 1, .durable_seen = 50 };
	CHECK(rel_init(&b2.r, &ops, &b2) == 0);
	queue_n(&a, 1, 31, 50);
	rel_session_reset(&a.r);
	rel_rx_hold(&b2.r, 1);
	if (with_ids)
		stream_in(&b2, 0x3333, a.r.durable + 1);
	else
		rel_rx_hold(&b2.r, 0);
	run(&a, &b2, 50, now + 60000000ull, 0);
	if (with_ids) {
		CHECK(b2.got == 50 && b2.order_bad == 0 && b2.text_bad == 0);
		CHECK(a.durable_seen == 50);
	} else {
		CHECK(b2.got == 0 && a.durable_seen == 30);	/* the defect: a stall */
	}
	rel_free(&a.r);
	rel_free(&b2.r);
}

/* Held: DATA is dropped unread and no ACK is sent, and nothing spins. */
static void test_hold(void)
{
	struct side a, b;
	setup(&a, &b, 0, 0, 0);
	queue_n(&a, 1, 1, 3);
	rel_rx_hold(&b.r, 1);
	rel_ask_ack(&b.r);
	rel_poll(&b.r, now, 64, emit_to_a, NULL);	/* the PING only */
	nnet = 0;
	rel_poll(&a.r, now, 64, emit_to_b, NULL);
	CHECK(nnet == 1);
	CHECK(rel_input(&b.r, net[0].data, net[0].len, now) == 0);
	nnet = 0;
	CHECK(b.got == 0 && b.r.rx_stored == 0);
	CHECK(rel_next_us(&b.r, now) == UINT64_MAX);
	CHECK(rel_poll(&b.r, now, 64, emit_to_a, NULL) == 0);
	rel_rx_hold(&b.r, 0);
	b.durable_seen = 3;
	run(&a, &b, 3, now + 10000000ull, 0);
	CHECK(b.got == 3 && a.durable_seen == 3);
	rel_free(&a.r);
	rel_free(&b.r);
}

/* 2000 messages of about 200 bytes (5 to a packet) at once through a bottleneck of 10
 * packets per ms with room for 16 waiting, with and without the congestion window, plus
 * random loss. Returns the retransmissions. */
static uint64_t test_bottleneck(int no_cc, unsigned loss)
{
	struct side a, b;
	setup(&a, &b, loss, 0, 0);
	bn_gap_us = 100;
	bn_queue = 16;
	msg_pad = 190;
	a.r.no_cc = no_cc;
	uint64_t n = 2000, start = now;
	queue_n(&a, 1, 1, n);
	b.durable_seen = n;	/* b sends nothing */
	run(&a, &b, n, now + 600000000ull, 0);
	CHECK(b.got == n && b.order_bad == 0 && b.text_bad == 0);
	CHECK(a.durable_seen == n && rel_pending(&a.r) == 0);
	printf("rel: bottleneck 10 pkt/ms, queue 16, loss %u%%, %s: %llu msgs in %llu ms, "
	       "%llu sent, %llu retransmitted, %llu dropped at the bottleneck, final cwnd %u\n",
	       loss, no_cc ? "no cwnd" : "cwnd", (unsigned long long)n,
	       (unsigned long long)(now - start) / 1000, (unsigned long long)a.r.n_sent,
	       (unsigned long long)a.r.n_rtx, (unsigned long long)bn_drops, a.r.cwnd);
	uint64_t rtx = a.r.n_rtx;
	rel_free(&a.r);
	rel_free(&b.r);
	bn_gap_us = 0;
	msg_pad = 0;
	return rtx;
}

/* Hand every packet in flight to b (all, or all but the first), and b's ACK back to a after
 * a round trip of 500 us (a little more when one is lost: the fast retransmit waits one). */
static void exchange(struct side *a, struct side *b, int drop_first)
{
	size_t k = nnet;
	for (size_t i = drop_first ? 1 : 0; i < k; i++)
		CHECK(rel_input(&b->r, net[i].data, net[i].len, now) == 0);
	nnet = 0;
	now += drop_first ? 600 : 500;
	rel_poll(&b->r, now, 64, emit_to_a, NULL);
	CHECK(nnet == 1);
	CHECK(rel_input(&a->r, net[0].data, net[0].len, now) == 0);
	nnet = 0;
}

/* The window by hand: 10 packets, slow start doubles it per round trip, a loss halves it
 * once for the whole flight, a timeout takes it to 2, a new path and session back to 10. */
static int saw_seq6;

static void catch_seq6(void *arg, const uint8_t *pkt, size_t len)
{
	size_t off = 0, blen;
	int type;
	const uint8_t *body;
	(void)arg;
	while (frame_next(pkt, len, &off, &type, &body, &blen) == 1)
		saw_seq6 |= type == FR_DATA && blen >= 16 && get_u64(body) == 6;
}

static void drop_pkt(void *arg, const uint8_t *pkt, size_t len)
{
	(void)arg;
	(void)pkt;
	(void)len;
}

/* A new session (rel_session_reset goes back to durable) meets an ACK for messages the
 * receiver stored but has not synced: the next message goes out at once after them. */
static void test_reset_then_stored(void)
{
	struct rel r;
	uint8_t body[21] = { 0 }, pkt[64];
	CHECK(rel_init(&r, &ops, NULL) == 0);
	for (uint64_t s = 1; s <= 5; s++)
		CHECK(rel_queue(&r, s, 0, "m", 1) == 0);
	CHECK(rel_poll(&r, 1000, 16, drop_pkt, NULL) > 0);
	put_u64(body, 5);	/* stored 5, durable 0 */
	size_t n = frame_put(pkt, sizeof(pkt), 0, FR_ACK, body, sizeof(body));
	CHECK(rel_input(&r, pkt, n, 2000) == 0);
	rel_session_reset(&r);
	CHECK(rel_input(&r, pkt, n, 3000) == 0);
	CHECK(rel_queue(&r, 6, 0, "six", 3) == 0);
	saw_seq6 = 0;
	rel_poll(&r, 4000, 16, catch_seq6, NULL);
	CHECK(saw_seq6);
	rel_free(&r);
}

static void test_cwnd(void)
{
	struct side a, b;
	setup(&a, &b, 0, 0, 0);
	msg_pad = 190;		/* 5 messages to a packet */
	queue_n(&a, 1, 1, 1000);
	CHECK(a.r.cwnd == REL_CWND_INIT);
	CHECK(rel_poll(&a.r, now, 64, emit_to_b, NULL) == REL_CWND_INIT && nnet == REL_CWND_INIT);
	CHECK(rel_next_us(&a.r, now) > now);	/* held by the window, not spinning */
	CHECK(rel_poll(&a.r, now, 64, emit_to_b, NULL) == 0);
	exchange(&a, &b, 0);
	CHECK(a.r.cwnd == 2 * REL_CWND_INIT);
	CHECK(rel_poll(&a.r, now, 64, emit_to_b, NULL) == 2 * REL_CWND_INIT);
	exchange(&a, &b, 0);
	CHECK(a.r.cwnd == 4 * REL_CWND_INIT);
	/* 40 packets; the first is lost. One ACK for the rest: slow start counts the 40, then
	 * the loss halves the window once, not once per hole. */
	CHECK(rel_poll(&a.r, now, 64, emit_to_b, NULL) == 4 * REL_CWND_INIT);
	exchange(&a, &b, 1);
	CHECK(a.r.cwnd == 4 * REL_CWND_INIT && a.r.ssthresh == 4 * REL_CWND_INIT);
	CHECK(a.r.n_rtx == 0);
	/* The fast retransmit goes out with new data, within the window. */
	CHECK(rel_poll(&a.r, now, 64, emit_to_b, NULL) > 0 && a.r.n_rtx == 5);
	exchange(&a, &b, 0);
	CHECK(b.got > 200 && b.order_bad == 0);
	/* Past ssthresh: about one packet more per round trip. */
	uint32_t w = a.r.cwnd;
	CHECK(w >= a.r.ssthresh);
	rel_poll(&a.r, now, 64, emit_to_b, NULL);
	exchange(&a, &b, 0);
	CHECK(a.r.cwnd == w + 1);
	/* All lost: after two round trips of silence (here the floor) one tail probe goes out,
	 * outside the window; lost too, then the timeout: the window collapses, the resend
	 * still goes. */
	CHECK(rel_poll(&a.r, now, 64, emit_to_b, NULL) > 0);
	nnet = 0;
	uint64_t probe = now + REL_MIN_PROBE_US, rto = now + a.r.rto_us;
	CHECK(rel_next_us(&a.r, now) == probe);
	now = probe;
	CHECK(rel_poll(&a.r, now, 64, emit_to_b, NULL) == 1 && a.r.cwnd == w + 1);
	nnet = 0;
	/* no second probe: the next wake-up is a retransmission timer */
	CHECK(rel_next_us(&a.r, now) > now + REL_MIN_PROBE_US && rel_next_us(&a.r, now) <= rto);
	now += REL_MAX_RTO_US + 1;
	CHECK(rel_poll(&a.r, now, 64, emit_to_b, NULL) == REL_CWND_MIN);
	CHECK(a.r.cwnd == REL_CWND_MIN && a.r.ssthresh >= REL_CWND_MIN);
	exchange(&a, &b, 0);
	CHECK(a.r.cwnd > REL_CWND_MIN);
	rel_path_change(&a.r);
	CHECK(a.r.cwnd == REL_CWND_INIT && a.r.ssthresh == REL_CWND_MAX);
	a.r.cwnd = 3;
	rel_session_reset(&a.r);
	CHECK(a.r.cwnd == REL_CWND_INIT);
	nnet = 0;
	b.durable_seen = 1000;
	run(&a, &b, 1000, now + 60000000ull, 0);
	CHECK(b.got == 1000 && b.order_bad == 0 && b.text_bad == 0 && a.durable_seen == 1000);
	rel_free(&a.r);
	rel_free(&b.r);
	msg_pad = 0;
}

int main(void)
{
	test_stream_classify();
	test_stream_left();
	test_hold();
	test_stream_sender_lost(0);
	test_stream_sender_lost(1);
	test_stream_receiver_lost(0);
	test_stream_receiver_lost(1);
	test_malformed();
	test_lossy(0, 0, 0, 2000);
	test_lossy(20, 0, 0, 5000);
	test_lossy(20, 5, 3000, 5000);
	test_lossy(40, 10, 10000, 2000);
	test_restart(0);
	test_restart(1);
	test_cwnd();
	test_reset_then_stored();
	uint64_t with = test_bottleneck(0, 0), without = test_bottleneck(1, 0);
	CHECK(with * 5 < without);
	test_bottleneck(0, 20);
	test_bottleneck(1, 20);
	free(net);
	return check_end("test_rel");
}
