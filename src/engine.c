/* engine.c: contacts, LAN peers, deferred events, group commit and the life cycle. The
 * per-contact log (history + outbox) and its recovery are in engine_log.c, commands in
 * engine_cmd.c, the network in session.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "engine_int.h"
#include "log.h"
#include "netwatch.h"
#include "store.h"
#include "syncer.h"
#include "util.h"



static const char *status_words[] = { "offline", "online", "away", "busy", "invisible" };

const char *status_word(enum status s)
{
	return status_words[s];
}

int status_parse(const char *w, enum status *s)
{
	for (size_t i = ST_ONLINE; i < ARRAY_LEN(status_words); i++) {
		if (strcmp(w, status_words[i]) == 0) {
			*s = (enum status)i;
			return 0;
		}
	}
	return -1;
}

int contact_is_friend(const struct contact *c)
{
	return (c->flags & CONTACT_FRIEND) && !(c->flags & CONTACT_BLOCKED);
}

void engine_emit(struct engine *e, const struct event *ev)
{
	if (e->cb)
		e->cb(e->cb_arg, ev);
}

void engine_emitv(struct engine *e, enum ev_type type, const char *word, const char *fmt, va_list ap)
{
	char text[512];
	vsnprintf(text, sizeof(text), fmt, ap);
	engine_emit(e, &(struct event){ .type = type, .word = word, .text = text });
}

void emit_error(struct engine *e, const char *word, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	engine_emitv(e, EV_ERROR, word, fmt, ap);
	va_end(ap);
}

void emit_info(struct engine *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	engine_emitv(e, EV_INFO, NULL, fmt, ap);
	va_end(ap);
}

void engine_defer(struct engine *e, enum ev_type type, struct contact *c, uint64_t msgid,
		  uint64_t ts, const char *text, size_t len)
{
	if (e->ndevs == e->capdevs) {
		size_t cap = e->capdevs ? e->capdevs * 2 : 256;
		struct dev *d = realloc(e->devs, cap * sizeof(*d));
		if (!d)
			fatalx("out of memory");
		e->devs = d;
		e->capdevs = cap;
	}
	char *copy = NULL;
	if (text) {
		copy = malloc(len + 1);
		if (!copy)
			fatalx("out of memory");
		memcpy(copy, text, len);
		copy[len] = '\0';
	}
	e->devs[e->ndevs++] = (struct dev){ .type = type, .c = c, .msgid = msgid, .ts = ts, .text = copy };
}

static void drain_deferred(struct engine *e)
{
	for (size_t i = 0; i < e->ndevs; i++) {
		struct dev *d = &e->devs[i];
		engine_emit(e, &(struct event){ .type = d->type, .id = d->c->id, .name = d->c->name,
						.msgid = d->msgid, .ts = d->ts, .text = d->text });
		free(d->text);
	}
	e->ndevs = 0;
}

/* Online for the front end: a live session, each the other's contact, not invisible. */
void contact_refresh_online(struct contact *c)
{
	contact_set_online(c, session_up(c) && contact_is_friend(c) && c->peer_accepts &&
			      c->status != ST_INVISIBLE);
}

void contact_set_online(struct contact *c, int online)
{
	if (c->online == online)
		return;
	c->online = online;
	if (online && c->status == ST_OFFLINE)
		c->status = ST_ONLINE;
	if (online)
		engine_emit(c->e, &(struct event){ .type = EV_ONLINE, .id = c->id, .name = c->name,
						   .path = contact_path(c) });
	else
		engine_emit(c->e, &(struct event){ .type = EV_OFFLINE, .id = c->id, .name = c->name });
	if (!online)
		typing_reset(c, 1);
}

/* Address and port of a sockaddr as 16 bytes (IPv4 mapped) and a port; -1 if neither family. */
static int addr_key(const struct sockaddr_storage *ss, socklen_t len, uint8_t ip[16], uint16_t *port)
{
	memset(ip, 0, 16);
	if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &s4->sin_addr, 4);
		*port = s4->sin_port;
		return 0;
	}
	if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		memcpy(ip, &s6->sin6_addr, 16);
		*port = s6->sin6_port;
		return 0;
	}
	return -1;
}

