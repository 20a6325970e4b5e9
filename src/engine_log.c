/* engine_log.c: the per-contact log, one journal holding history and outbox: writing
 * records, checkpoints, the reliable-delivery callbacks that log, recovery at start and
 * reading history back. The rest of the engine is in engine.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "engine_int.h"
#include "log.h"
#include "util.h"

/* A record: type u8, a u64, b u64, text. A checkpoint's text grew with stream ids, then with
 * the streams left (a count u8 and that many u64, as an R record's text after its u64). */
enum {
	REC_HEAD = 17,
	CHECK_OLD = REC_HEAD + 16,
	CHECK_LEN = REC_HEAD + 33,
	LEFT_LEN = 1 + 8 * REL_LEFT_MAX,
	RXID_OLD = REC_HEAD + 8,
};

/* The streams left, after a checkpoint's or R record's fixed text: count u8, u64s. */
static size_t put_left(uint8_t *p, const uint64_t *left, size_t n)
{
	p[0] = (uint8_t)n;
	for (size_t i = 0; i < n; i++)
		put_u64(p + 1 + 8 * i, left[i]);
	return 1 + 8 * n;
}

/* 0 (none known: a record from before) when the rest is absent or does not hold the count. */
static size_t get_left(const uint8_t *p, size_t len, uint64_t left[REL_LEFT_MAX])
{
	if (len < 1 || p[0] > REL_LEFT_MAX || len < 1 + 8 * (size_t)p[0])
		return 0;
	for (size_t i = 0; i < p[0]; i++)
		left[i] = get_u64(p + 1 + 8 * i);
	return p[0];
}

int log_append(struct contact *c, int type, uint64_t a, uint64_t b, const char *text, size_t len)
{
	uint8_t buf[17 + REL_MAX_TEXT];
	if (len > REL_MAX_TEXT)
		return -1;
	buf[0] = (uint8_t)type;
	put_u64(buf + 1, a);
	put_u64(buf + 9, b);
	if (len)
		memcpy(buf + 17, text, len);
	if (jlog_append(c->log, buf, 17 + len) < 0) {
		log_warn("%s: log append: %s", c->id, strerror(errno));
		return -1;
	}
	if (type == REC_OUT)
		c->last_out = a;
	c->since_check++;
	return 0;
}

/* A summary of the state so far, so that recovery reads back only to here (plus the
 * outbox, which is short). Written at the end of a pass (flush_logs), when the state agrees
 * with every record before it: a record's own state change comes after its append. */
void log_checkpoint(struct contact *c)
{
	uint8_t t[CHECK_LEN - REC_HEAD + LEFT_LEN];
	put_u64(t, c->rel.rx_stored);
	put_u64(t + 8, c->shown);
	put_u64(t + 16, c->tx_sid);
	put_u64(t + 24, c->rel.rx_sid);
	t[32] = (uint8_t)c->rel.rx_known;
	size_t n = 33 + put_left(t + 33, c->rel.rx_left, c->rel.rx_nleft);
	c->since_check = 0;
	log_append(c, REC_CHECK, c->last_out, c->durable_logged, (const char *)t, n);
}

/* ICQ's away message: while we are away or busy with a message, the first message from a
 * contact gets it back once, as a normal message that starts with AUTOREPLY_TAG, until we
 * reply to that contact or come back online. An auto-reply gets none (two away clients would
 * answer each other). Sent at the end of the pass (autoreply_send). */

static void autoreply_note(struct contact *c, const char *text, size_t len)
{
	struct engine *e = c->e;
	size_t tl = sizeof(AUTOREPLY_TAG) - 1;
	if ((e->status != ST_AWAY && e->status != ST_BUSY) || !e->status_text[0] || c->autoreplied)
		return;
	if (len >= tl && memcmp(text, AUTOREPLY_TAG, tl) == 0)
		return;
	c->autoreplied = 1;
	c->autoreply_due = 1;
	e->autoreplies_due = 1;
}

static void rel_deliver(void *arg, uint64_t seq, uint64_t ts, const char *text, size_t len)
{
	struct contact *c = arg;
	log_append(c, REC_IN, seq, ts, text, len);
	typing_reset(c, 0);	/* what they typed has come */
	engine_defer(c->e, EV_MSG, c, seq, ts, text, len);
	autoreply_note(c, text, len);
}

