/* session.c: the UDP socket, Noise IK handshakes, keypairs, and the encrypted channel to each
 * contact: HELLO (name, status, whether we are each other's contact), keepalive, rekey. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "engine_int.h"
#include "hello.h"
#include "log.h"
#include "util.h"

enum {
	MAX_STRANGERS = 32,
	RX_BATCH = 256,
};

void addr_format(const struct sockaddr *sa, socklen_t len, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, ntohs(s->sin_port));
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
			inet_ntop(AF_INET, &s->sin6_addr.s6_addr[12], ip, sizeof(ip));
			snprintf(out, cap, "%s:%u", ip, ntohs(s->sin6_port));
		} else {
			inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
			if (s->sin6_scope_id)
				snprintf(out, cap, "[%s%%%u]:%u", ip, s->sin6_scope_id, ntohs(s->sin6_port));
			else
				snprintf(out, cap, "[%s]:%u", ip, ntohs(s->sin6_port));
		}
	} else {
		snprintf(out, cap, "?");
	}
}

/* Our socket may be IPv6 dual-stack: map IPv4 addresses into it. */
socklen_t addr_for_socket(const struct engine *e, const struct sockaddr *sa, socklen_t len,
			  struct sockaddr_storage *out)
{
	if (e->family == AF_INET6 && sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
		memset(s6, 0, sizeof(*s6));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = s4->sin_port;
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		return sizeof(*s6);
	}
	if (len > sizeof(*out))
		len = sizeof(*out);
	memcpy(out, sa, len);
	return len;
}

int session_open_socket(struct engine *e, int port, char *err, size_t errlen)
{
	int want = port == 0 ? ENGINE_DEFAULT_PORT : (port < 0 ? 0 : port);
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int family = AF_INET6;
	if (fd >= 0) {
		int off = 0;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	} else {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		family = AF_INET;
	}
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int sz = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	for (int attempt = 0; attempt < 2; attempt++) {
		struct sockaddr_storage ss;
		socklen_t len;
		memset(&ss, 0, sizeof(ss));
		if (family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)want);
			len = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)want);
			len = sizeof(*s4);
		}
		if (bind(fd, (struct sockaddr *)&ss, len) == 0)
			break;
		if (errno != EADDRINUSE || port != 0 || attempt) {
			snprintf(err, errlen, "bind UDP port %d: %s", want, strerror(errno));
			close(fd);
			return -1;
		}
		log_info("UDP port %d is busy: using any free port", want);
		want = 0;
	}
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	e->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					   : ((struct sockaddr_in *)&ss)->sin_port);
	e->fd = fd;
	e->family = family;
	return loop_add(e->loop, fd, POLLIN, session_input, e);
}

void session_close(struct engine *e)
{
	if (e->fd >= 0) {
		loop_del(e->loop, e->fd);
		close(e->fd);
		e->fd = -1;
	}
}

int session_up(const struct contact *c)
{
	return c->s.up && c->s.cur;
}

/* One packet on the contact's path. */
static void send_raw(struct contact *c, const uint8_t *pkt, size_t len)
{
	uint64_t now = mono_ms();
	if (c->s.relay) {
		path_send_relay(c, pkt, len);
	} else {
		if (!c->s.addrlen)
			return;
		if (sendto(path_sock(c), pkt, len, 0, (struct sockaddr *)&c->s.addr, c->s.addrlen) < 0)
			log_debug("%s: send: %s", c->id, strerror(errno));
		if (!c->s.unanswered_ms)
			c->s.unanswered_ms = now;
	}
	c->s.last_tx_ms = now;
}

/* An answer to where the question came from (src NULL: the relay). */
static void send_back(struct contact *c, const uint8_t *pkt, size_t len, const struct sockaddr *src, socklen_t srclen)
{
	if (!src)
		path_send_relay(c, pkt, len);
	else if (sendto(c->e->rx_fd, pkt, len, 0, src, srclen) < 0)
		log_debug("%s: send: %s", c->id, strerror(errno));
}

/* Encrypt a plaintext of frames with the current keypair and send it. */
static void send_frames(struct contact *c, const uint8_t *pt, size_t len)
{
	uint8_t out[REL_MAX_PKT + NOISE_DATA_OVERHEAD];
	if (!c->s.cur)
		return;
	int n = noise_encrypt(c->s.cur, pt, len, out, sizeof(out));
	if (n < 0) {
		log_info("%s: keys too old: new handshake", c->id);
		session_drop(c);
		return;
	}
	send_raw(c, out, (size_t)n);
}

