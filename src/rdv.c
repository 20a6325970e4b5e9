/* rdv.c: the rendezvous client: its files in the home directory (home, servers, handles,
 * prekeys), handles name@host[:port], server addresses, per-contact state, its life cycle. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "rdv_int.h"
#include "store.h"
#include "util.h"

enum { FILE_MAX = 1 << 20, LINE_MAX_LEN = 600 };

/* --- events --- */

void rdv_error(struct rdv *r, const char *word, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	engine_emitv(r->e, EV_ERROR, word, fmt, ap);
	va_end(ap);
}

void rdv_info(struct rdv *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	engine_emitv(r->e, EV_INFO, NULL, fmt, ap);
	va_end(ap);
}

void rdv_warning(struct rdv *r, const char *id, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_warn("%s", text);
	engine_emit(r->e, &(struct event){ .type = EV_WARNING, .id = id, .text = text });
}

/* --- handles: name@host[:port] --- */

static int host_ok(const char *h)
{
	if (!*h || strlen(h) > RDV_HOST_MAX)
		return 0;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '-' || *p == '_' || *p == ':'))
			return 0;
	return 1;
}

/* "host", "host:port", "[v6]", "[v6]:port", or a bare IPv6 address. */
static int parse_hostport(const char *in, char host[RDV_HOST_MAX + 1], uint16_t *port)
{
	char buf[RDV_HOST_MAX + 16];
	const char *ps = NULL;
	if (strlen(in) >= sizeof(buf))
		return -1;
	str_copy(buf, in, sizeof(buf));
	char *h = buf;
	if (*h == '[') {
		char *end = strchr(h, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -1;
		*end = '\0';
		h++;
		if (end[1] == ':')
			ps = end + 2;
	} else {
		char *c = strchr(h, ':');
		if (c && !strchr(c + 1, ':')) {
			*c = '\0';
			ps = c + 1;
		}
	}
	*port = RDV_PORT;
	if (ps) {
		char *e;
		long v = strtol(ps, &e, 10);
		if (!*ps || *e || v < 1 || v > 65535)
			return -1;
		*port = (uint16_t)v;
	}
	if (!host_ok(h))
		return -1;
	str_copy(host, h, RDV_HOST_MAX + 1);
	return 0;
}

int rdv_parse_handle(const char *in, char name[RDV_NAME_MAX + 1], char host[RDV_HOST_MAX + 1], uint16_t *port)
{
	char nm[RDV_HANDLE_MAX + 1];
	const char *at = strchr(in, '@');
	if (!at || (size_t)(at - in) > RDV_NAME_MAX || strlen(in) > RDV_HANDLE_MAX)
		return -1;
	memcpy(nm, in, (size_t)(at - in));
	nm[at - in] = '\0';
	if (rdv_name_norm(nm, name) < 0)
		return -1;
	return parse_hostport(at + 1, host, port);
}

/* The canonical form: the default port left out, IPv6 in brackets. */
void rdv_handle_format(char *out, size_t cap, const char *name, const struct rdv_srv *s)
{
	int v6 = strchr(s->host, ':') != NULL;
	if (s->port == RDV_PORT)
		snprintf(out, cap, v6 ? "%s@[%s]" : "%s@%s", name, s->host);
	else
		snprintf(out, cap, v6 ? "%s@[%s]:%u" : "%s@%s:%u", name, s->host, s->port);
}

const char *rdv_srv_display(const struct rdv_srv *s)
{
	return s->port == RDV_PORT && !strchr(s->host, ':') ? s->host : s->label;
}

/* --- a server's address without blocking the loop: numeric hosts at once, names through
 * getaddrinfo_a polled from the server's timer --- */

/* A name lookup in the resolver's hands; its strings live with it. */
struct rdv_gai {
	struct gaicb cb;
	struct addrinfo hints;
	char host[RDV_HOST_MAX + 1];
	char port[8];
};

/* The first address the engine's socket can reach, in its family. */
static int take_addr(struct rdv_srv *s, const struct addrinfo *ai)
{
	struct engine *e = s->r->e;
	for (; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET6 && e->family != AF_INET6)
			continue;
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		s->addrlen = addr_for_socket(e, ai->ai_addr, ai->ai_addrlen, &s->addr);
		return 0;
	}
	return -1;
}