static void rel_stored(void *arg, uint64_t upto)
{
	struct contact *c = arg;
	while (c->delivered_upto < upto)
		engine_defer(c->e, EV_DELIVERED, c, ++c->delivered_upto, 0, NULL, 0);
}

static void rel_durable(void *arg, uint64_t upto)
{
	struct contact *c = arg;
	if (upto > c->durable_logged) {
		log_append(c, REC_DURABLE, upto, 0, NULL, 0);
		c->durable_logged = upto;
		engine_defer(c->e, EV_DURABLE, c, upto, 0, NULL, 0);
	}
}

static const struct rel_ops contact_rel_ops = {
	.deliver = rel_deliver,
	.stored = rel_stored,
	.durable = rel_durable,
	.frame = session_frame,
};

/* Read the log from its end back to the last checkpoint (or the start): the last message
 * received and the last shown, the last durable mark, and every message sent after it (the
 * outbox), which goes back into the sending queue. Received messages that were stored but
 * never shown (a crash between the write and the display) are shown now. */
struct recover {
	uint64_t last_in, durable, last_out, shown, tx_sid, rx_sid;
	uint64_t left[REL_LEFT_MAX];	/* with rx_sid, from the same record */
	size_t nleft;
	int have_in, have_dur, have_out, have_shown, have_tx, have_rx, rx_known;
	struct { uint64_t seq, off; } *outs, *ins;
	size_t nouts, nins, capouts, capins;
};

static int keep_off(void *vp, size_t *n, size_t *cap, uint64_t seq, uint64_t off)
{
	struct { uint64_t seq, off; } **v = vp;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		void *p = realloc(*v, nc * sizeof(**v));
		if (!p)
			return -1;
		*v = p;
		*cap = nc;
	}
	(*v)[*n].seq = seq;
	(*v)[*n].off = off;
	(*n)++;
	return 0;
}

static int recover_done(const struct recover *r)
{
	if (!(r->have_in && r->have_dur && r->have_out && r->have_shown && r->have_tx && r->have_rx))
		return 0;
	size_t pending = 0;
	for (size_t i = 0; i < r->nouts; i++)
		pending += r->outs[i].seq > r->durable;
	return pending >= r->last_out - r->durable;
}

static int recover_scan(struct contact *c, struct recover *r)
{
	struct jlog_iter it;
	const uint8_t *rec;
	size_t len;
	uint64_t off;
	int rc = 0;
	if (jlog_iter_rev(&it, c->log, UINT64_MAX) < 0)
		return -1;
	while (!recover_done(r) && (rc = jlog_next(&it, &rec, &len, &off)) == 1) {
		if (len < 17)
			continue;
		uint64_t a = get_u64(rec + 1), b = get_u64(rec + 9);
		switch (rec[0]) {
		case REC_IN:
			if (!r->have_in)
				r->last_in = a, r->have_in = 1;
			if (!r->have_shown && keep_off(&r->ins, &r->nins, &r->capins, a, off) < 0)
				rc = -1;
			break;
		case REC_SHOWN:
			if (!r->have_shown)
				r->shown = a, r->have_shown = 1;
			break;
		case REC_DURABLE:
			if (!r->have_dur)
				r->durable = a, r->have_dur = 1;
			break;
		case REC_OUT:
			if (!r->have_out)
				r->last_out = a, r->have_out = 1;
			if ((!r->have_dur || a > r->durable) && keep_off(&r->outs, &r->nouts, &r->capouts, a, off) < 0)
				rc = -1;
			break;
		case REC_CHECK:
			if (len < CHECK_OLD)
				break;
			if (!r->have_out)
				r->last_out = a, r->have_out = 1;
			if (!r->have_dur)
				r->durable = b, r->have_dur = 1;
			if (!r->have_in)
				r->last_in = get_u64(rec + 17), r->have_in = 1;
			if (!r->have_shown)
				r->shown = get_u64(rec + 25), r->have_shown = 1;
			/* a checkpoint from before stream ids: an old log, our stream is 0 */
			if (!r->have_tx)
				r->tx_sid = len >= CHECK_LEN ? get_u64(rec + 33) : 0, r->have_tx = 1;
			if (!r->have_rx && len >= CHECK_LEN) {
				r->rx_sid = get_u64(rec + 41), r->rx_known = rec[49] != 0;
				r->nleft = get_left(rec + CHECK_LEN, len - CHECK_LEN, r->left);
			}
			r->have_rx = 1;
			break;
		case REC_TXID:
			if (!r->have_tx)
				r->tx_sid = a, r->have_tx = 1;
			break;
		case REC_RXID:
			/* newer than every message counted on the stream before it */
			if (!r->have_rx) {
				r->rx_sid = a, r->rx_known = 1, r->have_rx = 1;
				r->nleft = len > RXID_OLD ? get_left(rec + RXID_OLD, len - RXID_OLD, r->left) : 0;
			}
			if (!r->have_in)
				r->last_in = b, r->have_in = 1;
			if (!r->have_shown)
				r->shown = len >= RXID_OLD ? get_u64(rec + 17) : b, r->have_shown = 1;
			break;
		}
		if (rc < 0)
			break;
	}
	jlog_iter_done(&it);
	/* Reached the start: whatever was not found is zero (our stream 0: an old log). */
	r->have_in = r->have_dur = r->have_out = r->have_shown = r->have_tx = r->have_rx = 1;
	return rc < 0 ? -1 : 0;
}