/* The LAN peer with the contact's key when the session runs to the address its beacons come
 * from. Asked for every up contact on every pass, so it looks nothing up. */
const struct peer *contact_lan_peer(const struct contact *c)
{
	uint8_t a[16], b[16];
	uint16_t pa, pb;
	const struct peer *p = c->lan_peer;
	return p && addr_key(&p->addr, p->addrlen, a, &pa) == 0 &&
	       addr_key(&c->s.addr, c->s.addrlen, b, &pb) == 0 && pa == pb && memcmp(a, b, 16) == 0
	       ? p : NULL;
}

/* "relay" through the rendezvous; "lan" when the session runs to the address a LAN beacon
 * came from; else "direct". */
const char *contact_path(const struct contact *c)
{
	if (c->s.relay)
		return "relay";
	return contact_lan_peer(c) ? "lan" : "direct";
}

struct contact *contact_find_pk(struct engine *e, const uint8_t pk[32])
{
	for (size_t i = 0; i < e->ncontacts; i++)
		if (sodium_memcmp(e->contacts[i]->pk, pk, 32) == 0)
			return e->contacts[i];
	return NULL;
}

struct contact *contact_new(struct engine *e, const uint8_t pk[32], const char *name, unsigned flags)
{
	if (e->ncontacts >= ENGINE_MAX_CONTACTS)
		return NULL;
	struct contact *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	void *p = realloc(e->contacts, (e->ncontacts + 1) * sizeof(*e->contacts));
	if (!p) {
		free(c);
		return NULL;
	}
	e->contacts = p;
	c->e = e;
	memcpy(c->pk, pk, 32);
	id_encode(pk, c->id);
	str_copy(c->name, name && *name ? name : "-", sizeof(c->name));
	c->flags = flags;
	c->s.hello_gen = 1;
	timer_init(&c->t_hs, session_tick, c);
	timer_init(&c->t_tick, session_tick, c);
	timer_init(&c->t_path, path_tick, c);
	typing_init(c);
	c->lan_peer = peer_find_pk(e, pk);
	if (contact_open_log(c) < 0) {
		if (c->rel_ready)
			rel_free(&c->rel);
		if (c->log)
			jlog_close(c->log);
		free(c);
		return NULL;
	}
	e->contacts[e->ncontacts++] = c;
	return c;
}

static void contact_free(struct contact *c);

/* Forget a contact that is not pinned (a stranger whose request went unanswered). */
void contact_remove(struct engine *e, struct contact *c)
{
	for (size_t i = 0; i < e->ncontacts; i++) {
		if (e->contacts[i] != c)
			continue;
		for (size_t j = 0; j < e->ndevs; j++)
			if (e->devs[j].c == c)
				return;		/* an event still refers to it: keep it for now */
		for (size_t j = 0; j < e->nbatch; j++)
			if (e->batch[j].c == c)
				return;		/* its log is being synced */
		if (e->rdv)
			rdv_contact_gone(e->rdv, c);
		memmove(&e->contacts[i], &e->contacts[i + 1], (e->ncontacts - i - 1) * sizeof(*e->contacts));
		e->ncontacts--;
		contact_free(c);
		return;
	}
}

static void contact_free(struct contact *c)
{
	struct loop *l = c->e->loop;
	timer_stop(l, &c->t_hs);
	timer_stop(l, &c->t_tick);
	timer_stop(l, &c->t_path);
	spray_forget(c->e, c);
	typing_free(c);
	session_drop(c);
	free(c->s.frag);
	if (c->rel_ready)
		rel_free(&c->rel);
	if (c->log)
		jlog_close(c->log);
	free(c);
}

