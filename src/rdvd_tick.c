/* rdvd_tick.c: rendezvous server output: group commit, sending, retransmissions, dead sessions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rdvd_int.h"
#include "util.h"

static int list_add(uint32_t **list, uint32_t *n, uint32_t *cap, uint32_t v)
{
	if (*n == *cap) {
		uint32_t c = *cap ? *cap * 2 : 256;
		uint32_t *p = realloc(*list, c * sizeof(*p));
		if (!p)
			return -1;
		*list = p;
		*cap = c;
	}
	(*list)[(*n)++] = v;
	return 0;
}

struct emit_ctx {
	struct rdvd *srv;
	struct sess *s;
};

static void emit(void *arg, const uint8_t *pkt, size_t len)
{
	struct emit_ctx *e = arg;
	struct rdvd *srv = e->srv;
	struct sess *s = e->s;
	if (!s->cur || (s->flags & SF_CLOSE))
		return;
	int n = noise_encrypt(s->cur, pkt, len, srv->ct, sizeof(srv->ct));
	if (n < 0) {	/* keys past their lifetime: the client did not rekey */
		s->flags |= SF_CLOSE;
		rdvd_touch(srv, s);
		return;
	}
	srv->st.tx_packets++;
	srv->st.tx_bytes += (uint64_t)n;
	srv->send(srv->send_arg, s->src, &s->addr.sa, s->addrlen, srv->ct, (size_t)n);
}

/* Send what rel has due now; remember the session if rel will want attention later. */
static void poll_sess(struct rdvd *srv, struct sess *s, uint64_t now)
{
	if (s->state != SESS_UP || !s->cur)
		return;
	uint64_t now_us = now * 1000;
	struct emit_ctx e = { srv, s };
	rel_poll(&s->rel, now_us, 64, emit, &e);
	if (rel_next_us(&s->rel, now_us) != UINT64_MAX && !(s->flags & SF_BUSY) &&
	    list_add(&srv->busy, &srv->nbusy, &srv->cbusy, s->idx) == 0)
		s->flags |= SF_BUSY;
	/* An idle client costs no send queue: rel allocates it again when needed. */
	if (s->rel.cnt == 0 && s->rel.q) {
		free(s->rel.q);
		s->rel.q = NULL;
		s->rel.cap = s->rel.head = 0;
	}
	uint64_t queued = s->rel.cnt + (s->x ? s->x->noq : 0);
	if (queued > srv->conf.max_queue) {
		log_debug("client does not acknowledge (%llu queued): dropped", (unsigned long long)queued);
		s->flags |= SF_CLOSE;
		rdvd_touch(srv, s);
	}
}

int rdvd_flush(struct rdvd *srv, uint64_t now)
{
	int rc = 0;
	srv->now_ms = now;
	if (acct_dirty(srv->db) && acct_sync(srv->db) < 0) {
		rc = -1;
		if (now - srv->sync_warn_ms >= 10000 || !srv->sync_warn_ms) {
			srv->sync_warn_ms = now | 1;
			log_warn("state journal: cannot sync (%s); answers are held", strerror(errno));
		}
	}
	uint32_t keep = 0;
	for (uint32_t i = 0; i < srv->nwaiting; i++) {
		struct sess *s = rdvd_sess(srv, srv->waiting[i]);
		if (s->state == SESS_FREE || !(s->flags & SF_WAITING))
			continue;
		rdvd_release(srv, s);
		if (s->x && s->x->noq)
			srv->waiting[keep++] = s->idx;
		else
			s->flags &= ~SF_WAITING;
	}
	srv->nwaiting = keep;
	for (uint32_t i = 0; i < srv->ntouched; i++) {
		struct sess *s = rdvd_sess(srv, srv->touched[i]);
		s->flags &= ~SF_TOUCHED;
		if (s->state == SESS_FREE)
			continue;
		if (s->flags & SF_CLOSE) {
			rdvd_sess_free(srv, s);
			continue;
		}
		rdvd_pump_mail(srv, s);
		poll_sess(srv, s, now);
	}
	srv->ntouched = 0;
	if (!acct_dirty(srv->db) && acct_rotate(srv->db, 0) < 0)
		log_warn("state: cannot write a snapshot; the journal keeps growing");
	return rc;
}