/* Read the record at off (a message) and hand it to fn. */
static int reread(struct contact *c, uint64_t off, void (*fn)(struct contact *, uint64_t, uint64_t, const char *, size_t))
{
	struct jlog_iter it;
	const uint8_t *rec;
	size_t len;
	uint64_t o;
	if (jlog_iter_fwd(&it, c->log, off) < 0)
		return -1;
	if (jlog_next(&it, &rec, &len, &o) == 1 && len >= 17)
		fn(c, get_u64(rec + 1), get_u64(rec + 9), (const char *)rec + 17, len - 17);
	jlog_iter_done(&it);
	return 0;
}

static void requeue(struct contact *c, uint64_t seq, uint64_t ts, const char *text, size_t len)
{
	if (seq == rel_next_seq(&c->rel))
		rel_queue(&c->rel, seq, ts, text, len);
	else
		log_warn("%s: outbox record %llu out of sequence skipped", c->id, (unsigned long long)seq);
}

static void reshow(struct contact *c, uint64_t seq, uint64_t ts, const char *text, size_t len)
{
	engine_defer(c->e, EV_MSG, c, seq, ts, text, len);
}

static int contact_recover(struct contact *c)
{
	struct recover r = { 0 };
	int rc = recover_scan(c, &r);
	if (rc == 0) {
		/* The peer has our messages <= durable: the outbox starts after it. */
		rel_tx_start(&c->rel, r.durable);
		rel_rx_start(&c->rel, r.last_in);
		c->rel.rx_sid = r.rx_sid;
		c->rel.rx_known = r.rx_known;
		memcpy(c->rel.rx_left, r.left, sizeof(r.left));
		c->rel.rx_nleft = r.nleft;
		c->tx_sid = r.tx_sid;
		c->durable_logged = r.durable;
		c->delivered_upto = r.durable;
		c->last_out = r.last_out;
		c->shown = r.shown < r.last_in ? r.shown : r.last_in;
		/* Both lists are newest first: replay oldest first. */
		for (size_t i = r.nouts; i-- > 0;)
			if (r.outs[i].seq > r.durable)
				reread(c, r.outs[i].off, requeue);
		for (size_t i = r.nins; i-- > 0;)
			if (r.ins[i].seq > c->shown)
				reread(c, r.ins[i].off, reshow);
		if (rel_pending(&c->rel))
			log_info("%s: %zu messages still in the outbox", c->id, rel_pending(&c->rel));
	}
	free(r.outs);
	free(r.ins);
	return rc;
}