int rdv_resolve(struct rdv_srv *s, const char **why)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", s->port);
	if (getaddrinfo(s->host, port, &hints, &res) == 0) {
		int ok = take_addr(s, res) == 0;
		freeaddrinfo(res);
		*why = "no address this socket can reach";
		return ok ? 0 : -1;
	}
	struct rdv_gai *g = calloc(1, sizeof(*g));
	*why = "out of memory";
	if (!g)
		return -1;
	g->hints = (struct addrinfo){ .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV };
	str_copy(g->host, s->host, sizeof(g->host));
	str_copy(g->port, port, sizeof(g->port));
	g->cb.ar_name = g->host;
	g->cb.ar_service = g->port;
	g->cb.ar_request = &g->hints;
	struct gaicb *list[1] = { &g->cb };
	if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
		free(g);
		*why = "the name lookup did not start";
		return -1;
	}
	s->gai = g;
	return 1;
}

int rdv_resolve_poll(struct rdv_srv *s, const char **why)
{
	if (!s->gai) {
		*why = "no lookup";
		return -1;
	}
	int rc = gai_error(&s->gai->cb);
	if (rc == EAI_INPROGRESS) {
		if (mono_ms() - s->phase_ms <= RDV_RESOLVE_MS)
			return 1;
		rdv_resolve_free(s);
		*why = "the name lookup timed out";
		return -1;
	}
	struct addrinfo *res = s->gai->cb.ar_result;
	free(s->gai);
	s->gai = NULL;
	int ok = rc == 0 && take_addr(s, res) == 0;
	if (res)
		freeaddrinfo(res);
	*why = rc ? gai_strerror(rc) : "no address this socket can reach";
	return ok ? 0 : -1;
}

void rdv_resolve_free(struct rdv_srv *s)
{
	struct rdv_gai *g = s->gai;
	s->gai = NULL;
	if (!g)
		return;
	if (gai_cancel(&g->cb) != EAI_CANCELED && gai_error(&g->cb) == EAI_INPROGRESS)
		return;		/* still in the resolver's hands: left to it (a small leak) */
	if (g->cb.ar_result)
		freeaddrinfo(g->cb.ar_result);
	free(g);
}

/* --- files in the home directory --- */

typedef int (*line_cb)(struct rdv *r, char *line);

