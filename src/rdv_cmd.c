/* rdv_cmd.c: the rendezvous client's accounts and contacts: login, presence and introductions,
 * contact requests through the rendezvous, /register and /add. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "rdv_int.h"
#include "util.h"

static void register_done(struct rdv_srv *s, struct rdv_op *op, const struct rdv_msg *res);

/* --- requests --- */

static void send_allow(struct rdv *r, const uint8_t pk[32], uint8_t mode)
{
	if (!r->home)
		return;
	struct rdv_msg m = { .type = RDV_ALLOW, .mode = mode };
	memcpy(m.pk, pk, 32);
	srv_request(r->home, &m, NULL, 0, 0);
}

static void subscribe(struct rdv_peer *p)
{
	struct rdv_msg m = { .type = RDV_SUBSCRIBE };
	memcpy(m.pk, p->c->pk, 32);
	p->presence = -1;
	p->subscribed_ms = mono_ms();
	mail_kick(p->srv->r, RDV_PRESENCE_WAIT_MS);	/* no presence by then: offline */
	if (srv_up(p->srv))
		srv_request(p->srv, &m, NULL, 1, 0);
	else		/* rdv_on_session subscribes when it is up */
		srv_start(p->srv);
}

/* Our addresses for LOGIN, at most max: the router's port mapping first (a public address
 * that takes unsolicited packets), then local ones: up, not loopback, not link-local. */
static int local_addrs(struct engine *e, struct rdv_addr *out, int max)
{
	struct ifaddrs *ifa0, *ifa;
	int n = 0;
	if (max > 0 && e->map_len &&
	    rdv_addr_from_sa(&out[0], (const struct sockaddr *)&e->map_addr, e->map_len) == 0)
		n = 1;
	if (getifaddrs(&ifa0) != 0)
		return n;
	for (ifa = ifa0; ifa && n < max; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK))
			continue;
		struct sockaddr *sa = ifa->ifa_addr;
		if (sa->sa_family == AF_INET6) {
			const struct in6_addr *a6 = &((struct sockaddr_in6 *)sa)->sin6_addr;
			if (e->family != AF_INET6 || IN6_IS_ADDR_LINKLOCAL(a6) || IN6_IS_ADDR_LOOPBACK(a6))
				continue;
		} else if (sa->sa_family != AF_INET) {
			continue;
		}
		if (rdv_addr_from_sa(&out[n], sa, sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
								     : sizeof(struct sockaddr_in6)) < 0)
			continue;
		out[n].port = e->port;
		n++;
	}
	freeifaddrs(ifa0);
	return n;
}

static void login_done(struct rdv_srv *s, struct rdv_op *op, const struct rdv_msg *res)
{
	struct rdv *r = s->r;
	(void)op;
	if (!res)
		return;
	if (res->code == RDV_NOTREG && r->conf_home && !s->registering) {
		/* tincan.conf names this home: claim the name, then log in */
		struct rdv_msg m = { .type = RDV_REGISTER };
		str_copy(m.name, r->home_name, sizeof(m.name));
		struct rdv_op *rop = srv_request(s, &m, register_done, 0, RDV_CMD_MS);
		if (rop) {
			s->registering = 1;
			str_copy(rop->handle, r->home_handle, sizeof(rop->handle));
		}
		return;
	}
	if (res->code == RDV_NOTREG) {
		rdv_warning(r, r->e->id, "%s: the rendezvous %s does not know this name (/register it)",
			    r->home_handle, s->label);
		return;
	}
	if (res->code != RDV_OK) {
		log_warn("rendezvous %s: LOGIN refused (code %u)", s->label, res->code);
		return;
	}
	s->logged_in = 1;
	if (!s->announced) {
		s->announced = 1;
		engine_emit(r->e, &(struct event){ .type = EV_LOGIN, .text = rdv_srv_display(s), .id = r->e->id });
	}
	if (r->relogin)		/* a port mapping came or went while this LOGIN was out */
		rdv_home_login(s);
	mail_publish(r, 0);
}

