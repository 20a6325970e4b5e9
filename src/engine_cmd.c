/* engine_cmd.c: the engine's commands (/msg, /add, /accept, /status, /nick, /verify, ...),
 * parsed from one line each, as both front ends send them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "engine_int.h"
#include "log.h"
#include "store.h"
#include "util.h"

static void cmd_id(struct engine *e)
{
	engine_emit(e, &(struct event){ .type = EV_ID, .id = e->id, .text = e->fpr, .name = e->nick });
}

int save_nick(struct engine *e)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/nick", e->home);
	return store_write_atomic(path, e->nick, strlen(e->nick), 0600);
}

static void hello_all(struct engine *e)
{
	for (size_t i = 0; i < e->ncontacts; i++)
		session_hello_changed(e->contacts[i]);
}

static void cmd_nick(struct engine *e, char *arg)
{
	if (!*arg) {
		emit_info(e, "nick: %s", e->nick);
		return;
	}
	if (!contacts_valid_name(arg)) {
		emit_error(e, "usage", "a name is 1 to %d bytes without spaces or control characters",
			   CONTACT_NAME_MAX);
		return;
	}
	str_copy(e->nick, arg, sizeof(e->nick));
	if (save_nick(e) < 0)
		emit_error(e, "io", "cannot save the name: %s", strerror(errno));
	if (e->lan)
		lan_set_nick(e->lan, e->nick);
	hello_all(e);
}

static void cmd_peers(struct engine *e)
{
	if (e->lan)
		lan_announce(e->lan, 1);
	for (size_t i = 0; i < e->npeers; i++) {
		struct peer *p = &e->peers[i];
		char addr[80];
		addr_format((struct sockaddr *)&p->addr, p->addrlen, addr, sizeof(addr));
		engine_emit(e, &(struct event){ .type = EV_PEER, .id = p->id, .name = p->name, .addr = addr });
	}
}

static void try_connect(struct engine *e, struct contact *c)
{
	struct peer *p = peer_find_pk(e, c->pk);
	if (p)
		session_connect(c, (struct sockaddr *)&p->addr, p->addrlen);
}

static void cmd_add(struct engine *e, char *arg)
{
	char *text = strchr(arg, ' ');
	if (text)
		*text++ = '\0';
	if (!*arg) {
		emit_error(e, "usage", "/add <ID or name or name@host> [text]");
		return;
	}
	if (strchr(arg, '@')) {		/* name@host: through that rendezvous */
		if (e->rdv)
			rdv_cmd_add(e->rdv, arg, text);
		else
			emit_error(e, "usage", "LAN-only mode (--lan): no rendezvous");
		return;
	}
	uint8_t pk[32];
	const char *name = NULL;
	int rc = id_decode(arg, pk);
	if (rc != 0) {
		if (strlen(arg) > 20 && (arg[0] == 't' || arg[0] == 'T')) {
			emit_error(e, "bad-id", "%s: %s", arg, id_strerror(rc));
			return;
		}
		/* A name heard on the LAN: it must be unique there. */
		struct peer *found = NULL;
		int n = 0;
		for (size_t i = 0; i < e->npeers; i++) {
			if (strcmp(e->peers[i].name, arg) == 0) {
				found = &e->peers[i];
				n++;
			}
		}
		if (n > 1) {
			emit_error(e, "usage", "%d peers are called %s: add by ID", n, arg);
			return;
		}
		if (n == 0) {
			emit_error(e, "no-such-contact", "no peer called %s (an ID starts with tc)", arg);
			return;
		}
		struct contact *same = contact_lookup(e, arg, 1);
		if (same && memcmp(same->pk, found->pk, 32) != 0) {
			emit_error(e, "key-changed", "%s is pinned to another key; this peer's key is %s",
				   arg, found->id);
			return;
		}
		memcpy(pk, found->pk, 32);
		name = found->name;
	} else {
		struct peer *p = peer_find_pk(e, pk);
		name = p ? p->name : NULL;
	}
	if (memcmp(pk, e->me.pk, 32) == 0) {
		emit_error(e, "usage", "that is your own ID");
		return;
	}
	engine_pin_contact(e, pk, name, text);
}

