/* rdv_conn.c: one encrypted session per rendezvous server over the engine's UDP socket (or
 * over TCP when UDP gets no answer, rdv_tcp.c): name lookup, the server key on first use,
 * Noise handshakes, in-memory rel, requests and RESULTs, keepalive, reconnection with
 * back-off. Nothing here blocks. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "log.h"
#include "rdv_int.h"
#include "stun.h"
#include "util.h"

enum { KEYREQ_TRIES = 5, HS_TRIES = 8, HS_KEYCHECK_AT = 4, BACKOFF_MAX_MS = 60000 };

static void srv_tick(struct loop *l, void *arg);
static void srv_merge(struct rdv_srv *s, struct rdv_srv *t);

/* The first server with s's key: one server reached under two names (an IPv4 and an IPv6
 * literal, two host names) must have one session, as it keeps one session per user key. */
static struct rdv_srv *srv_canon(struct rdv_srv *s)
{
	for (int i = 0; s->have_pk && i < s->r->nsrv; i++)
		if (s->r->srv[i]->have_pk && sodium_memcmp(s->r->srv[i]->pk, s->pk, 32) == 0)
			return s->r->srv[i];
	return s;
}

struct rdv_srv *srv_get(struct rdv *r, const char *host, uint16_t port, int create)
{
	for (int i = 0; i < r->nsrv; i++)
		if (r->srv[i]->port == port && strcasecmp(r->srv[i]->host, host) == 0)
			return srv_canon(r->srv[i]);
	if (!create || r->nsrv == RDV_MAX_SERVERS || strlen(host) > RDV_HOST_MAX || !*host)
		return NULL;
	struct rdv_srv *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->r = r;
	str_copy(s->host, host, sizeof(s->host));
	for (char *p = s->host; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	s->port = port;
	snprintf(s->label, sizeof(s->label), strchr(host, ':') ? "[%s]:%u" : "%s:%u", s->host, port);
	s->phase = SRV_IDLE;
	rdv_tcp_init(&s->tcp);
	timer_init(&s->t, srv_tick, s);
	r->srv[r->nsrv++] = s;
	return s;
}

int srv_up(const struct rdv_srv *s)
{
	return s->phase == SRV_UP;
}

void srv_set_pk(struct rdv_srv *s, const uint8_t pk[32])
{
	memcpy(s->pk, pk, 32);
	s->have_pk = 1;
}

/* The one place that picks the transport: a session that TCP carries stays on it; while a
 * TCP attempt is open, packets go both ways and the first answer decides. */
static void send_raw(struct rdv_srv *s, const uint8_t *pkt, size_t len)
{
	struct engine *e = s->r->e;
	if (!s->addrlen)
		return;
	if (s->tcp.fd >= 0)
		rdv_tcp_send(s, pkt, len);
	if (!s->tcp.used && e->fd >= 0 &&
	    sendto(e->fd, pkt, len, 0, (struct sockaddr *)&s->addr, s->addrlen) < 0)
		log_debug("rendezvous %s: send: %s", s->label, strerror(errno));
	s->last_tx_ms = mono_ms();
}

static void srv_emit(void *arg, const uint8_t *pt, size_t len)
{
	struct rdv_srv *s = arg;
	uint8_t out[REL_MAX_PKT + NOISE_DATA_OVERHEAD];
	if (!s->kp)
		return;
	int n = noise_encrypt(s->kp, pt, len, out, sizeof(out));
	if (n > 0)
		send_raw(s, out, (size_t)n);
}

/* --- session life cycle --- */

static void session_end(struct rdv_srv *s)
{
	if (s->hs) {
		noise_hs_free(s->hs);
		s->hs = NULL;
	}
	if (s->kp) {
		noise_kp_free(s->kp);
		s->kp = NULL;
	}
	if (s->rel_ready) {
		rel_free(&s->rel);
		s->rel_ready = 0;
	}
	rdv_tcp_close(s);	/* UDP first again in the next cycle */
	s->logged_in = 0;
}

/* The session is gone (or never came): back to idle, retry after a back-off. */
static void srv_down(struct rdv_srv *s, const char *why)
{
	int was_up = s->phase == SRV_UP;
	if (was_up || !s->warned)
		log_info("rendezvous %s: %s", s->label, why);
	session_end(s);
	ops_drop_scoped(s);
	s->phase = SRV_IDLE;
	s->tries = 0;
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 1000;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	s->next_ms = mono_ms() + s->backoff_ms;
	if (was_up) {
		s->announced = 0;
		rdv_on_down(s);
	} else if (!s->warned) {
		s->warned = 1;
		if (s->home)
			rdv_info(s->r, "rendezvous %s does not answer: retrying", s->label);
	}
	srv_arm(s);
}

static void srv_refuse(struct rdv_srv *s, const uint8_t *seen)
{
	char want[ID_STRLEN + 1], got[ID_STRLEN + 1];
	id_encode(s->pk, want);
	id_encode(seen, got);
	rdv_warning(s->r, got, "the rendezvous %s now presents another key (%s, pinned %s): refused; if the "
		    "server really changed its key, remove its line from the servers file", s->label, got, want);
	int was_up = s->phase == SRV_UP;
	session_end(s);
	s->phase = SRV_REFUSED;
	ops_fail_all(s);
	if (was_up)
		rdv_on_down(s);
}

static void session_new(struct rdv_srv *s, struct noise_keypair *kp)
{
	uint64_t now = mono_ms();
	if (s->kp)
		noise_kp_free(s->kp);
	s->kp = kp;
	if (s->rel_ready)
		rel_free(&s->rel);
	s->rel_ready = 0;
	s->session_ms = s->last_rx_ms = now;
	s->ping_ms = 0;
	s->phase = SRV_UP;
	s->tries = 0;
	s->backoff_ms = 0;
	s->keycheck = 0;
	s->warned = 0;
	s->logged_in = 0;
	log_debug("rendezvous %s: session up", s->label);
}

static const struct rel_ops srv_rel_ops;

static void session_start(struct rdv_srv *s, struct noise_keypair *kp)
{
	session_new(s, kp);
	if (rel_init(&s->rel, &srv_rel_ops, s) < 0) {
		srv_down(s, "out of memory");
		return;
	}
	s->rel_ready = 1;
	rel_tx_start(&s->rel, 0);
	rel_rx_start(&s->rel, 0);
	if (!s->mappedlen && !s->tcp.used) {
		/* Learn our public address the standard way: a STUN Binding request on the same
		 * UDP socket and port our peers will see (the server-reflexive candidate). */
		uint8_t req[STUN_HEADER_LEN];
		stun_request(s->stun_txid, req);
		send_raw(s, req, sizeof(req));
		s->stun_out = 1;
	}
	/* Session-scoped messages (LOGIN, SUBSCRIBEs) go first, then what is still unanswered. */
	ops_drop_scoped(s);
	struct rdv_op *keep = s->ops;
	s->ops = NULL;
	rdv_on_session(s);
	struct rdv_op **t = &s->ops;
	while (*t)
		t = &(*t)->next;
	*t = keep;
	ops_send(s);
	srv_flush(s);
}

static uint32_t new_index(void)
{
	uint32_t i;
	do
		i = randombytes_random();
	while (i == 0);
	return i;
}

static void hs_send(struct rdv_srv *s)
{
	struct engine *e = s->r->e;
	uint8_t pkt[NOISE_INIT_LEN];
	if (!s->hs && !(s->hs = noise_hs_new()))
		return;
	uint64_t now = mono_ms();
	const uint8_t *cookie = s->cookie_ms && now - s->cookie_ms < NOISE_COOKIE_SECRET_MS ? s->cookie : NULL;
	if (noise_init_create(s->hs, &e->me, s->pk, new_index(), cookie, pkt) < 0) {
		log_warn("rendezvous %s: unusable server key", s->label);
		srv_refuse(s, s->pk);
		return;
	}
	send_raw(s, pkt, sizeof(pkt));
	s->hs_sent_ms = now;
	s->tries++;
}

static uint64_t hs_retry_ms(const struct rdv_srv *s)
{
	uint64_t ms = (uint64_t)RDV_HS_MIN_MS << (s->tries > 6 ? 6 : s->tries);
	return ms > RDV_HS_MAX_MS ? RDV_HS_MAX_MS : ms;
}

static void keyreq_send(struct rdv_srv *s)
{
	uint8_t pkt[RDV_KEYREQ_LEN] = { NOISE_WIRE_VERSION, RDV_KEYREQ_TYPE };
	send_raw(s, pkt, sizeof(pkt));
	s->hs_sent_ms = mono_ms();
}

static void after_resolve(struct rdv_srv *s)
{
	s->phase_ms = mono_ms();
	s->tries = 0;
	rdv_tcp_close(s);
	if (s->have_pk) {
		s->phase = SRV_HANDSHAKE;
		hs_send(s);
	} else {
		s->phase = SRV_KEYREQ;
		s->tries = 1;
		keyreq_send(s);
	}
	srv_arm(s);
}

static void resolve_result(struct rdv_srv *s, int rc, const char *why)
{
	if (rc == 1) {
		s->phase = SRV_RESOLVING;
		srv_arm(s);
	} else if (rc < 0) {
		if (s->home || !s->warned)
			rdv_info(s->r, "rendezvous %s: %s", s->label, why);
		s->warned = 1;
		srv_down(s, why);
	} else {
		after_resolve(s);
	}
}

static void resolve_start(struct rdv_srv *s)
{
	const char *why = "";
	s->phase_ms = mono_ms();
	resolve_result(s, rdv_resolve(s, &why), why);
}

/* The user wants this server now: no waiting for the back-off. */
void srv_start(struct rdv_srv *s)
{
	if (s->phase == SRV_IDLE) {
		s->next_ms = 0;
		resolve_start(s);
	}
	srv_arm(s);
}

/* --- input --- */

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr *b, socklen_t blen)
{
	if (a->ss_family != b->sa_family)
		return 0;
	if (b->sa_family == AF_INET && blen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (b->sa_family == AF_INET6 && blen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return 0;
}

/* Input from UDP (only NULL) is for servers whose session TCP does not carry; input from a
 * server's TCP stream (only = that server) is for that server alone. */
static int srv_via(const struct rdv_srv *s, const struct rdv_srv *only)
{
	return only ? s == only : !s->tcp.used;
}

static int on_key(struct rdv *r, struct rdv_srv *only, const uint8_t *pkt, size_t n,
		  const struct sockaddr *src, socklen_t srclen)
{
	uint8_t x[32];
	if (n != RDV_KEY_LEN || pkt[2] || pkt[3])
		return 1;
	for (int i = 0; i < r->nsrv; i++) {
		struct rdv_srv *s = r->srv[i];
		if ((s->phase != SRV_KEYREQ && !s->keycheck) || !srv_via(s, only) ||
		    (!only && !same_addr(&s->addr, src, srclen)))
			continue;
		const uint8_t *pk = pkt + 4;
		if (id_pk_to_x25519(pk, x) < 0)
			return 1;
		rdv_tcp_answered(s, only != NULL);
		if (s->have_pk && sodium_memcmp(s->pk, pk, 32) != 0) {
			srv_refuse(s, pk);
		} else if (!s->have_pk) {
			char id[ID_STRLEN + 1], fpr[FPR_STRLEN + 1];
			srv_set_pk(s, pk);
			id_encode(pk, id);
			id_fingerprint(pk, fpr);
			for (char *q = fpr; *q; q++)
				*q = *q == ' ' ? '-' : *q;
			rdv_info(r, "rendezvous %s: key %s (fingerprint %s) pinned on first use", s->label, id, fpr);
			rdv_save_servers(r);
			if (srv_canon(s) != s) {
				srv_merge(s, srv_canon(s));
				return 1;
			}
			s->phase = SRV_HANDSHAKE;
			s->tries = 0;
			hs_send(s);
		}
		s->keycheck = 0;
		srv_arm(s);
		return 1;
	}
	return 1;
}

/* s has just learned that it is t under another name: what was for s goes to t, whose
 * session serves both, and s stays idle (nothing wants it any more). */
static void srv_merge(struct rdv_srv *s, struct rdv_srv *t)
{
	struct rdv *r = s->r;
	rdv_info(r, "rendezvous %s is %s (the same key): one session for both", s->label, t->label);
	for (size_t i = 0; i < r->npeers; i++)
		if (r->peers[i]->srv == s)
			r->peers[i]->srv = t;
	struct rdv_op **tail = &t->ops;
	while (*tail)
		tail = &(*tail)->next;
	for (struct rdv_op *op = s->ops; op; op = op->next)
		op->req = 0;		/* not sent in t's session yet */
	*tail = s->ops;
	s->ops = NULL;
	if (s->home) {
		s->home = 0;
		t->home = 1;
		r->home = t;
	}
	session_end(s);
	s->phase = SRV_IDLE;
	timer_stop(r->e->loop, &s->t);
	if (srv_up(t)) {
		rdv_on_session(t);	/* LOGIN if it is the home now, SUBSCRIBEs */
		srv_flush(t);
	} else {
		srv_start(t);
	}
}

static int on_resp(struct rdv *r, struct rdv_srv *only, const uint8_t *pkt, size_t n)
{
	uint32_t idx = noise_pkt_receiver_idx(pkt, n);
	for (int i = 0; i < r->nsrv; i++) {
		struct rdv_srv *s = r->srv[i];
		if (!s->hs || noise_hs_local_idx(s->hs) != idx || !srv_via(s, only))
			continue;
		if (!noise_mac1_ok(&r->e->me, pkt, n))
			return 1;
		struct noise_keypair *kp = noise_kp_new();
		if (!kp)
			return 1;
		if (noise_resp_consume(s->hs, pkt, n, kp) < 0) {
			noise_kp_free(kp);
			return 1;
		}
		noise_hs_free(s->hs);
		s->hs = NULL;
		rdv_tcp_answered(s, only != NULL);
		session_start(s, kp);
		return 1;
	}
	return 0;
}

static int on_cookie(struct rdv *r, struct rdv_srv *only, const uint8_t *pkt, size_t n)
{
	uint32_t idx = noise_pkt_receiver_idx(pkt, n);
	for (int i = 0; i < r->nsrv; i++) {
		struct rdv_srv *s = r->srv[i];
		if (!s->hs || noise_hs_local_idx(s->hs) != idx || !srv_via(s, only))
			continue;
		if (noise_cookie_consume(s->hs, pkt, n, s->cookie) == 0) {
			rdv_tcp_answered(s, only != NULL);
			s->cookie_ms = mono_ms();
			hs_send(s);	/* at once, now with mac2 */
			srv_arm(s);
		}
		return 1;
	}
	return 0;
}

static int on_data(struct rdv *r, struct rdv_srv *only, const uint8_t *pkt, size_t n)
{
	uint32_t idx = noise_pkt_receiver_idx(pkt, n);
	uint8_t pt[REL_MAX_PKT + 64];
	for (int i = 0; i < r->nsrv; i++) {
		struct rdv_srv *s = r->srv[i];
		if (!s->kp || s->kp->local_idx != idx || !srv_via(s, only))
			continue;
		int len = noise_decrypt(s->kp, pkt, n, pt, sizeof(pt));
		if (len < 0 || !s->rel_ready)
			return 1;
		rdv_tcp_answered(s, only != NULL);
		s->last_rx_ms = mono_ms();
		s->ping_ms = 0;
		if (rel_input(&s->rel, pt, (size_t)len, mono_us()) < 0)
			log_debug("rendezvous %s: malformed frames", s->label);
		rel_synced(&s->rel, s->rel.rx_stored);	/* nothing of the server's is kept on disk */
		if (r->relay_len) {	/* handled here, outside rel_input: it may call back into rdv */
			size_t rl = r->relay_len;
			r->relay_len = 0;
			path_relay_input(r->e, r->relay_from, r->relay_pkt, rl);
		}
		if (s->bye) {
			s->bye = 0;
			srv_down(s, "the server said goodbye");
			return 1;
		}
		srv_flush(s);
		return 1;
	}
	return 0;
}

/* A STUN Binding answer from one of our rendezvous: our address as it sees it. */
static int on_stun(struct rdv *r, const uint8_t *pkt, size_t len)
{
	for (int i = 0; i < r->nsrv; i++) {
		struct rdv_srv *s = r->srv[i];
		struct sockaddr_storage mapped;
		if (!s->stun_out || stun_parse_response(pkt, len, s->stun_txid, &mapped) < 0)
			continue;
		s->stun_out = 0;
		s->mappedlen = mapped.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		s->mapped = mapped;
		char addr[80], text[RDV_HOST_MAX + 200];
		addr_format((struct sockaddr *)&mapped, s->mappedlen, addr, sizeof(addr));
		snprintf(text, sizeof(text), "your public address, as %s sees it (STUN): %s", s->label, addr);
		log_info("%s", text);
		engine_emit(r->e, &(struct event){ .type = EV_INFO, .text = text });
		return 1;
	}
	return 0;
}

static int srv_input(struct rdv *r, struct rdv_srv *only, const uint8_t *pkt, size_t len,
		     const struct sockaddr *src, socklen_t srclen)
{
	if (len < 4 || pkt[0] != NOISE_WIRE_VERSION)
		return 0;
	if (pkt[1] == RDV_KEY_TYPE)
		return on_key(r, only, pkt, len, src, srclen);
	switch (noise_pkt_type(pkt, len)) {
	case NOISE_RESP:
		return on_resp(r, only, pkt, len);
	case NOISE_COOKIE:
		return on_cookie(r, only, pkt, len);
	case NOISE_DATA:
		return on_data(r, only, pkt, len);
	default:
		return 0;
	}
}

int rdv_input(struct rdv *r, const uint8_t *pkt, size_t len, const struct sockaddr *src, socklen_t srclen)
{
	if (r && r->nsrv && stun_is_stun(pkt, len))
		return on_stun(r, pkt, len);
	if (!r || r->nsrv == 0)
		return 0;
	return srv_input(r, NULL, pkt, len, src, srclen);
}

/* One frame from s's TCP stream (no STUN there). */
void srv_tcp_input(struct rdv_srv *s, const uint8_t *pkt, size_t len)
{
	if (!srv_input(s->r, s, pkt, len, NULL, 0))
		log_debug("rendezvous %s: TCP: a packet that is not for us", s->label);
}

/* The stream is open: send the current step over it at once instead of at the next retry. */
void srv_tcp_connected(struct rdv_srv *s)
{
	if (s->phase == SRV_KEYREQ)
		keyreq_send(s);
	else if (s->phase == SRV_HANDSHAKE)
		hs_send(s);
	srv_arm(s);
}

/* The stream failed (refused, reset, closed, a bad frame, a full queue): the cycle or the
 * session ends and the next one comes after the back-off, over UDP first. */
void srv_tcp_failed(struct rdv_srv *s, const char *why)
{
	char text[160];
	snprintf(text, sizeof(text), "TCP: %s", why);
	log_debug("rendezvous %s: %s", s->label, text);
	srv_down(s, text);
}

/* --- rel callbacks: every DATA message is one rendezvous message --- */

static void srv_deliver(void *arg, uint64_t seq, uint64_t ts, const char *text, size_t len)
{
	struct rdv_srv *s = arg;
	struct rdv_msg *m = &s->r->msg;
	if (rdv_decode((const uint8_t *)text, len, m) < 0) {
		log_debug("rendezvous %s: malformed message ignored", s->label);
		return;
	}
	if (m->type == RDV_RESULT)
		ops_on_result(s, m);
	else
		rdv_on_push(s, m);
}

static void srv_frame(void *arg, int type, const uint8_t *body, size_t len)
{
	struct rdv_srv *s = arg;
	struct rdv *r = s->r;
	if (type == FR_BYE) {
		s->bye = 1;	/* acted on after rel_input returns */
	} else if (type == FR_RELAY && len > 32 && len - 32 <= RDV_RELAY_MAX && !r->relay_len) {
		memcpy(r->relay_from, body, 32);	/* the server forwards one per packet */
		memcpy(r->relay_pkt, body + 32, len - 32);
		r->relay_len = len - 32;
	}
}

int rdv_relay_send(struct rdv_srv *s, const uint8_t pk[32], const uint8_t *pkt, size_t len)
{
	uint8_t pt[3 + 32 + RDV_RELAY_MAX], body[32 + RDV_RELAY_MAX];
	uint8_t out[sizeof(pt) + NOISE_DATA_OVERHEAD];
	if (s->phase != SRV_UP || !s->kp || !len || len > RDV_RELAY_MAX)
		return -1;
	memcpy(body, pk, 32);
	memcpy(body + 32, pkt, len);
	size_t n = frame_put(pt, sizeof(pt), 0, FR_RELAY, body, 32 + len);
	int m = n ? noise_encrypt(s->kp, pt, n, out, sizeof(out)) : -1;
	if (m < 0)
		return -1;
	send_raw(s, out, (size_t)m);
	return 0;
}

static const struct rel_ops srv_rel_ops = {
	.deliver = srv_deliver,
	.frame = srv_frame,
};

/* --- timers and sending --- */

void srv_flush(struct rdv_srv *s)
{
	if (s->phase == SRV_UP && s->kp && s->rel_ready)
		rel_poll(&s->rel, mono_us(), 64, srv_emit, s);
	srv_arm(s);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void srv_arm(struct rdv_srv *s)
{
	struct loop *l = s->r->e->loop;
	uint64_t now = mono_ms(), due = UINT64_MAX;
	for (struct rdv_op *op = s->ops; op; op = op->next) {
		if (op->deadline_ms)
			due = min_u64(due, op->deadline_ms);
		if (op->req && s->phase == SRV_UP)
			due = min_u64(due, op->sent_ms + RDV_RESULT_MS);
	}
	switch (s->phase) {
	case SRV_IDLE:
		if (rdv_srv_wanted(s))
			due = min_u64(due, s->next_ms);
		break;
	case SRV_RESOLVING:
		due = min_u64(due, now + 50);
		break;
	case SRV_KEYREQ:
		due = min_u64(due, s->hs_sent_ms + 1000);
		if (!s->tcp.tried)
			due = min_u64(due, s->phase_ms + RDV_TCP_AFTER_MS);
		break;
	case SRV_HANDSHAKE:
		due = min_u64(due, s->hs_sent_ms + hs_retry_ms(s));
		if (!s->tcp.tried)
			due = min_u64(due, s->phase_ms + RDV_TCP_AFTER_MS);
		break;
	case SRV_UP:
		due = min_u64(due, s->last_rx_ms + RDV_DEAD_MS + 1);
		if (s->ping_ms)
			due = min_u64(due, s->ping_ms + RDV_RESULT_MS + 1);
		due = min_u64(due, s->last_tx_ms + RDV_KEEPALIVE_MS);
		due = min_u64(due, s->hs ? s->hs_sent_ms + hs_retry_ms(s) : s->session_ms + RDV_REKEY_MS);
		if (s->rel_ready) {
			uint64_t us = rel_next_us(&s->rel, mono_us());
			if (us != UINT64_MAX)
				due = min_u64(due, (us + 999) / 1000);
		}
		break;
	case SRV_REFUSED:
		break;
	}
	if (s->tcp.err)
		due = now;	/* a TCP failure seen while sending */
	if (due == UINT64_MAX) {
		timer_stop(l, &s->t);
		return;
	}
	if (due < now)
		due = now;
	if (!timer_armed(&s->t) || s->t.due_ms != due)
		timer_at(l, &s->t, due);
}

static void srv_tick(struct loop *l, void *arg)
{
	struct rdv_srv *s = arg;
	uint64_t now = mono_ms();
	if (s->tcp.err) {
		srv_tcp_failed(s, s->tcp.err);
		return;
	}
	ops_expire(s, now);
	if ((s->phase == SRV_KEYREQ || s->phase == SRV_HANDSHAKE) && !s->tcp.tried &&
	    now - s->phase_ms >= RDV_TCP_AFTER_MS)
		rdv_tcp_open(s);	/* if it fails at once, UDP goes on alone this cycle */
	switch (s->phase) {
	case SRV_IDLE:
		if (rdv_srv_wanted(s) && now >= s->next_ms)
			resolve_start(s);
		break;
	case SRV_RESOLVING: {
		const char *why = "";
		resolve_result(s, rdv_resolve_poll(s, &why), why);
		break;
	}
	case SRV_KEYREQ:
		if (now - s->hs_sent_ms < 1000)
			break;
		if (s->tries >= KEYREQ_TRIES) {
			srv_down(s, "no answer to the key request");
		} else {
			s->tries++;
			keyreq_send(s);
		}
		break;
	case SRV_HANDSHAKE:
		if (now - s->hs_sent_ms < hs_retry_ms(s))
			break;
		if (s->tries >= HS_TRIES) {
			srv_down(s, "no answer to the handshake");
			break;
		}
		if (s->tries == HS_KEYCHECK_AT && s->have_pk && !s->keycheck) {
			s->keycheck = 1;	/* has the server's key changed? */
			uint8_t pkt[RDV_KEYREQ_LEN] = { NOISE_WIRE_VERSION, RDV_KEYREQ_TYPE };
			send_raw(s, pkt, sizeof(pkt));
		}
		hs_send(s);
		break;
	case SRV_UP:
		if (now - s->last_rx_ms > RDV_DEAD_MS) {
			srv_down(s, "silent for 60 s");
			break;
		}
		if (s->ping_ms && now - s->ping_ms > RDV_RESULT_MS) {
			srv_down(s, "no answer to a keepalive");	/* it restarted, or the path is gone */
			break;
		}
		for (struct rdv_op *op = s->ops; op; op = op->next) {
			if (op->req && now - op->sent_ms > RDV_RESULT_MS) {
				srv_down(s, "a request went unanswered");
				return;
			}
		}
		if (s->hs ? now - s->hs_sent_ms >= hs_retry_ms(s) : now - s->session_ms >= RDV_REKEY_MS)
			hs_send(s);	/* a fresh session before the keys grow old */
		if (now - s->last_tx_ms >= RDV_KEEPALIVE_MS) {
			rel_ask_ack(&s->rel);
			if (!s->ping_ms)
				s->ping_ms = now;
		}
		break;
	case SRV_REFUSED:
		break;
	}
	srv_flush(s);
}

void srv_free(struct rdv_srv *s, int logout)
{
	struct loop *l = s->r->e->loop;
	if (logout && s->phase == SRV_UP && s->home && s->kp) {
		/* A clean logout: STATUS offline, sent twice, no waiting for the answer. */
		struct rdv_msg m = { .type = RDV_STATUS, .status = RDV_OFFLINE };
		if (srv_request(s, &m, NULL, 1, 0)) {
			rel_poll(&s->rel, mono_us(), 64, srv_emit, s);
			rel_session_reset(&s->rel);
			rel_poll(&s->rel, mono_us(), 64, srv_emit, s);
		}
	}
	timer_stop(l, &s->t);
	rdv_resolve_free(s);
	session_end(s);
	while (s->ops) {
		struct rdv_op *op = s->ops;
		s->ops = op->next;
		ops_free(op);
	}
	free(s);
}