void session_send_frame(struct contact *c, int type, const void *body, size_t len)
{
	uint8_t pkt[64];
	size_t n;
	if (!session_up(c) || len > sizeof(pkt) - 8)
		return;
	n = frame_put(pkt, sizeof(pkt), 0, type, body, len);
	if (n)
		send_frames(c, pkt, n);
}

static void rel_emit_cb(void *arg, const uint8_t *pkt, size_t len)
{
	send_frames(arg, pkt, len);
}

static uint32_t new_index(void)
{
	uint32_t i;
	do
		i = randombytes_random();
	while (i == 0);
	return i;
}

static void send_init(struct contact *c)
{
	struct engine *e = c->e;
	if (!c->s.hs && !(c->s.hs = noise_hs_new()))
		return;
	uint64_t now = mono_ms();
	const uint8_t *cookie = c->s.cookie_ms && now - c->s.cookie_ms < NOISE_COOKIE_SECRET_MS ? c->s.cookie : NULL;
	if (noise_init_create(c->s.hs, &e->me, c->pk, new_index(), cookie, c->s.init_pkt) < 0) {
		log_warn("%s: cannot make a handshake for this key", c->id);
		return;
	}
	if (!c->s.hs_first_ms)
		c->s.hs_first_ms = now;
	/* The same INIT to the direct address, every candidate, and, when they have had their
	 * chance, through the relay: the first answer makes the path. */
	if (c->s.addrlen && sendto(e->fd, c->s.init_pkt, NOISE_INIT_LEN, 0, (struct sockaddr *)&c->s.addr,
				   c->s.addrlen) < 0)
		log_debug("%s: send: %s", c->id, strerror(errno));
	for (int i = 0; i < c->s.ncand; i++)
		if (c->s.cand_len[i] != c->s.addrlen || memcmp(&c->s.cand[i], &c->s.addr, c->s.addrlen) != 0)
			sendto(e->fd, c->s.init_pkt, NOISE_INIT_LEN, 0, (struct sockaddr *)&c->s.cand[i], c->s.cand_len[i]);
	/* no direct candidate, or no UDP out of here at all (the rendezvous answers only TCP) */
	int direct = (c->s.addrlen || c->s.ncand) && !rdv_udp_blocked(e->rdv);
	log_debug("%s: handshake to %d candidate%s%s", c->id, c->s.ncand, c->s.ncand == 1 ? "" : "s",
		  path_relay_ok(c) ? ", relay ready" : "");
	if ((!direct || c->s.relay || now - c->s.hs_first_ms >= PATH_RELAY_AFTER_MS) && path_relay_ok(c))
		path_send_relay(c, c->s.init_pkt, NOISE_INIT_LEN);
	c->s.last_tx_ms = now;
	c->s.hs_sent_ms = now;
	c->s.hs_retry_ms = c->s.hs_retry_ms ? c->s.hs_retry_ms * 2 : HS_RETRY_MIN_MS;
	/* With messages waiting, keep trying every few seconds (a lossy link loses handshakes
	 * too); an idle contact backs off further. */
	uint64_t max = rel_pending(&c->rel) ? HS_RETRY_BUSY_MS : HS_RETRY_MAX_MS;
	if (c->s.hs_retry_ms > max)
		c->s.hs_retry_ms = max;
	/* the relay joins PATH_RELAY_AFTER_MS after the first INIT, not a retry later */
	uint64_t wait = c->s.hs_retry_ms, relay_at = c->s.hs_first_ms + PATH_RELAY_AFTER_MS;
	if (direct && now < relay_at && relay_at - now < wait && path_relay_ok(c))
		wait = c->s.hs_retry_ms = relay_at - now;
	timer_in(e->loop, &c->t_hs, wait);
}