void rdv_home_login(struct rdv_srv *s)
{
	struct rdv *r = s->r;
	struct engine *e = r->e;
	struct rdv_msg m = { .type = RDV_LOGIN, .status = (uint8_t)e->status };
	str_copy(m.text, e->status_text, sizeof(m.text));
	m.naddr = (uint8_t)local_addrs(e, m.addr, RDV_LOCAL_ADDR_MAX);
	r->relogin = 0;
	srv_request(s, &m, login_done, 1, 0);
	if (!r->allowed_sent) {		/* once a run: the server's allow list matches ours */
		r->allowed_sent = 1;
		for (size_t i = 0; i < r->npeers; i++) {
			struct rdv_peer *p = r->peers[i];
			if (p->state == PEER_CONTACT && contact_is_friend(p->c))
				send_allow(r, p->c->pk, RDV_ALLOW_ALLOW);
			else if (p->c->flags & CONTACT_BLOCKED)
				send_allow(r, p->c->pk, RDV_ALLOW_BLOCK);
		}
	}
}

void rdv_on_session(struct rdv_srv *s)
{
	struct rdv *r = s->r;
	if (s->home)
		rdv_home_login(s);
	for (size_t i = 0; i < r->npeers; i++) {
		struct rdv_peer *p = r->peers[i];
		if (p->srv == s && p->state == PEER_CONTACT && contact_is_friend(p->c))
			subscribe(p);
	}
}

void rdv_on_down(struct rdv_srv *s)
{
	struct rdv *r = s->r;
	for (size_t i = 0; i < r->npeers; i++)
		if (r->peers[i]->srv == s)
			r->peers[i]->presence = -1;
	mail_srv_down(s);
}

/* --- what the servers push --- */

int rdv_candidates(struct rdv *r, const struct contact *c, struct sockaddr_storage *ss, socklen_t *len, int max)
{
	struct engine *e = r->e;
	struct rdv_peer *p = rdv_peer_get(r, (struct contact *)c, 0);
	struct sockaddr_storage tmp;
	int n = 0;
	for (int i = 0; p && i < p->ncand && n < max; i++) {
		socklen_t l = rdv_addr_to_sa(&p->cand[i], &tmp);
		if (!l || (tmp.ss_family == AF_INET6 && e->family != AF_INET6))
			continue;
		len[n] = addr_for_socket(e, (struct sockaddr *)&tmp, l, &ss[n]);
		int dup = 0;
		for (int j = 0; j < n; j++)
			dup |= len[j] == len[n] && memcmp(&ss[j], &ss[n], len[n]) == 0;
		if (!dup)
			n++;
	}
	return n;
}

/* The contact's home: it allows us there (both homes, when it is ours too), and its presence
 * says it is connected. It relays what we send to the contact; the contact sends to us
 * through our home the same way. */
struct rdv_srv *rdv_relay_srv(struct rdv *r, const struct contact *c)
{
	struct rdv_peer *p = r ? rdv_peer_get(r, (struct contact *)c, 0) : NULL;
	if (!p || p->state != PEER_CONTACT || !p->srv || !srv_up(p->srv) ||
	    (p->srv == r->home && !p->srv->logged_in) || p->presence < RDV_ONLINE ||
	    p->presence == RDV_INVISIBLE)
		return NULL;
	return p->srv;
}

int rdv_udp_blocked(const struct rdv *r)
{
	return r && r->home && r->home->phase == SRV_UP && r->home->tcp.used;
}

static void connect_peer(struct rdv *r, struct rdv_peer *p)
{
	struct sockaddr_storage ss[RDV_ADDR_MAX];
	socklen_t len[RDV_ADDR_MAX];
	int n = rdv_candidates(r, p->c, ss, len, RDV_ADDR_MAX);
	session_connect_multi(p->c, ss, len, n);
}

/* 0 a private IPv4 or unique-local IPv6 address, 1 other IPv6, 2 anything else. */
static int cand_rank(const struct rdv_addr *a)
{
	const uint8_t *ip = a->ip;
	if (a->family == 4)
		return ip[0] == 10 || (ip[0] == 172 && (ip[1] & 0xf0) == 16) || (ip[0] == 192 && ip[1] == 168) ? 0 : 2;
	return (ip[0] & 0xfe) == 0xfc ? 0 : 1;
}