int contacts_save(struct engine *e)
{
	size_t cap = 64 + e->ncontacts * (ID_STRLEN + CONTACT_NAME_MAX + 16);
	char *buf = malloc(cap);
	if (!buf)
		return -1;
	size_t n = (size_t)snprintf(buf, cap, "# tincan contacts: ID flags name\n");
	for (size_t i = 0; i < e->ncontacts; i++) {
		struct contact *c = e->contacts[i];
		unsigned keep = c->flags & (CONTACT_BLOCKED | CONTACT_VERIFIED | CONTACT_FRIEND |
					    CONTACT_KEY_CHANGED);
		if (!keep)
			continue;
		n += (size_t)snprintf(buf + n, cap - n, "%s %u %s\n", c->id, keep, c->name);
	}
	char path[600];
	snprintf(path, sizeof(path), "%s/contacts", e->home);
	int rc = store_write_atomic(path, buf, n, 0600);
	if (rc < 0)
		emit_error(e, "io", "cannot save %s: %s", path, strerror(errno));
	free(buf);
	return rc;
}

static int load_one(void *arg, const uint8_t pk[32], unsigned flags, const char *name)
{
	struct engine *e = arg;
	if (contact_find_pk(e, pk))
		return 0;
	return contact_new(e, pk, name, flags) ? 0 : -1;
}