struct contact *engine_pin_contact(struct engine *e, const uint8_t pk[32], const char *name, const char *text)
{
	struct contact *c = contact_find_pk(e, pk);
	if (!c && !(c = contact_new(e, pk, name, 0))) {
		emit_error(e, "io", "cannot add the contact: %s", strerror(errno));
		return NULL;
	}
	if (name && strcmp(c->name, "-") == 0)
		str_copy(c->name, name, sizeof(c->name));
	c->flags = (c->flags | CONTACT_FRIEND) & ~(unsigned)(CONTACT_BLOCKED | CONTACT_PENDING);
	str_copy(c->request_text, text ? text : "", sizeof(c->request_text));
	contacts_save(e);
	char fpr[FPR_STRLEN + 1];
	fingerprint(c->pk, fpr);
	engine_emit(e, &(struct event){ .type = EV_ADDED, .id = c->id, .name = c->name, .text = fpr });
	session_hello_changed(c);
	contact_refresh_online(c);
	try_connect(e, c);
	return c;
}

static void cmd_answer(struct engine *e, char *arg, int how)
{
	struct contact *c = contact_lookup(e, arg, 0);
	if (!c)
		return;
	if (how == 0) {			/* accept */
		c->flags = (c->flags | CONTACT_FRIEND) & ~(unsigned)(CONTACT_PENDING | CONTACT_BLOCKED);
		engine_emit(e, &(struct event){ .type = EV_ADDED, .id = c->id, .name = c->name });
	} else if (how == 1) {		/* deny: forget the request, say nothing */
		c->flags &= ~(unsigned)(CONTACT_PENDING | CONTACT_FRIEND);
	} else {			/* block */
		c->flags = (c->flags | CONTACT_BLOCKED) & ~(unsigned)(CONTACT_PENDING | CONTACT_FRIEND);
		session_drop(c);
	}
	c->request_shown = how != 0;	/* a denied request is not shown again this run */
	contacts_save(e);
	session_hello_changed(c);
	contact_refresh_online(c);
	if (how == 0)
		try_connect(e, c);
	if (e->rdv)
		rdv_answer(e->rdv, c, how);
}

/* Into the outbox (the log) and the sending queue; the message's seq, or 0 after an error. */
static uint64_t queue_text(struct contact *c, const char *text, size_t len)
{
	struct engine *e = c->e;
	uint64_t seq = rel_next_seq(&c->rel), ts = wall_ms();
	if (log_append(c, REC_OUT, seq, ts, text, len) < 0 || rel_queue(&c->rel, seq, ts, text, len) < 0) {
		emit_error(e, "io", "cannot queue the message: %s", strerror(errno));
		return 0;
	}
	engine_defer(e, EV_SENT, c, seq, ts, text, len);
	engine_defer(e, EV_QUEUED, c, seq, ts, NULL, 0);
	if (!session_up(c))
		try_connect(e, c);
	if (e->rdv)
		rdv_outbox_changed(e->rdv, c);
	return seq;
}

static void cmd_msg(struct engine *e, char *arg)
{
	char *text = strchr(arg, ' ');
	if (!text || !text[1]) {
		emit_error(e, "usage", "/msg <contact> <text>");
		return;
	}
	*text++ = '\0';
	struct contact *c = contact_lookup(e, arg, 0);
	if (!c)
		return;
	if (!contact_is_friend(c)) {
		emit_error(e, "not-contact", "%s is not your contact: /add it first", arg);
		return;
	}
	if (c->flags & CONTACT_KEY_CHANGED) {
		emit_error(e, "key-changed", "not sent: another key claimed the name %s. Compare the safety "
			   "number with %s (/verify %s), then type /verify %s confirm", c->name, c->name,
			   c->name, c->name);
		return;
	}
	size_t len = strlen(text);
	if (len > REL_MAX_TEXT) {
		emit_error(e, "too-long", "a message holds at most %d bytes", REL_MAX_TEXT);
		return;
	}
	if (!queue_text(c, text, len))
		return;
	c->autoreplied = 0;	/* we replied: a new message gets the away message again */
	typing_set(c, TYPING_STOPPED);
}