static int read_lines(struct rdv *r, const char *file, line_cb cb, char *err, size_t errlen)
{
	char path[700], *buf;
	size_t len;
	snprintf(path, sizeof(path), "%s/%s", r->e->home, file);
	if (store_read_file(path, &buf, &len, FILE_MAX) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int bad = 0;
	for (size_t i = 0; i < len;) {
		char *line = buf + i, *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		line[n] = '\0';
		i += n + 1;
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		if (n > LINE_MAX_LEN || strlen(line) != n || cb(r, line) < 0)
			bad++;
	}
	free(buf);
	if (bad)
		log_warn("%s: %d bad lines ignored", path, bad);
	return 0;
}

int rdv_write_file(struct rdv *r, const char *file, const char *buf, size_t len)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", r->e->home, file);
	if (store_write_atomic(path, buf, len, 0600) < 0) {
		rdv_error(r, "io", "cannot save %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int server_line(struct rdv *r, char *line)
{
	char *sp = strchr(line, ' '), host[RDV_HOST_MAX + 1];
	uint16_t port;
	uint8_t pk[32];
	if (!sp)
		return -1;
	*sp = '\0';
	if (parse_hostport(line, host, &port) < 0 || id_decode(sp + 1, pk) != 0)
		return -1;
	struct rdv_srv *s = srv_get(r, host, port, 1);
	if (!s)
		return -1;
	srv_set_pk(s, pk);
	return 0;
}

int rdv_save_servers(struct rdv *r)
{
	size_t cap = 64 + (size_t)r->nsrv * (RDV_HOST_MAX + ID_STRLEN + 24), n;
	char *buf = malloc(cap), id[ID_STRLEN + 1];
	if (!buf)
		return -1;
	n = (size_t)snprintf(buf, cap, "# tincan rendezvous servers: host:port key (pinned)\n");
	for (int i = 0; i < r->nsrv; i++) {
		if (!r->srv[i]->have_pk)
			continue;
		id_encode(r->srv[i]->pk, id);
		n += (size_t)snprintf(buf + n, cap - n, "%s %s\n", r->srv[i]->label, id);
	}
	int rc = rdv_write_file(r, "servers", buf, n);
	free(buf);
	return rc;
}

static int home_line(struct rdv *r, char *line)
{
	char name[RDV_NAME_MAX + 1], host[RDV_HOST_MAX + 1];
	uint16_t port;
	if (r->home || rdv_parse_handle(line, name, host, &port) < 0)
		return -1;
	struct rdv_srv *s = srv_get(r, host, port, 1);
	if (!s)
		return -1;
	s->home = 1;
	r->home = s;
	str_copy(r->home_name, name, sizeof(r->home_name));
	rdv_handle_format(r->home_handle, sizeof(r->home_handle), name, s);
	return 0;
}

struct rdv_srv *rdv_srv_for_handle(struct rdv *r, const char *handle, char name[RDV_NAME_MAX + 1])
{
	char host[RDV_HOST_MAX + 1];
	uint16_t port;
	if (rdv_parse_handle(handle, name, host, &port) < 0)
		return NULL;
	return srv_get(r, host, port, 1);
}

/* Requesters we denied: their requests are not shown again (nothing tells them). */
int rdv_denied(const struct rdv *r, const uint8_t pk[32])
{
	for (size_t i = 0; i < r->ndenied; i++)
		if (memcmp(r->denied[i], pk, 32) == 0)
			return 1;
	return 0;
}

void rdv_set_denied(struct rdv *r, const uint8_t pk[32], int denied)
{
	for (size_t i = 0; i < r->ndenied; i++) {
		if (memcmp(r->denied[i], pk, 32) == 0) {
			if (!denied)
				memcpy(r->denied[i], r->denied[--r->ndenied], 32);
			return;
		}
	}
	if (!denied)
		return;
	if (r->ndenied == RDV_MAX_DENIED)	/* the oldest is forgotten */
		memmove(r->denied[0], r->denied[1], --r->ndenied * sizeof(r->denied[0]));
	void *p = realloc(r->denied, (r->ndenied + 1) * sizeof(r->denied[0]));
	if (!p)
		return;
	r->denied = p;
	memcpy(r->denied[r->ndenied++], pk, 32);
}

/* handles: "<ID> contact <handle>" for contacts met through a rendezvous, "<ID> denied -" for
 * requesters denied. */
static int handle_line(struct rdv *r, char *line)
{
	char *f[3], name[RDV_NAME_MAX + 1];
	uint8_t pk[32];
	f[0] = line;
	for (int i = 1; i < 3; i++) {
		char *sp = strchr(f[i - 1], ' ');
		if (!sp)
			return -1;
		*sp = '\0';
		f[i] = sp + 1;
	}
	if (id_decode(f[0], pk) != 0)
		return -1;
	if (strcmp(f[1], "denied") == 0) {
		rdv_set_denied(r, pk, 1);
		return 0;
	}
	if (strcmp(f[1], "contact") != 0)
		return -1;
	struct contact *c = contact_find_pk(r->e, pk);
	struct rdv_srv *s = rdv_srv_for_handle(r, f[2], name);
	struct rdv_peer *p = c ? rdv_peer_get(r, c, 1) : NULL;
	if (!p || !s)
		return -1;	/* not a contact any more, or a bad handle */
	p->state = PEER_CONTACT;
	p->srv = s;
	rdv_handle_format(p->handle, sizeof(p->handle), name, s);
	return 0;
}

int rdv_save_handles(struct rdv *r)
{
	size_t cap = 64 + r->npeers * (ID_STRLEN + RDV_HANDLE_MAX + 16) + r->ndenied * (ID_STRLEN + 16), n;
	char id[ID_STRLEN + 1];
	char *buf = malloc(cap);
	if (!buf)
		return -1;
	n = (size_t)snprintf(buf, cap, "# tincan contacts' rendezvous handles: ID state handle\n");
	for (size_t i = 0; i < r->npeers; i++) {
		struct rdv_peer *p = r->peers[i];
		if (p->state == PEER_CONTACT && p->handle[0])
			n += (size_t)snprintf(buf + n, cap - n, "%s contact %s\n", p->c->id, p->handle);
	}
	for (size_t i = 0; i < r->ndenied; i++) {
		id_encode(r->denied[i], id);
		n += (size_t)snprintf(buf + n, cap - n, "%s denied -\n", id);
	}
	int rc = rdv_write_file(r, "handles", buf, n);
	free(buf);
	return rc;
}

/* --- peers --- */

struct rdv_peer *rdv_peer_get(struct rdv *r, struct contact *c, int create)
{
	if (c->rdvp || !create)
		return c->rdvp;
	struct rdv_peer *p = calloc(1, sizeof(*p));
	void *np = p ? realloc(r->peers, (r->npeers + 1) * sizeof(*r->peers)) : NULL;
	if (!np) {
		free(p);
		return NULL;
	}
	r->peers = np;
	p->c = c;
	p->presence = -1;
	r->peers[r->npeers++] = p;
	c->rdvp = p;
	return p;
}

int rdv_srv_wanted(const struct rdv_srv *s)
{
	if (s->home || s->ops)
		return 1;
	for (size_t i = 0; i < s->r->npeers; i++)
		if (s->r->peers[i]->srv == s && s->r->peers[i]->state == PEER_CONTACT &&
		    contact_is_friend(s->r->peers[i]->c))
			return 1;
	return 0;
}

void rdv_status_changed(struct rdv *r)
{
	struct rdv_srv *s = r->home;
	if (!s || !srv_up(s) || !s->logged_in)
		return;		/* the next LOGIN carries it */
	struct rdv_msg m = { .type = RDV_STATUS, .status = (uint8_t)r->e->status };
	str_copy(m.text, r->e->status_text, sizeof(m.text));
	srv_request(s, &m, NULL, 1, 0);
}

void rdv_addrs_changed(struct rdv *r)
{
	struct rdv_srv *s = r ? r->home : NULL;
	if (!s)
		return;
	if (srv_up(s) && s->logged_in)
		rdv_home_login(s);
	else		/* a LOGIN out now carries the old list: login_done sends another */
		r->relogin = 1;
}

void rdv_outbox_changed(struct rdv *r, struct contact *c)
{
	struct rdv_peer *p = rdv_peer_get(r, c, 0);
	if (p && p->state == PEER_CONTACT)
		mail_kick(r, 300);	/* a burst of messages goes in one batch */
}

void rdv_contact_gone(struct rdv *r, struct contact *c)
{
	for (size_t i = 0; i < r->npeers; i++) {
		if (r->peers[i]->c == c) {
			c->rdvp = NULL;
			free(r->peers[i]);
			r->peers[i] = r->peers[--r->npeers];
			break;
		}
	}
	size_t j = 0;
	for (size_t i = 0; i < r->nacks; i++)
		if (r->acks[i].c != c)
			r->acks[j++] = r->acks[i];
	r->nacks = j;
}

const char *rdv_contact_handle(struct rdv *r, const struct contact *c)
{
	for (size_t i = 0; i < r->npeers; i++)
		if (r->peers[i]->c == c)
			return r->peers[i]->state == PEER_CONTACT ? r->peers[i]->handle : "";
	return "";
}

const char *rdv_home(struct rdv *r)
{
	return r->home_handle;
}

/* --- life cycle --- */

void rdv_flush(struct rdv *r)
{
	uint64_t now = mono_us();
	for (int i = 0; i < r->nsrv; i++) {
		struct rdv_srv *s = r->srv[i];
		if (srv_up(s) && s->rel_ready && rel_next_us(&s->rel, now) <= now)
			srv_flush(s);
	}
	mail_flush(r);
}

struct rdv *rdv_new(struct engine *e, const char *conf_home, char *err, size_t errlen)
{
	struct rdv *r = calloc(1, sizeof(*r));
	char path[700], bad[720];
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->e = e;
	timer_init(&r->t_mail, mail_tick, r);
	if (read_lines(r, "servers", server_line, err, errlen) < 0 || read_lines(r, "home", home_line, err, errlen) < 0 ||
	    read_lines(r, "handles", handle_line, err, errlen) < 0)
		goto fail;
	if (conf_home && *conf_home) {		/* tincan.conf names the home: it wins */
		char line[RDV_HANDLE_MAX + 1];
		str_copy(line, conf_home, sizeof(line));
		if (r->home)
			r->home->home = 0;
		r->home = NULL;
		if (home_line(r, line) < 0) {
			snprintf(err, errlen, "rendezvous %s: not a handle name@host[:port]", conf_home);
			goto fail;
		}
		r->conf_home = 1;
	}
	snprintf(path, sizeof(path), "%s/prekeys", e->home);
	if (!(r->keys = seal_keys_load(path, err, errlen))) {
		/* Keep the damaged file for a human, start afresh: mail sealed to the old keys
		 * stays in its sender's outbox and goes the direct way. */
		snprintf(bad, sizeof(bad), "%s.damaged", path);
		log_warn("%s: moved to %s", err, bad);
		if (rename(path, bad) < 0 || !(r->keys = seal_keys_load(path, err, errlen)))
			goto fail;
	}
	if (r->home)
		log_info("home %s", r->home_handle);
	for (int i = 0; i < r->nsrv; i++)
		if (rdv_srv_wanted(r->srv[i]))
			srv_start(r->srv[i]);
	return r;
fail:
	rdv_free(r);
	return NULL;
}

void rdv_free(struct rdv *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->nsrv; i++)
		srv_free(r->srv[i], 1);
	for (size_t i = 0; i < r->npeers; i++) {
		r->peers[i]->c->rdvp = NULL;
		free(r->peers[i]);
	}
	free(r->peers);
	if (r->keys) {
		seal_keys_save(r->keys);
		seal_keys_free(r->keys);
	}
	free(r->acks);
	free(r->denied);
	timer_stop(r->e->loop, &r->t_mail);
	free(r);
}