static void sweep(struct rdvd *srv, uint64_t now)
{
	for (uint32_t i = 0; i < srv->nsess_slots; i++) {
		struct sess *s = rdvd_sess(srv, i);
		if (s->state == SESS_HS && !s->cur && now - s->created_ms > RDVD_HS_TIMEOUT_MS) {
			rdvd_sess_free(srv, s);
		} else if (s->state == SESS_UP && now - s->last_rx_ms > srv->conf.session_timeout_ms) {
			srv->st.dead++;
			log_debug("client silent for %u ms: offline", srv->conf.session_timeout_ms);
			rdvd_sess_free(srv, s);
		} else if (s->state == SESS_UP && s->rel.ooo) {
			/* the reorder buffer is 64 KB: give it back once it is empty */
			int empty = 1;
			for (size_t k = 0; k < REL_WINDOW && empty; k++)
				empty = s->rel.ooo[k].seq <= s->rel.rx_stored;
			if (empty) {
				for (size_t k = 0; k < REL_WINDOW; k++)
					free(s->rel.ooo[k].text);
				free(s->rel.ooo);
				s->rel.ooo = NULL;
			}
		}
	}
}

void rdvd_tick(struct rdvd *srv, uint64_t now)
{
	srv->now_ms = now;
	uint32_t keep = 0;
	for (uint32_t i = 0; i < srv->nbusy; i++) {
		struct sess *s = rdvd_sess(srv, srv->busy[i]);
		if (s->state == SESS_FREE || !(s->flags & SF_BUSY))
			continue;
		uint64_t now_us = now * 1000, next = rel_next_us(&s->rel, now_us);
		if (next <= now_us)
			poll_sess(srv, s, now);
		if (s->state != SESS_FREE && rel_next_us(&s->rel, now_us) != UINT64_MAX)
			srv->busy[keep++] = s->idx;
		else
			s->flags &= ~SF_BUSY;
	}
	srv->nbusy = keep;
	if (now - srv->last_sweep_ms >= RDVD_SWEEP_MS) {
		srv->last_sweep_ms = now;
		sweep(srv, now);
	}
	rdvd_flush(srv, now);
}

uint64_t rdvd_next_ms(const struct rdvd *srv, uint64_t now)
{
	uint64_t next = srv->last_sweep_ms + RDVD_SWEEP_MS;
	if (srv->nbusy && now + RDVD_TICK_MS < next)
		next = now + RDVD_TICK_MS;
	if (srv->nwaiting && now + 100 < next)
		next = now + 100;	/* a failed sync is tried again */
	return next < now ? now : next;
}

void rdvd_source_closed(struct rdvd *srv, uint32_t src, uint64_t now)
{
	srv->now_ms = now;
	uint32_t si = rdvd_tcp_session(srv, src);
	struct sess *s = si == UINT32_MAX ? NULL : rdvd_sess(srv, si);
	if (s && s->src == src)
		rdvd_sess_free(srv, s);
	rdvd_flush(srv, now);
}

void rdvd_shutdown(struct rdvd *srv)
{
	for (uint32_t i = 0; i < srv->nsess_slots; i++) {
		struct sess *s = rdvd_sess(srv, i);
		if (s->state != SESS_FREE && s->acct)
			rdvd_logout(srv, s);
	}
	rdvd_flush(srv, srv->now_ms);
	srv->shutting_down = 1;
}

void rdvd_stats(const struct rdvd *srv, struct rdvd_stats *st)
{
	*st = srv->st;
	st->sessions = srv->nsessions;
	st->handshaking = srv->nhandshaking;
	st->logged_in = srv->nlogged;
	st->keypairs = srv->nkp;
	st->relay_users = srv->relay_count;
}