void session_connect(struct contact *c, const struct sockaddr *sa, socklen_t len)
{
	if (c->flags & CONTACT_BLOCKED)
		return;
	if (!session_up(c) && sa)
		c->s.addrlen = addr_for_socket(c->e, sa, len, &c->s.addr);
	if ((!c->s.addrlen && !path_relay_ok(c)) || session_up(c))
		return;
	if (c->s.hs && mono_ms() - c->s.hs_sent_ms < HS_RETRY_MIN_MS)
		return;
	c->s.hs_retry_ms = 0;
	send_init(c);
}

/* The peer announced itself while we think our session is up: if it has gone quiet while we
 * wait for acknowledgements, it probably restarted and lost the keys; start a new handshake
 * at once instead of waiting for the silence to time out. */
void session_check_peer(struct contact *c)
{
	if (!session_up(c) || c->s.hs || !rel_pending(&c->rel))
		return;
	if (mono_ms() - c->s.last_rx_ms < SUSPECT_MS)
		return;
	c->s.hs_retry_ms = 0;
	send_init(c);
}

void session_connect_multi(struct contact *c, const struct sockaddr_storage *ss, const socklen_t *len, int n)
{
	if (c->flags & CONTACT_BLOCKED)
		return;
	if (n > SESSION_MAX_CAND)
		n = SESSION_MAX_CAND;
	/* An INIT out now goes at once to the candidates it has not been to (a router mapping
	 * that came a moment after the first PRESENCE): no need to wait for the retry. */
	int fresh = !session_up(c) && c->s.hs && mono_ms() - c->s.hs_sent_ms < HS_RETRY_MIN_MS;
	for (int i = 0; fresh && i < n; i++) {
		int known = 0;
		for (int j = 0; j < c->s.ncand; j++)
			known |= c->s.cand_len[j] == len[i] && memcmp(&c->s.cand[j], &ss[i], len[i]) == 0;
		if (!known && sendto(c->e->fd, c->s.init_pkt, NOISE_INIT_LEN, 0, (const struct sockaddr *)&ss[i], len[i]) < 0)
			log_debug("%s: send: %s", c->id, strerror(errno));
	}
	c->s.ncand = n;
	for (int i = 0; i < c->s.ncand; i++) {
		c->s.cand[i] = ss[i];
		c->s.cand_len[i] = len[i];
	}
	if (session_up(c)) {
		path_candidates_changed(c);
		return;
	}
	if (n > 0) {
		c->s.addr = ss[0];
		c->s.addrlen = len[0];
	} else if (!path_relay_ok(c)) {
		return;
	}
	if (c->s.hs && mono_ms() - c->s.hs_sent_ms < HS_RETRY_MIN_MS)
		return;
	c->s.hs_retry_ms = 0;
	send_init(c);
}

static void kp_replace(struct noise_keypair **slot, struct noise_keypair *kp)
{
	if (*slot)
		noise_kp_free(*slot);
	*slot = kp;
}

static void session_established(struct contact *c)
{
	int was_up = c->s.up;
	c->s.up = 1;
	c->s.last_rx_ms = mono_ms();
	c->s.hs_retry_ms = 0;
	c->s.hs_first_ms = 0;
	timer_stop(c->e->loop, &c->t_hs);
	/* The peer may have restarted: resend what it has not stored, and our HELLO. */
	rel_session_reset(&c->rel);
	/* Nothing counted until the peer says which stream it sends (FR_STREAM), or, from a
	 * version without streams, until its HELLO. */
	rel_rx_hold(&c->rel, 1);
	c->s.peer_stream = 0;
	c->s.peer_hello = 0;
	c->s.hello_sent_ms = 0;
	c->s.hello_gen++;
	if (!was_up)
		log_info("%s: session up", c->id);
}

void session_drop(struct contact *c)
{
	struct session *s = &c->s;
	kp_replace(&s->cur, NULL);
	kp_replace(&s->prev, NULL);
	kp_replace(&s->next, NULL);
	if (s->hs) {
		noise_hs_free(s->hs);
		s->hs = NULL;
	}
	s->up = 0;
	s->peer_hello = 0;
	s->relay = 0;
	s->ka_out = 0;
	s->unanswered_ms = s->probe_at_ms = s->hs_first_ms = 0;
	timer_stop(c->e->loop, &c->t_path);
	if (s->own_fd > 0 && !spray_owns(c->e, s->own_fd)) {
		loop_del(c->e->loop, s->own_fd);
		close(s->own_fd);
	}
	s->own_fd = 0;
	c->peer_accepts = 0;
	rel_rx_hold(&c->rel, 0);	/* offline mail is counted on the stream we know */
	contact_set_online(c, 0);
	if (c->e->rdv)
		rdv_outbox_changed(c->e->rdv, c);	/* offline mail may be due */
}