static void on_presence(struct rdv_srv *s, const struct rdv_msg *m)
{
	struct rdv *r = s->r;
	struct contact *c = contact_find_pk(r->e, m->pk);
	struct rdv_peer *p = c ? rdv_peer_get(r, c, 0) : NULL;
	if (!p || p->srv != s || p->state != PEER_CONTACT || !contact_is_friend(c))
		return;
	p->presence = m->status;
	p->presence_ms = mono_ms();
	p->ncand = 0;
	log_debug("%s: presence %u with %u addresses", c->id, m->status, m->naddr);
	if (m->status == RDV_OFFLINE || m->status == RDV_INVISIBLE) {
		mail_kick(r, 0);
		return;
	}
	/* In ICE's order: private (same network), IPv6, the rest of what the peer reported (its
	 * router mapping first), then the address the server sees (server-reflexive). */
	for (int rank = 0; rank < 3; rank++)
		for (int i = 1; i < m->naddr && p->ncand < RDV_ADDR_MAX; i++)
			if (cand_rank(&m->addr[i]) == rank)
				p->cand[p->ncand++] = m->addr[i];
	if (m->naddr)
		p->cand[p->ncand++] = m->addr[0];
	connect_peer(r, p);
	mail_kick(r, RDV_DIRECT_WAIT_MS);
}

static void on_requested(struct rdv_srv *s, const struct rdv_msg *m)
{
	struct rdv *r = s->r;
	struct engine *e = r->e;
	char name[RDV_NAME_MAX + 1] = "", handle[RDV_HANDLE_MAX + 1] = "";
	if (sodium_memcmp(m->pk, e->me.pk, 32) == 0)
		return;
	struct contact *c = contact_find_pk(e, m->pk);
	struct rdv_peer *p = c ? rdv_peer_get(r, c, 0) : NULL;
	if ((c && (c->flags & CONTACT_BLOCKED)) || rdv_denied(r, m->pk))
		return;		/* silently, as the requester cannot tell either */
	struct rdv_srv *hs = rdv_srv_for_handle(r, m->handle, name);
	if (hs)
		rdv_handle_format(handle, sizeof(handle), name, hs);
	if (c && contact_is_friend(c)) {
		/* We asked them too: their request is our answer. Follow them if we cannot yet. */
		if (p && p->state == PEER_CONTACT)
			return;
		if (handle[0] && (p = rdv_peer_get(r, c, 1))) {
			p->state = PEER_REQUEST;
			str_copy(p->handle, handle, sizeof(p->handle));
			rdv_answer(r, c, 0);
		}
		return;
	}
	if (c && c->request_shown)
		return;
	size_t pending = 0;
	for (size_t i = 0; i < r->npeers; i++)
		pending += r->peers[i]->state == PEER_REQUEST;
	if (pending >= RDV_MAX_REQUESTS) {
		log_info("too many unanswered contact requests: one dropped");
		return;
	}
	if (!c && !(c = contact_new(e, m->pk, name[0] ? name : NULL, 0)))
		return;
	if (!(p = rdv_peer_get(r, c, 1)))
		return;
	p->state = PEER_REQUEST;
	str_copy(p->handle, handle, sizeof(p->handle));
	c->flags |= CONTACT_PENDING;
	c->request_shown = 1;
	engine_emit(e, &(struct event){ .type = EV_REQUEST, .id = c->id, .name = handle[0] ? handle : c->name,
					.text = m->text });
}

void rdv_on_push(struct rdv_srv *s, const struct rdv_msg *m)
{
	switch (m->type) {
	case RDV_PRESENCE:
		on_presence(s, m);
		break;
	case RDV_REQUESTED:
		if (s->home)
			on_requested(s, m);
		break;
	case RDV_MAIL:
		if (s->home)
			mail_on_mail(s, m);
		break;
	default:
		log_debug("rendezvous %s: unexpected message %u", s->label, m->type);
	}
}

/* --- commands --- */

static void register_done(struct rdv_srv *s, struct rdv_op *op, const struct rdv_msg *res)
{
	struct rdv *r = s->r;
	char name[RDV_NAME_MAX + 1], host[RDV_HOST_MAX + 1];
	uint16_t port;
	s->registering = 0;
	if (!res) {
		rdv_error(r, "unreachable", "the rendezvous %s did not answer", s->label);
		return;
	}
	switch (res->code) {
	case RDV_OK:
		break;
	case RDV_TAKEN:
		rdv_error(r, "taken", "%s is taken", op->handle);
		return;
	case RDV_BAD:
		rdv_error(r, "usage", "%s: not a valid name (1-32 of a-z 0-9 . _ -)", op->handle);
		return;
	case RDV_RATE:
		rdv_error(r, "rate", "the rendezvous %s asks to slow down: try later", s->label);
		return;
	default:
		rdv_error(r, "refused", "%s: refused by the rendezvous (code %u)", op->handle, res->code);
		return;
	}
	if (rdv_parse_handle(op->handle, name, host, &port) < 0)
		return;
	if (r->home && r->home != s)
		r->home->home = 0;
	s->home = 1;
	r->home = s;
	str_copy(r->home_name, name, sizeof(r->home_name));
	str_copy(r->home_handle, op->handle, sizeof(r->home_handle));
	char line[RDV_HANDLE_MAX + 2];
	int n = snprintf(line, sizeof(line), "%s\n", r->home_handle);
	rdv_write_file(r, "home", line, (size_t)n);
	engine_emit(r->e, &(struct event){ .type = EV_REGISTERED, .id = r->e->id, .text = r->home_handle });
	if (srv_up(s) && !s->logged_in)
		rdv_home_login(s);
}