void autoreply_send(struct engine *e)
{
	char text[sizeof(AUTOREPLY_TAG) + STATUS_TEXT_MAX];
	e->autoreplies_due = 0;
	for (size_t i = 0; i < e->ncontacts; i++) {
		struct contact *c = e->contacts[i];
		if (!c->autoreply_due)
			continue;
		c->autoreply_due = 0;
		if ((e->status != ST_AWAY && e->status != ST_BUSY) || !e->status_text[0] ||
		    !contact_is_friend(c) || (c->flags & CONTACT_KEY_CHANGED))
			continue;
		int n = snprintf(text, sizeof(text), "%s%s", AUTOREPLY_TAG, e->status_text);
		uint64_t seq = queue_text(c, text, (size_t)n);
		if (seq)
			engine_defer(e, EV_AUTOREPLY, c, seq, 0, text, (size_t)n);
	}
}

/* /typing <contact> typing|paused|stopped */
static void cmd_typing(struct engine *e, char *arg)
{
	char *word = strchr(arg, ' ');
	if (word)
		*word++ = '\0';
	int state = word ? typing_parse(word) : -1;
	if (state < 0) {
		emit_error(e, "usage", "/typing <contact> typing|paused|stopped");
		return;
	}
	struct contact *c = contact_lookup(e, arg, 0);
	if (c && !contact_is_friend(c))
		emit_error(e, "not-contact", "%s is not your contact", arg);
	else if (c)
		typing_set(c, state);
}

int engine_typing(struct engine *e, const char *who, int state)
{
	struct contact *c = who ? contact_lookup(e, who, 1) : NULL;
	if (!c || !contact_is_friend(c))
		return -1;
	typing_set(c, state);
	return 0;
}

static void cmd_contacts(struct engine *e)
{
	for (size_t i = 0; i < e->ncontacts; i++) {
		struct contact *c = e->contacts[i];
		if (!contact_is_friend(c))
			continue;
		engine_emit(e, &(struct event){ .type = EV_CONTACT, .id = c->id, .name = c->name,
						.status = c->online ? status_word(c->status) : "offline",
						.path = c->online ? contact_path(c) : "-" });
	}
}

static void cmd_status(struct engine *e, char *arg)
{
	char *text = strchr(arg, ' ');
	if (text)
		*text++ = '\0';
	enum status s;
	if (status_parse(arg, &s) < 0) {
		emit_error(e, "usage", "/status online|away|busy|invisible [message]");
		return;
	}
	e->status = s;
	str_copy(e->status_text, text ? text : "", sizeof(e->status_text));
	if (s == ST_ONLINE)	/* back: the next away spell answers everyone once again */
		for (size_t i = 0; i < e->ncontacts; i++)
			e->contacts[i]->autoreplied = 0;
	hello_all(e);
	if (e->rdv)
		rdv_status_changed(e->rdv);
}

void contact_key_changed(struct contact *c, const char *why)
{
	struct engine *e = c->e;
	char text[512];
	if (!(c->flags & CONTACT_KEY_CHANGED)) {
		c->flags |= CONTACT_KEY_CHANGED;
		contacts_save(e);
	}
	snprintf(text, sizeof(text), "%s. Messages to %s are held: compare the safety number with %s "
		 "(/verify %s), then type /verify %s confirm", why, c->name, c->name, c->name, c->name);
	engine_emit(e, &(struct event){ .type = EV_WARNING, .id = c->id, .name = c->name, .text = text });
}

static void cmd_verify(struct engine *e, char *arg)
{
	char *how = strchr(arg, ' ');
	if (how)
		*how++ = '\0';
	struct contact *c = contact_lookup(e, arg, 0);
	if (!c)
		return;
	char sn[SAFETY_STRLEN + 1], fpr[FPR_STRLEN + 1];
	id_safety_number(e->me.pk, c->pk, sn);
	fingerprint(c->pk, fpr);
	if (how && strcmp(how, "confirm") == 0) {
		c->flags = (c->flags | CONTACT_VERIFIED) & ~(unsigned)CONTACT_KEY_CHANGED;
		contacts_save(e);
	} else if (how && strcmp(how, "reset") == 0) {
		c->flags &= ~(unsigned)CONTACT_VERIFIED;
		contacts_save(e);
	}
	emit_info(e, "%s: safety number %s (fingerprint %s) %s", c->name, sn, fpr,
		  c->flags & CONTACT_KEY_CHANGED ? "[KEY CHANGED: another key used this name; compare, then "
						   "/verify <contact> confirm to keep this key]" :
		  c->flags & CONTACT_VERIFIED ? "[verified]" : "[not verified: compare, then /verify <contact> confirm]");
}