static void send_hello(struct contact *c)
{
	struct engine *e = c->e;
	struct hello h = { .gen = c->s.hello_gen, .ack = c->s.peer_gen, .status = (uint8_t)e->status };
	uint8_t body[HELLO_MAX], pkt[HELLO_MAX + 32], st[16];
	int friend = contact_is_friend(c);
	h.flags = friend ? HELLO_ACCEPT | HELLO_REQUEST : 0;
	str_copy(h.nick, e->nick, sizeof(h.nick));
	str_copy(h.text, friend ? (c->peer_accepts ? e->status_text : c->request_text) : "", sizeof(h.text));
	size_t n = hello_build(&h, body, sizeof(body));
	/* Our stream first, in the same packet: the peer knows it before the HELLO lets it
	 * count our messages. (An older peer ignores the frame; a HELLO with a field added
	 * would not parse there.) */
	put_u64(st, c->tx_sid);
	put_u64(st + 8, c->rel.durable + 1);
	size_t off = frame_put(pkt, sizeof(pkt), 0, FR_STREAM, st, sizeof(st));
	n = frame_put(pkt, sizeof(pkt), off, FR_HELLO, body, n);
	send_frames(c, pkt, n);
	c->s.hello_sent_ms = mono_ms();
}

void session_hello_changed(struct contact *c)
{
	c->s.hello_gen++;
	c->s.hello_sent_ms = 0;
}

void session_bye(struct contact *c)
{
	uint8_t pkt[8];
	size_t n = frame_put(pkt, sizeof(pkt), 0, FR_BYE, NULL, 0);
	send_frames(c, pkt, n);
	send_frames(c, pkt, n);
}

static void on_hello(struct contact *c, const uint8_t *b, size_t n)
{
	struct engine *e = c->e;
	struct hello h;
	if (hello_parse(b, n, &h) < 0 || h.status > ST_INVISIBLE || h.status == ST_OFFLINE)
		return;
	c->s.peer_ack = h.ack;
	if (!c->s.peer_stream)
		rel_rx_hold(&c->rel, 0);	/* a version without streams */
	if (h.gen == c->s.peer_gen && c->s.peer_hello)
		return;
	c->s.peer_gen = h.gen;
	c->s.peer_hello = 1;
	c->s.hello_sent_ms = 0;	/* acknowledge it with ours */
	int nick_ok = contacts_valid_name(h.nick);
	if (nick_ok && strcmp(c->name, "-") == 0)
		str_copy(c->name, h.nick, sizeof(c->name));
	c->peer_accepts = !!(h.flags & HELLO_ACCEPT);
	if (!contact_is_friend(c)) {
		if ((h.flags & HELLO_REQUEST) && !(c->flags & CONTACT_BLOCKED) && !c->request_shown) {
			c->flags |= CONTACT_PENDING;
			c->request_shown = 1;
			engine_emit(e, &(struct event){ .type = EV_REQUEST, .id = c->id,
							.name = nick_ok ? h.nick : c->name, .text = h.text });
		}
		return;
	}
	enum status old = c->status;
	int was_online = c->online;
	int text_changed = strcmp(c->status_text, h.text) != 0;
	c->status = (enum status)h.status;
	str_copy(c->status_text, h.text, sizeof(c->status_text));
	contact_refresh_online(c);
	if (c->online && (was_online ? old != c->status || text_changed : c->status != ST_ONLINE))
		engine_emit(e, &(struct event){ .type = EV_STATUS, .id = c->id, .name = c->name,
						.status = status_word(c->status), .text = c->status_text });
}

void session_frame(void *arg, int type, const uint8_t *body, size_t len)
{
	struct contact *c = arg;
	if (type == FR_HELLO) {
		on_hello(c, body, len);
	} else if (type == FR_STREAM) {
		log_peer_stream(c, body, len);
	} else if (type == FR_BYE) {
		log_info("%s: said goodbye", c->id);
		session_drop(c);
	} else if (type == FR_TYPING) {
		typing_input(c, body, len);
	} else if (type == FR_PUNCH) {
		path_on_punch(c, body, len);
	}
}