void rdv_cmd_register(struct rdv *r, char *arg)
{
	char name[RDV_NAME_MAX + 1], host[RDV_HOST_MAX + 1];
	uint16_t port;
	char *key = strchr(arg, ' ');
	if (key)
		*key++ = '\0';
	if (!*arg || rdv_parse_handle(arg, name, host, &port) < 0) {
		rdv_error(r, "usage", "/register name@host[:port] [server-ID]; a name is 1-32 of a-z 0-9 . _ -");
		return;
	}
	struct rdv_srv *s = srv_get(r, host, port, 1);
	if (!s) {
		rdv_error(r, "usage", "too many rendezvous servers");
		return;
	}
	if (key && *key) {
		uint8_t pk[32];
		int rc = id_decode(key, pk);
		if (rc != 0) {
			rdv_error(r, "bad-id", "%s: %s", key, id_strerror(rc));
			return;
		}
		if (s->have_pk && sodium_memcmp(s->pk, pk, 32) != 0) {
			rdv_error(r, "key-changed", "%s is pinned to another key (see the servers file)", s->label);
			return;
		}
		if (!s->have_pk) {
			srv_set_pk(s, pk);
			rdv_save_servers(r);
		}
	}
	struct rdv_msg m = { .type = RDV_REGISTER };
	str_copy(m.name, name, sizeof(m.name));
	struct rdv_op *op = srv_request(s, &m, register_done, 0, RDV_CMD_MS);
	if (!op) {
		rdv_error(r, s->phase == SRV_REFUSED ? "key-changed" : "io", "%s: cannot ask the rendezvous %s",
			  arg, s->label);
		return;
	}
	rdv_handle_format(op->handle, sizeof(op->handle), name, s);
	srv_start(s);
}

static void request_done(struct rdv_srv *s, struct rdv_op *op, const struct rdv_msg *res)
{
	if (res && res->code == RDV_RATE)
		rdv_error(s->r, "rate", "%s: too many contact requests: try later", op->handle);
}

static void lookup_done(struct rdv_srv *s, struct rdv_op *op, const struct rdv_msg *res)
{
	struct rdv *r = s->r;
	struct engine *e = r->e;
	char name[RDV_NAME_MAX + 1], host[RDV_HOST_MAX + 1], id[ID_STRLEN + 1];
	uint16_t port;
	if (!res) {
		rdv_error(r, "unreachable", "the rendezvous %s did not answer", s->label);
		return;
	}
	if (res->code == RDV_NOTFOUND) {
		rdv_error(r, "no-such-contact", "%s: no such name", op->handle);
		return;
	}
	if (res->code != RDV_OK || res->payload != RDV_PL_PK || rdv_parse_handle(op->handle, name, host, &port) < 0) {
		rdv_error(r, "refused", "%s: the rendezvous refused the lookup (code %u)", op->handle, res->code);
		return;
	}
	if (sodium_memcmp(res->pk, e->me.pk, 32) == 0) {
		rdv_error(r, "usage", "%s is you", op->handle);
		return;
	}
	id_encode(res->pk, id);
	for (size_t i = 0; i < r->npeers; i++) {
		struct rdv_peer *p = r->peers[i];
		if (p->state == PEER_CONTACT && strcmp(p->handle, op->handle) == 0 &&
		    sodium_memcmp(p->c->pk, res->pk, 32) != 0) {
			char why[400];
			snprintf(why, sizeof(why), "%s now belongs to another key (%s)", op->handle, id);
			contact_key_changed(p->c, why);
			rdv_error(r, "key-changed", "%s is pinned to another key", op->handle);
			return;
		}
	}
	struct contact *c = engine_pin_contact(e, res->pk, name, op->text);
	if (!c)
		return;
	rdv_set_denied(r, c->pk, 0);
	struct rdv_peer *p = rdv_peer_get(r, c, 1);
	if (!p)
		return;
	p->state = PEER_CONTACT;
	p->srv = s;
	str_copy(p->handle, op->handle, sizeof(p->handle));
	rdv_save_handles(r);
	send_allow(r, c->pk, RDV_ALLOW_ALLOW);
	struct rdv_msg m = { .type = RDV_REQUEST };
	str_copy(m.name, name, sizeof(m.name));
	str_copy(m.handle, r->home_handle, sizeof(m.handle));
	str_copy(m.text, op->text, sizeof(m.text));
	struct rdv_op *rq = srv_request(s, &m, request_done, 0, 0);
	if (rq)
		str_copy(rq->handle, op->handle, sizeof(rq->handle));
	subscribe(p);
}