static int contacts_load(struct engine *e, char *err, size_t errlen)
{
	char path[600], *buf;
	size_t len;
	snprintf(path, sizeof(path), "%s/contacts", e->home);
	if (store_read_file(path, &buf, &len, 4u << 20) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int bad = 0;
	contacts_parse(buf, len, load_one, e, &bad);
	free(buf);
	if (bad)
		log_warn("%s: %d bad lines ignored", path, bad);
	return 0;
}

/* The fingerprint as people read it: groups of digits joined by '-'. */
void fingerprint(const uint8_t pk[32], char out[FPR_STRLEN + 1])
{
	id_fingerprint(pk, out);
	for (char *p = out; *p; p++)
		if (*p == ' ')
			*p = '-';
}

/* --- looking things up --- */

struct peer *peer_find_pk(struct engine *e, const uint8_t pk[32])
{
	for (size_t i = 0; i < e->npeers; i++)
		if (memcmp(e->peers[i].pk, pk, 32) == 0)
			return &e->peers[i];
	return NULL;
}

/* A contact by ID, unique ID prefix (6 or more characters) or name. */
struct contact *contact_lookup(struct engine *e, const char *who, int quiet)
{
	uint8_t pk[32];
	if (strlen(who) == ID_STRLEN)
		for (size_t i = 0; i < e->ncontacts; i++)
			if (strcasecmp(e->contacts[i]->id, who) == 0)
				return e->contacts[i];
	if (id_decode(who, pk) == 0) {
		struct contact *c = contact_find_pk(e, pk);
		if (!c && !quiet)
			emit_error(e, "no-such-contact", "%s is not a contact", who);
		return c;
	}
	struct contact *found = NULL;
	int n = 0;
	size_t wl = strlen(who);
	for (size_t i = 0; i < e->ncontacts; i++) {
		struct contact *c = e->contacts[i];
		if (strcmp(c->name, who) == 0 || (wl >= 6 && strncasecmp(c->id, who, wl) == 0)) {
			if (found != c)
				n++;
			found = c;
		}
	}
	if (n == 1)
		return found;
	if (!quiet)
		emit_error(e, "no-such-contact", n ? "%s is ambiguous" : "no contact %s", who);
	return NULL;
}

/* --- LAN peers --- */

static void on_beacon(void *arg, const struct lan_beacon *b, const struct sockaddr *from, socklen_t fromlen)
{
	struct engine *e = arg;
	struct peer *p = peer_find_pk(e, b->pk);
	struct contact *c = contact_find_pk(e, b->pk);
	const char *before = c ? contact_path(c) : "";	/* a beacon can make a path "lan" */
	int is_new = !p;
	if (!p) {
		if (e->npeers == ENGINE_MAX_PEERS) {
			size_t old = 0;
			for (size_t i = 1; i < e->npeers; i++)
				if (e->peers[i].heard_ms < e->peers[old].heard_ms)
					old = i;
			p = &e->peers[old];
			struct contact *gone = contact_find_pk(e, p->pk);
			if (gone)
				gone->lan_peer = NULL;
		} else {
			p = &e->peers[e->npeers++];
		}
		memset(p, 0, sizeof(*p));
		memcpy(p->pk, b->pk, 32);
		id_encode(b->pk, p->id);
		if (c)
			c->lan_peer = p;
	}
	struct sockaddr_storage at;
	if (fromlen > sizeof(at))
		return;
	memset(&at, 0, sizeof(at));
	memcpy(&at, from, fromlen);
	if (from->sa_family == AF_INET)
		((struct sockaddr_in *)&at)->sin_port = htons(b->port);
	else
		((struct sockaddr_in6 *)&at)->sin6_port = htons(b->port);
	if (b->port == 0)
		return;		/* no session port: nothing to talk to */
	int renamed = strcmp(p->name, contacts_valid_name(b->nick) ? b->nick : "-") != 0;
	int moved = p->addrlen != fromlen || memcmp(&p->addr, &at, fromlen) != 0 || renamed;
	str_copy(p->name, contacts_valid_name(b->nick) ? b->nick : "-", sizeof(p->name));
	p->addr = at;
	p->addrlen = fromlen;
	p->heard_ms = mono_ms();
	if (is_new || moved) {
		char addr[80];
		addr_format((struct sockaddr *)&p->addr, p->addrlen, addr, sizeof(addr));
		engine_emit(e, &(struct event){ .type = EV_PEER, .id = p->id, .name = p->name, .addr = addr });
	}
	/* A peer using a pinned contact's name with another key: loud, never silent. Once per
	 * peer and name (a beacon comes every few seconds). */
	for (size_t i = 0; renamed && i < e->ncontacts; i++) {
		struct contact *k = e->contacts[i];
		if (contact_is_friend(k) && strcmp(k->name, b->nick) == 0 && memcmp(k->pk, b->pk, 32) != 0) {
			char why[200];
			snprintf(why, sizeof(why), "a LAN peer calls itself %s, but its key (%s) is not the one "
				 "pinned for %s", b->nick, p->id, k->name);
			contact_key_changed(k, why);
		}
	}
	if (c && contact_is_friend(c) && !session_up(c))
		session_connect(c, (struct sockaddr *)&p->addr, p->addrlen);
	else if (c && contact_is_friend(c)) {
		session_check_peer(c);
		if (is_new || moved)
			path_candidates_changed(c);	/* on the relay: try the LAN now */
		path_label_changed(c, before);
	}
}

/* After a start, ask the LAN again at 1, 2, 4 and 8 s while a contact has no session: one
 * lost answer on a lossy link must not cost the 10 s until the next periodic beacon. */
static void probe_lan(struct loop *l, void *arg)
{
	struct engine *e = arg;
	int missing = 0;
	for (size_t i = 0; i < e->ncontacts; i++)
		missing |= contact_is_friend(e->contacts[i]) && !session_up(e->contacts[i]);
	if (!missing || !e->lan)
		return;
	lan_announce(e->lan, 1);
	if (++e->probes < 4)
		timer_in(l, &e->t_probe, 1000u << e->probes);
}

/* --- the end of every loop pass: write, tell, sync, send --- */

/* Group commit: one batch of fdatasync at a time in the syncer thread; what is written while
 * it runs goes into the next batch, which starts as soon as this one is done. */
static void sync_start(struct engine *e)
{
	if (!e->syncer || syncer_busy(e->syncer))
		return;
	if (e->capbatch < e->ncontacts) {
		void *p = realloc(e->batch, e->ncontacts * sizeof(*e->batch));
		int *f = realloc(e->batch_fds, e->ncontacts * sizeof(*e->batch_fds));
		if (p)
			e->batch = p;
		if (f)
			e->batch_fds = f;
		if (!p || !f)
			return;
		e->capbatch = e->ncontacts;
	}
	e->nbatch = 0;
	for (size_t i = 0; i < e->ncontacts; i++) {
		struct contact *c = e->contacts[i];
		if (jlog_written(c->log) <= jlog_synced(c->log))
			continue;
		e->batch[e->nbatch].c = c;
		e->batch[e->nbatch].off = jlog_written(c->log);
		e->batch[e->nbatch].rx = c->rel.rx_stored;
		e->batch_fds[e->nbatch] = jlog_fd(c->log);
		e->nbatch++;
	}
	if (e->nbatch && syncer_start(e->syncer, e->batch_fds, e->nbatch) < 0)
		e->nbatch = 0;
}

static void sync_done(void *arg, int ok)
{
	struct engine *e = arg;
	for (size_t i = 0; i < e->nbatch; i++) {
		struct contact *c = e->batch[i].c;
		if (!ok) {
			log_warn("%s: fdatasync failed: durable acknowledgements held back", c->id);
			continue;
		}
		jlog_mark_synced(c->log, e->batch[i].off);
		rel_synced(&c->rel, e->batch[i].rx);
	}
	e->nbatch = 0;
}

static void flush_logs(struct engine *e, int *dirty)
{
	for (size_t i = 0; i < e->ncontacts; i++) {
		struct contact *c = e->contacts[i];
		if (c->since_check >= CHECKPOINT_EVERY)
			log_checkpoint(c);
		if (jlog_written(c->log) != jlog_end(c->log) && jlog_flush(c->log) < 0)
			log_warn("%s: write: %s", c->id, strerror(errno));
		*dirty |= jlog_dirty(c->log);
	}
}

/* The end of a pass: messages go to the log (write(2)), then to the user, then the mark that
 * they were shown goes to the log, and only then do acknowledgements leave. A crash before the
 * display shows them at the next start; a crash after it may show them twice, never zero times. */
static void engine_pass(struct loop *l, void *arg)
{
	struct engine *e = arg;
	int dirty = 0, shown = 0;
	if (e->autoreplies_due)
		autoreply_send(e);
	flush_logs(e, &dirty);
	if (e->ndevs) {
		drain_deferred(e);
		engine_emit(e, &(struct event){ .type = EV_FLUSH });
		for (size_t i = 0; i < e->ncontacts; i++) {
			struct contact *c = e->contacts[i];
			if (c->shown < c->rel.rx_stored) {
				c->shown = c->rel.rx_stored;
				log_append(c, REC_SHOWN, c->shown, 0, NULL, 0);
				shown = 1;
			}
		}
		if (shown)
			flush_logs(e, &dirty);
	}
	for (size_t i = 0; i < e->ncontacts; i++)
		session_flush(e->contacts[i]);
	if (dirty)
		sync_start(e);
	if (e->rdv)
		rdv_flush(e->rdv);
	(void)l;
}

/* --- the router's port mapping --- */

/* nat.c reports here, from the loop. A new external address:port is told once and goes to the
 * home rendezvous in a new LOGIN, first of our addresses; a renewal of the same one changes
 * nothing. A failed round is logged at info level once (nat.c retries every few minutes). */
static void on_portmap(void *arg, int event, const struct nat_mapping *m, const char *why)
{
	struct engine *e = arg;
	char addr[80];
	uint8_t a[16], b[16];
	uint16_t pa, pb;
	switch (event) {
	case NAT_MAPPED:
		if (!m || m->extlen == 0 || m->extlen > sizeof(e->map_addr) ||
		    addr_key(&m->external, m->extlen, a, &pa) < 0)
			return;
		if (e->map_len && addr_key(&e->map_addr, e->map_len, b, &pb) == 0 && pa == pb &&
		    memcmp(a, b, 16) == 0)
			return;		/* renewed: the same address and port */
		memcpy(&e->map_addr, &m->external, m->extlen);
		e->map_len = m->extlen;
		e->map_failed_logged = 0;
		addr_format((const struct sockaddr *)&e->map_addr, e->map_len, addr, sizeof(addr));
		emit_info(e, "port mapping: %s -> UDP port %u (%s)", addr, m->internal_port,
			  m->proto_upnp ? "UPnP IGD" : "NAT-PMP");
		rdv_addrs_changed(e->rdv);
		break;
	case NAT_LOST:
		if (!e->map_len)
			return;
		addr_format((const struct sockaddr *)&e->map_addr, e->map_len, addr, sizeof(addr));
		e->map_len = 0;
		emit_info(e, "port mapping %s lost: %s", addr, why);
		rdv_addrs_changed(e->rdv);
		break;
	case NAT_FAILED:
		if (e->map_failed_logged) {
			log_debug("no port mapping on the router: %s", why);
			break;
		}
		e->map_failed_logged = 1;
		log_info("no port mapping on the router (tried again every %d minutes): %s",
			 NAT_RETRY_FAILED_MS / 60000, why);
		break;
	}
}

/* Ask the router for a mapping of our UDP port; a failure to start costs only the candidate. */
static void portmap_start(struct engine *e)
{
	e->nat = nat_new(e->loop, e->port, on_portmap, e);
	if (!e->nat)
		log_warn("port mapping: cannot start (out of memory or threads)");
}

/* An address or a link came or went: ask for the mapping again, tell the home our addresses,
 * and check every path off the LAN (a PING that must be answered; silence moves it to the
 * relay) or, on the relay, probe for a direct one now. */
static void on_net_changed(void *arg)
{
	struct engine *e = arg;
	if (e->nat)
		nat_refresh(e->nat);
	rdv_addrs_changed(e->rdv);
	for (size_t i = 0; i < e->ncontacts; i++) {
		struct contact *c = e->contacts[i];
		if (!session_up(c))
			continue;
		if (c->s.relay) {
			path_candidates_changed(c);
		} else {
			rel_ask_ack(&c->rel);
			c->s.ka_out = 1;
		}
	}
}

/* --- life cycle --- */

static int load_nick(struct engine *e, const char *want)
{
	char path[600], *buf;
	size_t len;
	if (want) {
		if (!contacts_valid_name(want))
			return -1;
		str_copy(e->nick, want, sizeof(e->nick));
		return save_nick(e);
	}
	snprintf(path, sizeof(path), "%s/nick", e->home);
	if (store_read_file(path, &buf, &len, 256) == 0) {
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
			buf[--len] = '\0';
		if (contacts_valid_name(buf))
			str_copy(e->nick, buf, sizeof(e->nick));
		free(buf);
	}
	if (!e->nick[0]) {
		const char *u = getenv("USER");
		str_copy(e->nick, u && contacts_valid_name(u) ? u : "anon", sizeof(e->nick));
	}
	return 0;
}

struct engine *engine_new(struct loop *l, const struct engine_opts *o, engine_event_cb cb, void *arg,
			  char *err, size_t errlen)
{
	struct engine *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->loop = l;
	e->cb = cb;
	e->cb_arg = arg;
	e->fd = -1;
	e->lock_fd = -1;
	e->status = ST_ONLINE;
	e->lan_only = o->lan;
	e->verbose = o->verbose;
	char path[700];
	if (strlen(o->home) >= sizeof(e->home) - 80) {
		snprintf(err, errlen, "home directory path too long");
		goto fail;
	}
	str_copy(e->home, o->home, sizeof(e->home));
	snprintf(path, sizeof(path), "%s/log", e->home);
	if (store_mkdirs(path, 0700) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/identity.key", e->home);
	int created = 0, rc = identity_load_or_create(path, &e->me, &created, err, errlen);
	if (rc < 0)
		goto fail;
	if (rc == IDENTITY_WARN_MODE)
		log_warn("%s", err);
	if (created)
		log_info("%s: a new identity was made", path);
	id_encode(e->me.pk, e->id);
	fingerprint(e->me.pk, e->fpr);
	if (load_nick(e, o->nick) < 0) {
		snprintf(err, errlen, "bad name: 1 to %d bytes without spaces or control characters",
			 CONTACT_NAME_MAX);
		goto fail;
	}
	if (o->offline)		/* --id: the identity only, no sockets, no contacts */
		return e;
	snprintf(path, sizeof(path), "%s/lock", e->home);
	e->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (e->lock_fd < 0 || flock(e->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "%s: %s", e->home,
			 errno == EWOULDBLOCK ? "another tincan is using this home directory" : strerror(errno));
		goto fail;
	}
	if (contacts_load(e, err, errlen) < 0)
		goto fail;
	if (session_open_socket(e, o->port, err, errlen) < 0)
		goto fail;
	e->lan = lan_new(l, &e->me, e->nick, (uint16_t)(o->lan_port ? o->lan_port : ENGINE_LAN_PORT),
			 e->port, on_beacon, e, err, errlen);
	if (!e->lan)
		goto fail;
	if (!(e->syncer = syncer_new(l, sync_done, e))) {
		snprintf(err, errlen, "cannot start the sync thread");
		goto fail;
	}
	if (!e->lan_only && !(e->rdv = rdv_new(e, o->rendezvous, err, errlen)))
		goto fail;
	if (!e->lan_only && !o->no_portmap)
		portmap_start(e);
	if (!e->lan_only)
		e->netwatch = netwatch_new(l, on_net_changed, e);
	loop_on_pass(l, engine_pass, e);
	lan_announce(e->lan, 1);	/* peers answer at once: a restart reconnects quickly */
	timer_init(&e->t_probe, probe_lan, e);
	timer_in(l, &e->t_probe, 1000);
	engine_emit(e, &(struct event){ .type = EV_READY, .id = e->id, .name = e->nick });
	for (size_t i = 0; i < e->ncontacts; i++)
		if (rel_pending(&e->contacts[i]->rel))
			log_info("%s: %zu messages waiting", e->contacts[i]->name, rel_pending(&e->contacts[i]->rel));
	return e;
fail:
	engine_free(e);
	return NULL;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	e->closing = 1;
	rdv_free(e->rdv);		/* logs out of the home first */
	e->rdv = NULL;
	for (size_t i = 0; i < e->ncontacts; i++) {
		struct contact *c = e->contacts[i];
		if (session_up(c))
			session_bye(c);
		if (c->log && c->since_check)
			log_checkpoint(c);
		if (c->log && jlog_written(c->log) != jlog_end(c->log))
			jlog_flush(c->log);
	}
	netwatch_free(e->netwatch);
	nat_free(e->nat);		/* the mapping goes (bounded by NAT_FREE_MAX_MS) */
	e->nat = NULL;
	drain_deferred(e);
	timer_stop(e->loop, &e->t_probe);
	syncer_free(e->syncer);		/* a running batch finishes; jlog_close syncs the rest */
	spray_free(e);
	for (size_t i = 0; i < e->ncontacts; i++)
		contact_free(e->contacts[i]);
	free(e->contacts);
	free(e->devs);
	free(e->batch);
	free(e->batch_fds);
	if (e->lan)
		lan_free(e->lan);
	session_close(e);
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	identity_free(&e->me);
	free(e);
}

const char *engine_id(const struct engine *e)
{
	return e->id;
}

const char *engine_nick(const struct engine *e)
{
	return e->nick;
}

int engine_contacts(struct engine *e, struct contact_view *out, int max)
{
	int n = 0;
	for (size_t i = 0; i < e->ncontacts && n < max; i++) {
		struct contact *c = e->contacts[i];
		if (!(c->flags & (CONTACT_FRIEND | CONTACT_PENDING)) || (c->flags & CONTACT_BLOCKED))
			continue;
		out[n++] = (struct contact_view){
			.id = c->id, .name = c->name,
			.status = c->online ? status_word(c->status) : (c->flags & CONTACT_PENDING ? "pending" : "offline"),
			.path = c->online ? contact_path(c) : "-", .status_text = c->status_text,
			.online = c->online, .verified = !!(c->flags & CONTACT_VERIFIED),
			.key_changed = !!(c->flags & CONTACT_KEY_CHANGED),
			.typing = c->typing_in,
		};
	}
	return n;
}