static struct contact *find_by_index(struct engine *e, uint32_t idx, struct noise_keypair **kp)
{
	for (size_t i = 0; i < e->ncontacts; i++) {
		struct contact *c = e->contacts[i];
		struct noise_keypair *k[3] = { c->s.cur, c->s.next, c->s.prev };
		for (int j = 0; j < 3; j++) {
			if (k[j] && k[j]->local_idx == idx) {
				*kp = k[j];
				return c;
			}
		}
	}
	return NULL;
}

static size_t count_strangers(struct engine *e)
{
	size_t n = 0;
	for (size_t i = 0; i < e->ncontacts; i++)
		n += !(e->contacts[i]->flags & (CONTACT_FRIEND | CONTACT_BLOCKED));
	return n;
}

/* Make room for a new stranger: forget one without a live session. */
static void evict_stranger(struct engine *e)
{
	for (size_t i = 0; i < e->ncontacts; i++) {
		struct contact *c = e->contacts[i];
		if (!(c->flags & (CONTACT_FRIEND | CONTACT_BLOCKED)) && !session_up(c)) {
			contact_remove(e, c);
			return;
		}
	}
}

static void on_init(struct engine *e, const uint8_t *pkt, size_t n, const struct sockaddr *src, socklen_t srclen,
		    const uint8_t *relay_pk)
{
	if (!noise_mac1_ok(&e->me, pkt, n))
		return;
	struct noise_hs *hs = noise_hs_new();
	uint8_t pk[32], ts[NOISE_TS_LEN], resp[NOISE_RESP_LEN];
	if (!hs)
		return;
	if (noise_init_consume(hs, &e->me, pkt, n, pk, ts) < 0)
		goto out;
	if (relay_pk && sodium_memcmp(relay_pk, pk, 32) != 0)
		goto out;	/* relayed as from another key */
	struct contact *c = contact_find_pk(e, pk);
	if (!c) {
		if (count_strangers(e) >= MAX_STRANGERS)
			evict_stranger(e);
		if (count_strangers(e) >= MAX_STRANGERS || !(c = contact_new(e, pk, NULL, 0)))
			goto out;
	}
	if (c->flags & CONTACT_BLOCKED)
		goto out;
	if (noise_ts_cmp(ts, c->s.last_ts) <= 0) {
		log_debug("%s: replayed handshake ignored", c->id);
		goto out;
	}
	struct noise_keypair *kp = noise_kp_new();
	if (!kp)
		goto out;
	if (noise_resp_create(hs, new_index(), resp, kp) < 0) {
		noise_kp_free(kp);
		goto out;
	}
	memcpy(c->s.last_ts, ts, sizeof(ts));
	kp_replace(&c->s.next, kp);
	if (src && (!session_up(c) || !c->s.relay))
		c->s.addrlen = addr_for_socket(e, src, srclen, &c->s.addr);
	send_back(c, resp, sizeof(resp), src, srclen);
	c->s.last_tx_ms = mono_ms();
out:
	noise_hs_free(hs);
}

static void on_resp(struct engine *e, const uint8_t *pkt, size_t n, const struct sockaddr *src, socklen_t srclen,
		    const uint8_t *relay_pk)
{
	uint32_t idx = noise_pkt_receiver_idx(pkt, n);
	for (size_t i = 0; i < e->ncontacts; i++) {
		struct contact *c = e->contacts[i];
		if (!c->s.hs || noise_hs_local_idx(c->s.hs) != idx)
			continue;
		if (relay_pk && sodium_memcmp(relay_pk, c->pk, 32) != 0)
			return;
		if (!noise_mac1_ok(&e->me, pkt, n))
			return;
		struct noise_keypair *kp = noise_kp_new();
		if (!kp)
			return;
		if (noise_resp_consume(c->s.hs, pkt, n, kp) < 0) {
			noise_kp_free(kp);
			return;
		}
		noise_hs_free(c->s.hs);
		c->s.hs = NULL;
		kp_replace(&c->s.prev, c->s.cur);
		c->s.cur = kp;
		path_set(c, src, srclen);
		session_established(c);
		return;
	}
}