void rdv_cmd_add(struct rdv *r, char *handle, const char *text)
{
	char name[RDV_NAME_MAX + 1], host[RDV_HOST_MAX + 1];
	uint16_t port;
	if (rdv_parse_handle(handle, name, host, &port) < 0) {
		rdv_error(r, "usage", "/add name@host[:port] [text]");
		return;
	}
	if (!r->home) {
		rdv_error(r, "no-home", "register a name first: /register name@host");
		return;
	}
	if (text && strlen(text) > REQUEST_TEXT_MAX) {
		rdv_error(r, "too-long", "a request text holds at most %d bytes", REQUEST_TEXT_MAX);
		return;
	}
	struct rdv_srv *s = srv_get(r, host, port, 1);
	struct rdv_msg m = { .type = RDV_LOOKUP };
	str_copy(m.name, name, sizeof(m.name));
	struct rdv_op *op = s ? srv_request(s, &m, lookup_done, 0, RDV_CMD_MS) : NULL;
	if (!op) {
		rdv_error(r, s && s->phase == SRV_REFUSED ? "key-changed" : "usage", "%s: cannot ask its rendezvous",
			  handle);
		return;
	}
	rdv_handle_format(op->handle, sizeof(op->handle), name, s);
	str_copy(op->text, text ? text : "", sizeof(op->text));
	srv_start(s);
}

static void verify_done(struct rdv_srv *s, struct rdv_op *op, const struct rdv_msg *res)
{
	struct rdv *r = s->r;
	struct contact *c = contact_find_pk(r->e, op->pk);
	struct rdv_peer *p = c ? rdv_peer_get(r, c, 0) : NULL;
	if (!res || !p || !contact_is_friend(c) || p->state == PEER_CONTACT)
		return;
	if (res->code == RDV_OK && res->payload == RDV_PL_PK && sodium_memcmp(res->pk, c->pk, 32) == 0) {
		p->state = PEER_CONTACT;
		p->srv = s;
		rdv_save_handles(r);
		subscribe(p);
		return;
	}
	rdv_warning(r, c->id, "%s calls itself %s, but that name is not its key there: its presence is not "
		    "followed", c->id, op->handle);
	p->state = PEER_NONE;
	p->handle[0] = '\0';
}

void rdv_answer(struct rdv *r, struct contact *c, int how)
{
	struct rdv_peer *p = rdv_peer_get(r, c, 0);
	char name[RDV_NAME_MAX + 1];
	if (how == 2) {
		send_allow(r, c->pk, RDV_ALLOW_BLOCK);
		if (p && p->state != PEER_NONE) {
			p->state = PEER_NONE;
			p->srv = NULL;
			rdv_save_handles(r);
		}
		return;
	}
	if (!p)
		return;
	if (how == 1) {
		if (p->state == PEER_REQUEST) {
			p->state = PEER_NONE;
			rdv_set_denied(r, c->pk, 1);
			rdv_save_handles(r);
		}
		return;
	}
	if (p->state == PEER_CONTACT || !p->handle[0])
		return;
	if (rdv_denied(r, c->pk)) {
		rdv_set_denied(r, c->pk, 0);
		rdv_save_handles(r);
	}
	send_allow(r, c->pk, RDV_ALLOW_ALLOW);
	/* Trust the handle the request claimed only once its rendezvous says it is this key. */
	struct rdv_srv *s = rdv_srv_for_handle(r, p->handle, name);
	struct rdv_msg m = { .type = RDV_LOOKUP };
	str_copy(m.name, name, sizeof(m.name));
	struct rdv_op *op = s ? srv_request(s, &m, verify_done, 0, 0) : NULL;
	if (!op)
		return;
	memcpy(op->pk, c->pk, 32);
	str_copy(op->handle, p->handle, sizeof(op->handle));
	srv_start(s);
}