int contact_open_log(struct contact *c)
{
	char path[700];
	uint64_t cut = 0;
	snprintf(path, sizeof(path), "%s/log/%s.jl", c->e->home, c->id);
	if (jlog_open(&c->log, path, &cut) < 0) {
		log_warn("%s: %s", path, strerror(errno));
		return -1;
	}
	if (cut)
		log_warn("%s: a torn last record (%llu bytes) was cut", path, (unsigned long long)cut);
	if (rel_init(&c->rel, &contact_rel_ops, c) < 0)
		return -1;
	c->rel_ready = 1;
	if (jlog_end(c->log) == 0) {
		/* A new log: a new stream, on disk before any peer hears of it. */
		do
			randombytes_buf(&c->tx_sid, sizeof(c->tx_sid));
		while (c->tx_sid == 0);
		if (log_append(c, REC_TXID, c->tx_sid, 0, NULL, 0) < 0 || jlog_sync(c->log) < 0) {
			log_warn("%s: %s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	return contact_recover(c);
}

/* The peer's stream sid, first seq it holds (FR_STREAM or sealed mail). The record goes to the
 * log before the change and before any message counted by it; the messages that follow are
 * logged after it. */
int log_rx_stream(struct contact *c, uint64_t sid, uint64_t first)
{
	struct engine *e = c->e;
	uint64_t base;
	enum rel_stream how = rel_rx_stream(&c->rel, sid, first, &base);
	if (how == REL_STREAM_SAME)
		return 0;
	/* A stream we left, named by a live session: the peer went back to an old copy of its
	 * log, and says so itself; a restart as any other (stale mail does not come here). */
	int restart = how == REL_STREAM_NEW || how == REL_STREAM_LEFT;
	uint64_t shown = restart ? base : c->shown, left[REL_LEFT_MAX];
	uint8_t t[8 + LEFT_LEN];
	put_u64(t, shown);
	size_t n = 8 + put_left(t + 8, left, rel_rx_left_after(&c->rel, sid, left));
	if (log_append(c, REC_RXID, sid, base, (const char *)t, n) < 0)
		return -1;
	if (!restart && base > c->rel.rx_stored)
		log_info("%s: its messages up to %llu are not in this log", c->id, (unsigned long long)base);
	rel_rx_restart(&c->rel, sid, base);
	c->shown = shown;
	/* a sync running now must not mark the new stream's messages durable */
	for (size_t i = 0; i < e->nbatch; i++)
		if (e->batch[i].c == c && e->batch[i].rx > base)
			e->batch[i].rx = base;
	if (restart) {
		log_info("%s: its message history restarted (stream %016llx from %llu)", c->id,
			 (unsigned long long)sid, (unsigned long long)base + 1);
		engine_defer(e, EV_RESTART, c, base, 0, NULL, 0);
	}
	return 0;
}

/* The peer's FR_STREAM: sid u64, first u64. */
void log_peer_stream(struct contact *c, const uint8_t *b, size_t n)
{
	if (n < 16 || !c->rel_ready)
		return;
	c->s.peer_stream = 1;
	if (log_rx_stream(c, get_u64(b), get_u64(b + 8)) == 0)
		rel_rx_hold(&c->rel, 0);	/* else held: nothing is counted that the log cannot place */
}

/* --- history for the front end --- */

int engine_history(struct engine *e, const char *id, uint64_t *cursor, int max,
		   engine_hist_cb cb, void *arg)
{
	struct contact *c = contact_lookup(e, id, 1);
	if (!c || *cursor == 0)
		return 0;
	struct jlog_iter it;
	if (jlog_iter_rev(&it, c->log, *cursor) < 0)
		return 0;
	int n = 0;
	const uint8_t *rec;
	size_t len;
	uint64_t off;
	while (n < max && jlog_next(&it, &rec, &len, &off) == 1) {
		*cursor = off;
		if (len < 17 || (rec[0] != REC_IN && rec[0] != REC_OUT))
			continue;
		uint64_t seq = get_u64(rec + 1);
		int out = rec[0] == REC_OUT;
		cb(arg, out, seq, get_u64(rec + 9), (const char *)rec + 17, len - 17,
		   out ? seq <= c->delivered_upto : 1);
		n++;
	}
	if (n < max)
		*cursor = 0;
	jlog_iter_done(&it);
	return n;
}