static void on_cookie(struct engine *e, const uint8_t *pkt, size_t n)
{
	uint32_t idx = noise_pkt_receiver_idx(pkt, n);
	for (size_t i = 0; i < e->ncontacts; i++) {
		struct contact *c = e->contacts[i];
		if (c->s.hs && noise_hs_local_idx(c->s.hs) == idx &&
		    noise_cookie_consume(c->s.hs, pkt, n, c->s.cookie) == 0) {
			c->s.cookie_ms = mono_ms();
			return;
		}
	}
}

static void on_data(struct engine *e, const uint8_t *pkt, size_t n, const struct sockaddr *src, socklen_t srclen,
		    const uint8_t *relay_pk)
{
	struct noise_keypair *kp;
	struct contact *c = find_by_index(e, noise_pkt_receiver_idx(pkt, n), &kp);
	uint8_t pt[REL_MAX_PKT + 64];
	if (!c || (relay_pk && sodium_memcmp(relay_pk, c->pk, 32) != 0))
		return;
	int len = noise_decrypt(kp, pkt, n, pt, sizeof(pt));
	if (len < 0)
		return;
	if (kp == c->s.next) {	/* the initiator's first packet confirms the responder's keys */
		kp_replace(&c->s.prev, c->s.cur);
		c->s.cur = kp;
		c->s.next = NULL;
		path_set(c, src, srclen);
		session_established(c);
	}
	c->s.last_rx_ms = mono_ms();
	if (src) {
		struct sockaddr_storage a;
		socklen_t al = addr_for_socket(e, src, srclen, &a);
		path_heard(c, (struct sockaddr *)&a, al);
	} else {
		path_heard(c, NULL, 0);
	}
	if (contact_is_friend(c)) {
		if (rel_input(&c->rel, pt, (size_t)len, mono_us()) < 0)
			log_debug("%s: malformed frames", c->id);
		return;
	}
	/* Not (yet) a contact: only its HELLO (the request) is read. */
	size_t off = 0;
	int type;
	const uint8_t *body;
	size_t blen;
	while (frame_next(pt, (size_t)len, &off, &type, &body, &blen) == 1)
		if (type == FR_STREAM || type == FR_HELLO || type == FR_BYE)
			session_frame(c, type, body, blen);
}

void session_input(struct loop *l, int fd, short revents, void *arg)
{
	struct engine *e = arg;
	uint8_t pkt[NOISE_MAX_PACKET];
	(void)l;
	(void)revents;
	for (int i = 0; i < RX_BATCH; i++) {
		struct sockaddr_storage src;
		socklen_t srclen = sizeof(src);
		ssize_t n = recvfrom(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&src, &srclen);
		if (n < 0)
			return;
		e->rx_fd = fd;
		if (fd == e->fd && e->rdv && rdv_input(e->rdv, pkt, (size_t)n, (struct sockaddr *)&src, srclen))
			continue;
		session_packet(e, pkt, (size_t)n, (struct sockaddr *)&src, srclen, NULL);
	}
}

void session_packet(struct engine *e, const uint8_t *pkt, size_t n, const struct sockaddr *src, socklen_t srclen,
		    const uint8_t *relay_pk)
{
	switch (noise_pkt_type(pkt, n)) {
	case NOISE_INIT:
		on_init(e, pkt, n, src, srclen, relay_pk);
		break;
	case NOISE_RESP:
		on_resp(e, pkt, n, src, srclen, relay_pk);
		break;
	case NOISE_COOKIE:
		on_cookie(e, pkt, n);
		break;
	case NOISE_DATA:
		on_data(e, pkt, n, src, srclen, relay_pk);
		break;
	default:
		break;	/* not ours: ignored without a word */
	}
}

void session_probe(struct contact *c, int fd, const struct sockaddr_storage *ss, const socklen_t *len, int n)
{
	uint8_t pt[8], out[sizeof(pt) + NOISE_DATA_OVERHEAD];
	size_t pl = frame_put(pt, sizeof(pt), 0, FR_PING, NULL, 0);
	for (int i = 0; i < n && c->s.cur; i++) {
		int m = noise_encrypt(c->s.cur, pt, pl, out, sizeof(out));
		if (m < 0)
			return;
		if (sendto(fd, out, (size_t)m, 0, (const struct sockaddr *)&ss[i], len[i]) < 0)
			log_debug("%s: probe: %s", c->id, strerror(errno));
	}
}

