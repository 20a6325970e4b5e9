/* rel.c: sequence numbers, acknowledgements, retransmission with an RTT estimate, reordering. */
#include <stdlib.h>
#include <string.h>

#include "rel.h"
#include "util.h"

size_t frame_put(uint8_t *buf, size_t cap, size_t off, int type, const void *body, size_t len)
{
	if (len > 0xffff || off + 3 + len > cap)
		return 0;
	buf[off] = (uint8_t)type;
	put_u16(buf + off + 1, (uint16_t)len);
	if (len)
		memcpy(buf + off + 3, body, len);
	return off + 3 + len;
}

int frame_next(const uint8_t *pkt, size_t len, size_t *off, int *type, const uint8_t **body, size_t *blen)
{
	if (*off == len)
		return 0;
	if (len - *off < 3)
		return -1;
	size_t n = get_u16(pkt + *off + 1);
	if (len - *off - 3 < n)
		return -1;
	*type = pkt[*off];
	*body = pkt + *off + 3;
	*blen = n;
	*off += 3 + n;
	return 1;
}

/* A new start for congestion control: nothing in flight, the initial window. */
static void cc_reset(struct rel *r)
{
	r->pkt_acked = r->recover = r->rto_recover = r->pkt_sent;
	r->cwnd = REL_CWND_INIT;
	r->ssthresh = REL_CWND_MAX;
	r->cwnd_acc = 0;
	r->cwnd_full = r->rtx_held = 0;
	r->probed = 0;
}

int rel_init(struct rel *r, const struct rel_ops *ops, void *arg)
{
	memset(r, 0, sizeof(*r));
	r->ops = ops;
	r->arg = arg;
	r->rto_us = REL_INIT_RTO_US;
	r->snd_nxt = 1;
	cc_reset(r);
	return 0;	/* the reorder buffer is allocated when first needed */
}

static struct rel_out *out_at(const struct rel *r, size_t i)
{
	return &r->q[(r->head + i) % r->cap];
}

void rel_free(struct rel *r)
{
	for (size_t i = 0; i < r->cnt; i++)
		free(out_at(r, i)->text);
	free(r->q);
	if (r->ooo)
		for (size_t i = 0; i < REL_WINDOW; i++)
			free(r->ooo[i].text);
	free(r->ooo);
	memset(r, 0, sizeof(*r));
}

void rel_tx_start(struct rel *r, uint64_t durable)
{
	r->acked = r->durable = durable;
	r->snd_nxt = durable + 1;
}

void rel_rx_start(struct rel *r, uint64_t stored)
{
	r->rx_stored = r->rx_durable = stored;
}

enum rel_stream rel_rx_stream(const struct rel *r, uint64_t sid, uint64_t first, uint64_t *base)
{
	uint64_t b = first ? first - 1 : 0;
	*base = b;
	if (r->rx_known && sid == r->rx_sid)
		return b > r->rx_stored ? REL_STREAM_JUMP : REL_STREAM_SAME;
	/* Unknown (a new log, one older than stream ids, or one that has had only sealed mail,
	 * which carries no stream id): what we hold is of this stream, and where the sender
	 * holds nothing more before base, it goes on from there. */
	if (!r->rx_known) {
		if (b < r->rx_stored)
			*base = r->rx_stored;
		return REL_STREAM_FIRST;
	}
	for (size_t i = 0; i < r->rx_nleft; i++)
		if (r->rx_left[i] == sid)
			return REL_STREAM_LEFT;
	return REL_STREAM_NEW;
}

size_t rel_rx_left_after(const struct rel *r, uint64_t sid, uint64_t out[REL_LEFT_MAX])
{
	size_t n = 0;
	int leave = r->rx_known && sid != r->rx_sid;
	if (leave)
		out[n++] = r->rx_sid;
	/* a stream taken up again is no longer left; the oldest fall off the end */
	for (size_t i = 0; i < r->rx_nleft && n < REL_LEFT_MAX; i++) {
		uint64_t s = r->rx_left[i];
		if (s != sid && !(leave && s == r->rx_sid))
			out[n++] = s;
	}
	return n;
}