static void cmd_info(struct engine *e, char *arg)
{
	struct contact *c = contact_lookup(e, arg, 0);
	if (!c)
		return;
	char fpr[FPR_STRLEN + 1], addr[80] = "-";
	fingerprint(c->pk, fpr);
	if (session_up(c))
		addr_format((struct sockaddr *)&c->s.addr, c->s.addrlen, addr, sizeof(addr));
	emit_info(e, "%s %s fingerprint %s %s status %s path %s address %s outbox %zu", c->name, c->id, fpr,
		  c->flags & CONTACT_VERIFIED ? "verified" : "unverified",
		  c->online ? status_word(c->status) : "offline", c->online ? contact_path(c) : "-", addr,
		  rel_pending(&c->rel));
}

static const char *help_lines[] = {
	"/id                          your ID and fingerprint",
	"/nick <name>                 the name others see",
	"/peers                       who is on the LAN",
	"/add <ID|name> [text]        pin a contact and ask them",
	"/add <name@host[:port]> [text]  the same through that rendezvous",
	"/register <name@host[:port]> [server-ID]  claim a name there: your home",
	"/accept|/deny|/block <who>   answer a contact request",
	"/msg <contact> <text>        send a message",
	"/typing <contact> typing|paused|stopped  tell a contact you type",
	"/contacts                    list contacts",
	"/status online|away|busy|invisible [message]",
	"/info <contact>              key, path, outbox",
	"/verify <contact> [confirm|reset]  safety number",
	"/quit                        leave",
};

int engine_command(struct engine *e, const char *line)
{
	char buf[REL_MAX_TEXT + 256];
	if (strlen(line) >= sizeof(buf)) {
		emit_error(e, "too-long", "command line too long");
		return 0;
	}
	str_copy(buf, line, sizeof(buf));
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (buf[0] != '/') {
		if (n)
			emit_error(e, "usage", "commands start with /; /msg <contact> <text> sends");
		return 0;
	}
	char *arg = strchr(buf, ' ');
	if (arg)
		*arg++ = '\0';
	else
		arg = buf + n;
	const char *cmd = buf + 1;
	if (!strcmp(cmd, "msg") || !strcmp(cmd, "query"))
		cmd_msg(e, arg);
	else if (!strcmp(cmd, "id") || !strcmp(cmd, "fingerprint"))
		cmd_id(e);
	else if (!strcmp(cmd, "nick"))
		cmd_nick(e, arg);
	else if (!strcmp(cmd, "peers"))
		cmd_peers(e);
	else if (!strcmp(cmd, "add"))
		cmd_add(e, arg);
	else if (!strcmp(cmd, "accept"))
		cmd_answer(e, arg, 0);
	else if (!strcmp(cmd, "deny"))
		cmd_answer(e, arg, 1);
	else if (!strcmp(cmd, "block"))
		cmd_answer(e, arg, 2);
	else if (!strcmp(cmd, "contacts"))
		cmd_contacts(e);
	else if (!strcmp(cmd, "status"))
		cmd_status(e, arg);
	else if (!strcmp(cmd, "verify"))
		cmd_verify(e, arg);
	else if (!strcmp(cmd, "info"))
		cmd_info(e, arg);
	else if (!strcmp(cmd, "typing"))
		cmd_typing(e, arg);
	else if (!strcmp(cmd, "help"))
		for (size_t i = 0; i < ARRAY_LEN(help_lines); i++)
			emit_info(e, "%s", help_lines[i]);
	else if (!strcmp(cmd, "register") && e->rdv)
		rdv_cmd_register(e->rdv, arg);
	else if (!strcmp(cmd, "register"))
		emit_error(e, "usage", "LAN-only mode (--lan): no rendezvous");
	else if (!strcmp(cmd, "quit"))
		return 1;
	else
		emit_error(e, "unknown-command", "/%s: unknown command (try /help)", cmd);
	return 0;
}