/* When an idle path off the LAN wants a PING. One side keeps it, the one with the smaller key:
 * the other's answer refreshes the NAT bindings on its side, and it pings only when the
 * keeper has been silent for KEEPALIVE_MS + KEEPALIVE_SLACK_MS. Both pinging, their timers in
 * step, would make three packets of every exchange instead of two. */
static uint64_t keepalive_due(const struct contact *c)
{
	uint64_t due = c->s.last_tx_ms + KEEPALIVE_MS;
	if (sodium_compare(c->e->me.pk, c->pk, 32) > 0 && c->s.last_rx_ms + KEEPALIVE_MS + KEEPALIVE_SLACK_MS > due)
		due = c->s.last_rx_ms + KEEPALIVE_MS + KEEPALIVE_SLACK_MS;
	return due;
}

/* When the peer was last heard from: its last packet or, on a LAN path (*lan set), its last
 * signed beacon, which is why a LAN path needs no keepalive. */
static uint64_t last_heard(const struct contact *c, const struct peer **lan)
{
	*lan = c->s.relay ? NULL : contact_lan_peer(c);
	return *lan && (*lan)->heard_ms > c->s.last_rx_ms ? (*lan)->heard_ms : c->s.last_rx_ms;
}

/* Timers: handshake retries, keepalive, liveness, rekey. The sending itself happens in
 * session_flush at the end of the pass. */
void session_tick(struct loop *l, void *arg)
{
	struct contact *c = arg;
	uint64_t now = mono_ms();
	(void)l;
	if (c->s.hs && !session_up(c) && now - c->s.hs_sent_ms >= c->s.hs_retry_ms && contact_is_friend(c))
		send_init(c);
	if (!session_up(c))
		return;
	const struct peer *lp;
	if (now - last_heard(c, &lp) > DEAD_MS) {
		log_info("%s: silent for %d s: offline", c->id, DEAD_MS / 1000);
		session_drop(c);
		return;
	}
	if (!lp && now >= keepalive_due(c) && !c->s.ka_out) {
		rel_ask_ack(&c->rel);
		c->s.ka_out = 1;
	}
	struct noise_keypair *k = c->s.cur;
	uint64_t age = now - k->created_ms;
	if (!c->s.hs && (age > REKEY_AFTER_MS + (k->initiator ? 0 : 15000) || k->send_ctr > REKEY_AFTER_MSGS))
		send_init(c);
}

void session_flush(struct contact *c)
{
	struct engine *e = c->e;
	if (!session_up(c))
		return;
	uint64_t now = mono_ms();
	if ((c->s.peer_ack != c->s.hello_gen || !c->s.hello_sent_ms) && now - c->s.hello_sent_ms >= HELLO_RESEND_MS)
		send_hello(c);
	else if (!c->s.hello_sent_ms)
		send_hello(c);
	if (!session_up(c))
		return;
	uint64_t due_ms = now + KEEPALIVE_MS;
	if (contact_is_friend(c) && c->peer_accepts) {
		uint64_t now_us = mono_us();
		rel_poll(&c->rel, now_us, 64, rel_emit_cb, c);
		uint64_t next = rel_next_us(&c->rel, now_us);
		if (next != UINT64_MAX) {
			uint64_t ms = (next + 999) / 1000;
			if (ms < due_ms)
				due_ms = ms;
		}
	} else if (c->rel.ack_needed) {
		rel_poll(&c->rel, mono_us(), 1, rel_emit_cb, c);
	}
	if (c->s.peer_ack != c->s.hello_gen && c->s.hello_sent_ms + HELLO_RESEND_MS < due_ms)
		due_ms = c->s.hello_sent_ms + HELLO_RESEND_MS;
	const struct peer *lp;
	uint64_t heard = last_heard(c, &lp);
	uint64_t ka = lp ? UINT64_MAX : keepalive_due(c), dead = heard + DEAD_MS + 1;
	if (ka < due_ms)
		due_ms = ka;
	if (dead < due_ms)
		due_ms = dead;
	if (!timer_armed(&c->t_tick) || c->t_tick.due_ms > due_ms)
		timer_at(e->loop, &c->t_tick, due_ms);
	path_arm(c);
}