void rel_rx_restart(struct rel *r, uint64_t sid, uint64_t base)
{
	for (size_t i = 0; r->ooo && i < REL_WINDOW; i++) {
		free(r->ooo[i].text);
		r->ooo[i] = (struct rel_in){ 0 };
	}
	/* What is written but maybe not synced stays not durable; what the sender holds no
	 * longer was durable at the peer it went to. */
	if (base > r->rx_stored || base < r->rx_durable)
		r->rx_durable = base;
	r->rx_stored = base;
	uint64_t left[REL_LEFT_MAX];
	r->rx_nleft = rel_rx_left_after(r, sid, left);
	memcpy(r->rx_left, left, sizeof(left));
	r->rx_sid = sid;
	r->rx_known = 1;
	r->ack_needed = 1;
}

void rel_rx_hold(struct rel *r, int hold)
{
	r->rx_hold = hold;
}

uint64_t rel_next_seq(const struct rel *r)
{
	return r->durable + r->cnt + 1;
}

size_t rel_pending(const struct rel *r)
{
	return r->cnt;
}

int rel_queue(struct rel *r, uint64_t seq, uint64_t ts, const char *text, size_t len)
{
	if (seq != rel_next_seq(r) || len > REL_MAX_TEXT)
		return -1;
	if (r->cnt == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct rel_out *q = malloc(cap * sizeof(*q));
		if (!q)
			return -1;
		for (size_t i = 0; i < r->cnt; i++)
			q[i] = *out_at(r, i);
		free(r->q);
		r->q = q;
		r->cap = cap;
		r->head = 0;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	*out_at(r, r->cnt) = (struct rel_out){ .seq = seq, .ts = ts, .text = copy, .len = (uint32_t)len };
	r->cnt++;
	return 0;
}

void rel_session_reset(struct rel *r)
{
	r->acked = r->durable;
	r->snd_nxt = r->durable + 1;
	for (size_t i = 0; i < r->cnt; i++) {
		struct rel_out *m = out_at(r, i);
		m->sent_us = 0;
		m->tries = 0;
		m->sacked = 0;
		m->lost = 0;
	}
	cc_reset(r);
	r->rtx_due_us = 0;
	r->ack_needed = 1;
	r->want_ping = r->cnt > 0;
}

void rel_path_change(struct rel *r)
{
	for (size_t i = 0; i < r->cnt; i++) {
		uint64_t seq = r->durable + 1 + i;
		struct rel_out *m = out_at(r, i);
		if (seq > r->acked && seq < r->snd_nxt && !m->sacked) {
			m->sent_us = 0;
			m->tries = 0;
			m->lost = 0;
		}
	}
	cc_reset(r);	/* a new path's capacity is unknown */
	r->srtt_us = 0;
	r->rttvar_us = 0;
	r->rto_us = REL_INIT_RTO_US;
	r->rtx_due_us = 0;
	r->ack_needed = 1;
	r->want_ping = r->cnt > 0;
}

void rel_ask_ack(struct rel *r)
{
	r->want_ping = 1;
}

static void rtt_sample(struct rel *r, uint64_t sample)
{
	if (r->srtt_us == 0) {
		r->srtt_us = sample;
		r->rttvar_us = sample / 2;
	} else {
		uint64_t d = r->srtt_us > sample ? r->srtt_us - sample : sample - r->srtt_us;
		r->rttvar_us = (3 * r->rttvar_us + d) / 4;
		r->srtt_us = (7 * r->srtt_us + sample) / 8;
	}
	uint64_t rto = r->srtt_us + (4 * r->rttvar_us > 1000 ? 4 * r->rttvar_us : 1000);
	if (rto < REL_MIN_RTO_US)
		rto = REL_MIN_RTO_US;
	if (rto > REL_MAX_RTO_US)
		rto = REL_MAX_RTO_US;
	r->rto_us = rto;
}

static uint64_t flight(const struct rel *r)
{
	return r->pkt_sent - r->pkt_acked;
}

/* Data packets up to pn have arrived. */
static void cc_acked(struct rel *r, uint64_t pn, uint64_t now_us)
{
	if (pn <= r->pkt_acked)
		return;
	uint64_t n = pn - r->pkt_acked;
	r->pkt_acked = pn;
	r->news_us = now_us;
	r->probed = 0;
	if (r->rtx_held)
		r->rtx_due_us = 0;	/* resends held for the window: rescan */
	if (!r->cwnd_full || pn <= r->recover)
		return;		/* not using the window, or still recovering */
	if (r->cwnd < r->ssthresh) {
		r->cwnd += n > r->ssthresh - r->cwnd ? r->ssthresh - r->cwnd : (uint32_t)n;
	} else {
		r->cwnd_acc += n > r->cwnd ? r->cwnd : (uint32_t)n;
		if (r->cwnd_acc >= r->cwnd) {
			r->cwnd_acc -= r->cwnd;
			r->cwnd++;
		}
	}
	if (r->cwnd > REL_CWND_MAX)
		r->cwnd = REL_CWND_MAX;
}

/* A message last sent in packet pn is lost: halve the window (fast retransmit), or after a
 * timeout start again from REL_CWND_MIN with nothing counted in flight. */
static void cc_loss(struct rel *r, uint64_t pn, int timeout, uint64_t now_us)
{
	if (pn <= (timeout ? r->rto_recover : r->recover))
		return;		/* sent before the last reduction: already answered */
	if (timeout)
		r->n_rto++;
	else
		r->n_fast++;
	uint64_t half = (timeout ? flight(r) : r->cwnd) / 2;
	r->ssthresh = half > REL_CWND_MIN ? (uint32_t)half : REL_CWND_MIN;
	r->cwnd = timeout ? REL_CWND_MIN : r->ssthresh;
	r->cwnd_acc = 0;
	r->recover = r->pkt_sent;
	if (timeout) {
		r->rto_recover = r->pkt_acked = r->pkt_sent;
		r->news_us = now_us;	/* the resend itself probes */
		r->probed = 0;
	}
}

/* Drop messages the receiver has on disk and tell the engine. */
static void release_durable(struct rel *r, uint64_t upto)
{
	if (upto <= r->durable)
		return;
	uint64_t top = r->durable + r->cnt;
	if (upto > top)
		upto = top;	/* the peer claims more than we sent: ignore the excess */
	while (r->durable < upto) {
		free(out_at(r, 0)->text);
		r->head = (r->head + 1) % r->cap;
		r->cnt--;
		r->durable++;
	}
	if (r->acked < r->durable)
		r->acked = r->durable;
	if (r->snd_nxt <= r->durable)
		r->snd_nxt = r->durable + 1;
	if (r->ops->durable)
		r->ops->durable(r->arg, r->durable);
}

/* ACK body: stored u64 | durable u64 | echo u32 | n u8 | n * (start u16, len u16): ranges of
 * messages buffered out of order, start counted from stored + 1 of this same ACK. */
static void on_ack(struct rel *r, const uint8_t *b, size_t n, uint64_t now_us)
{
	if (n < 21 || n < 21 + 4 * (size_t)b[20])
		return;
	uint64_t stored = get_u64(b), dur = get_u64(b + 8);
	uint32_t echo = get_u32(b + 16);
	size_t nranges = b[20];
	uint64_t top = r->durable + r->cnt;
	if (stored > top)
		stored = top;
	if (dur > stored)
		dur = stored;
	if (echo) {
		uint32_t s = (uint32_t)now_us - echo;
		if (s < 60000000u) {
			uint64_t old = r->rto_us;
			rtt_sample(r, s);
			if (r->rto_us < old)
				r->rtx_due_us = 0;	/* timers armed with the old RTO: rescan */
		}
	}
	uint64_t pn = 0;	/* the newest data packet this ACK shows arrived */
	for (uint64_t q = r->acked + 1; q <= stored && q < r->snd_nxt; q++)
		if (out_at(r, q - r->durable - 1)->pn > pn)
			pn = out_at(r, q - r->durable - 1)->pn;
	/* An older ACK overtaken by a newer one says nothing new. (A receiver that lost
	 * unsynced data comes back in a new session, and rel_session_reset goes back.) */
	if (stored > r->acked) {
		r->acked = stored;
		if (r->snd_nxt <= stored)
			r->snd_nxt = stored + 1;	/* after a reset: it has those, go on after them */
		if (r->ops->stored)
			r->ops->stored(r->arg, stored);
	}
	release_durable(r, dur);
	uint64_t highest = 0;
	for (size_t i = 0; i < nranges; i++) {
		uint64_t from = stored + 1 + get_u16(b + 21 + 4 * i), len = get_u16(b + 23 + 4 * i);
		for (uint64_t q = from; q < from + len && q <= top; q++) {
			if (q <= r->acked || q >= r->snd_nxt)
				continue;
			struct rel_out *m = out_at(r, q - r->durable - 1);
			m->sacked = 1;
			m->lost = 0;
			if (m->pn > pn)
				pn = m->pn;
			if (q > highest)
				highest = q;
		}
	}
	cc_acked(r, pn, now_us);
	/* A hole three or more below the highest sacked message is lost once a packet sent after
	 * it has arrived: resend it as soon as the window allows (its timer runs on). */
	for (uint64_t q = r->acked + 1; q + 3 <= highest; q++) {
		struct rel_out *m = out_at(r, q - r->durable - 1);
		if (!m->sacked && !m->lost && m->sent_us && m->pn < r->pkt_acked) {
			m->lost = 1;
			r->rtx_due_us = 0;
			cc_loss(r, m->pn, 0, now_us);
		}
	}
}

static void on_data(struct rel *r, const uint8_t *b, size_t n)
{
	if (n < 16 || n - 16 > REL_MAX_TEXT)
		return;
	uint64_t seq = get_u64(b), ts = get_u64(b + 8);
	const char *text = (const char *)b + 16;
	size_t len = n - 16;
	if (r->rx_hold)
		return;
	r->ack_needed = 1;
	if (seq <= r->rx_stored) {
		r->n_dup++;
		return;
	}
	if (seq - r->rx_stored >= REL_WINDOW)
		return;
	if (seq == r->rx_stored + 1) {
		r->ops->deliver(r->arg, seq, ts, text, len);
		r->rx_stored = seq;
		for (; r->ooo;) {
			struct rel_in *s = &r->ooo[(r->rx_stored + 1) % REL_WINDOW];
			if (s->seq != r->rx_stored + 1)
				break;
			r->ops->deliver(r->arg, s->seq, s->ts, s->text, s->len);
			r->rx_stored = s->seq;
			free(s->text);
			*s = (struct rel_in){ 0 };
		}
		return;
	}
	if (!r->ooo && !(r->ooo = calloc(REL_WINDOW, sizeof(*r->ooo))))
		return;
	struct rel_in *s = &r->ooo[seq % REL_WINDOW];
	if (s->seq == seq) {
		r->n_dup++;
		return;
	}
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return;
	if (len)
		memcpy(copy, text, len);
	free(s->text);
	*s = (struct rel_in){ .seq = seq, .ts = ts, .text = copy, .len = (uint32_t)len };
}

int rel_input(struct rel *r, const uint8_t *pkt, size_t len, uint64_t now_us)
{
	size_t off = 0;
	int type, rc;
	const uint8_t *body;
	size_t n;
	while ((rc = frame_next(pkt, len, &off, &type, &body, &n)) == 1) {
		switch (type) {
		case FR_DATA:
			on_data(r, body, n);
			break;
		case FR_ACK:
			on_ack(r, body, n, now_us);
			break;
		case FR_PING:
			r->ack_needed = 1;
			break;
		case FR_TS:
			if (n >= 4)
				r->echo = get_u32(body);
			break;
		default:
			if (r->ops->frame)
				r->ops->frame(r->arg, type, body, n);
		}
	}
	return rc < 0 ? -1 : 0;
}

void rel_synced(struct rel *r, uint64_t upto)
{
	if (upto > r->rx_stored)
		upto = r->rx_stored;
	if (upto > r->rx_durable) {
		r->rx_durable = upto;
		r->ack_needed = 1;
	}
}

static uint64_t rto_for(const struct rel *r, const struct rel_out *m)
{
	uint64_t rto = r->rto_us << (m->tries > 6 ? 6 : m->tries);
	if (m->sacked)
		rto *= 4;	/* the receiver has it buffered; resend only if it forgot */
	return rto > REL_MAX_RTO_US ? REL_MAX_RTO_US : rto;
}

/* When the tail probe is due: two round trips of silence, at least REL_MIN_PROBE_US. */
static uint64_t probe_due(const struct rel *r)
{
	return r->news_us + (2 * r->srtt_us > REL_MIN_PROBE_US ? 2 * r->srtt_us : REL_MIN_PROBE_US);
}

struct pkt {
	uint8_t buf[REL_MAX_PKT];
	size_t off;
	int has_data, count;
};

static void pkt_flush(struct pkt *p, rel_emit emit, void *arg)
{
	if (p->off) {
		emit(arg, p->buf, p->off);
		p->count++;
	}
	p->off = 0;
	p->has_data = 0;
}

/* m may go out now: it fits into the data packet being built, or the window has room. */
static int may_send(const struct rel *r, const struct pkt *p, const struct rel_out *m)
{
	if (p->has_data && p->off + 3 + 16 + m->len <= REL_MTU)
		return 1;
	return r->no_cc || flight(r) < r->cwnd;
}

static int add_data(struct rel *r, struct pkt *p, struct rel_out *m, uint64_t now_us, rel_emit emit, void *arg)
{
	size_t need = 3 + 16 + m->len;
	if (p->off && p->off + need + (p->has_data ? 0 : 7) > REL_MTU)
		pkt_flush(p, emit, arg);
	if (!p->has_data) {
		r->pkt_sent++;
		uint8_t ts[4];
		put_u32(ts, (uint32_t)now_us ? (uint32_t)now_us : 1);
		p->off = frame_put(p->buf, sizeof(p->buf), p->off, FR_TS, ts, 4);
		p->has_data = 1;
	}
	uint8_t *f = p->buf + p->off;
	f[0] = FR_DATA;
	put_u16(f + 1, (uint16_t)(16 + m->len));
	put_u64(f + 3, m->seq);
	put_u64(f + 11, m->ts);
	if (m->len)
		memcpy(f + 19, m->text, m->len);
	p->off += need;
	if (m->sent)
		r->n_rtx++;
	m->sent = 1;
	m->lost = 0;
	m->pn = r->pkt_sent;
	r->n_sent++;
	m->sent_us = now_us ? now_us : 1;
	return 0;
}

static void add_ack(struct rel *r, struct pkt *p)
{
	uint8_t b[21 + 4 * REL_ACK_RANGES];
	size_t nr = 0;
	put_u64(b, r->rx_stored);
	put_u64(b + 8, r->rx_durable);
	put_u32(b + 16, r->echo);
	r->echo = 0;
	for (uint64_t q = r->rx_stored + 2; r->ooo && q < r->rx_stored + REL_WINDOW && nr < REL_ACK_RANGES; q++) {
		if (r->ooo[q % REL_WINDOW].seq != q)
			continue;
		uint64_t e = q;
		while (e + 1 < r->rx_stored + REL_WINDOW && r->ooo[(e + 1) % REL_WINDOW].seq == e + 1)
			e++;
		put_u16(b + 21 + 4 * nr, (uint16_t)(q - r->rx_stored - 1));
		put_u16(b + 23 + 4 * nr, (uint16_t)(e - q + 1));
		nr++;
		q = e;
	}
	b[20] = (uint8_t)nr;
	p->off = frame_put(p->buf, sizeof(p->buf), p->off, FR_ACK, b, 21 + 4 * nr);
	r->ack_needed = 0;
}

int rel_poll(struct rel *r, uint64_t now_us, int max_pkts, rel_emit emit, void *arg)
{
	struct pkt *p = malloc(sizeof(*p));
	if (!p)
		return 0;
	p->off = 0;
	p->has_data = 0;
	p->count = 0;
	if (r->ack_needed && !r->rx_hold)
		add_ack(r, p);
	int held = 0;	/* data waits for the congestion window */
	if (!flight(r))
		r->news_us = now_us;	/* a new flight: the probe counts from its start */
	/* Retransmissions first, oldest first. */
	if (r->rtx_due_us <= now_us) {
		uint64_t next = UINT64_MAX;
		for (uint64_t s = r->acked + 1; s < r->snd_nxt && p->count < max_pkts; s++) {
			struct rel_out *m = out_at(r, s - r->durable - 1);
			uint64_t due = m->sent_us ? m->sent_us + rto_for(r, m) : 0;
			int timeout = m->sent_us && due <= now_us;
			if (timeout && !m->sacked)
				cc_loss(r, m->pn, 1, now_us);
			if (m->lost || due <= now_us) {
				if (!may_send(r, p, m)) {
					held = 1;
					if (due <= now_us)
						continue;	/* an ACK that opens the window rescans */
				} else {
					if (timeout)
						m->tries++;
					add_data(r, p, m, now_us, emit, arg);
					due = now_us + rto_for(r, m);
				}
			}
			if (due < next)
				next = due;
		}
		/* A timeout late in the scan may have opened the window for one held before it. */
		r->rtx_due_us = p->count < max_pkts && !(held && flight(r) < r->cwnd) ? next : 0;
		r->rtx_held = held;
	}
	/* New messages within the window. */
	while (r->snd_nxt <= r->durable + r->cnt && r->snd_nxt - r->acked < REL_WINDOW &&
	       p->count < max_pkts) {
		struct rel_out *m = out_at(r, r->snd_nxt - r->durable - 1);
		if (!may_send(r, p, m)) {
			held = 1;
			break;
		}
		add_data(r, p, m, now_us, emit, arg);
		uint64_t due = now_us + rto_for(r, m);
		if (due < r->rtx_due_us)
			r->rtx_due_us = due;
		r->snd_nxt++;
	}
	r->cwnd_full = held || r->rtx_held;
	/* Tail loss probe (as RFC 8985): nothing acknowledged for two round trips while data is
	 * in flight, so the last packets or their ACKs may be lost and nothing would tell us
	 * but the RTO. Resend the newest message the receiver lacks, outside the window: its
	 * ACK shows what arrived. Once, until an ACK brings news. */
	if (flight(r) && !r->probed && now_us >= probe_due(r) && p->count < max_pkts) {
		uint64_t s = r->snd_nxt - 1;
		while (s > r->acked && out_at(r, s - r->durable - 1)->sacked)
			s--;
		if (s > r->acked)
			add_data(r, p, out_at(r, s - r->durable - 1), now_us, emit, arg);
		else
			r->want_ping = 1;
		r->probed = 1;
	}
	/* Written but not yet on disk at the peer: ask again now and then. */
	if (r->durable < r->acked && r->acked + 1 >= r->snd_nxt && now_us - r->ping_us > r->rto_us)
		r->want_ping = 1;
	if (r->want_ping && p->count < max_pkts) {
		p->off = frame_put(p->buf, sizeof(p->buf), p->off, FR_PING, NULL, 0);
		r->ping_us = now_us;
		r->want_ping = 0;
	}
	pkt_flush(p, emit, arg);
	int n = p->count;
	free(p);
	return n;
}

uint64_t rel_next_us(const struct rel *r, uint64_t now_us)
{
	if ((r->ack_needed && !r->rx_hold) || r->want_ping)
		return 0;
	if (r->snd_nxt <= r->durable + r->cnt && r->snd_nxt - r->acked < REL_WINDOW &&
	    (r->no_cc || flight(r) < r->cwnd))
		return 0;
	uint64_t next = UINT64_MAX;
	if (r->acked + 1 < r->snd_nxt)
		next = r->rtx_due_us;
	if (flight(r) && !r->probed && probe_due(r) < next)
		next = probe_due(r);
	if (r->durable < r->acked && r->acked + 1 >= r->snd_nxt) {
		uint64_t p = r->ping_us + r->rto_us + 1;
		if (p < next)
			next = p;
	}
	return next < now_us ? now_us : next;
}
