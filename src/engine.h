/* engine.h: the messenger without a terminal: contacts, sessions, outbox, history, presence.
 * Front ends (curses, headless) feed it command lines and receive events. */
#ifndef TINCAN_ENGINE_H
#define TINCAN_ENGINE_H

#include <stdint.h>

#include "loop.h"

enum ev_type {
	EV_READY,		/* id */
	EV_ID,			/* id, fpr (text), name */
	EV_PEER,		/* id, name, addr */
	EV_REQUEST,		/* id, name, text */
	EV_ONLINE,		/* id, path */
	EV_OFFLINE,		/* id */
	EV_STATUS,		/* id, status, text (may be empty) */
	EV_PATH,		/* id, path */
	EV_MSG,			/* id, msgid, ts, text: an incoming message, once, in order */
	EV_SENT,		/* id, msgid, ts, text: our own message, as stored (for the UI) */
	EV_QUEUED,		/* id, msgid */
	EV_DELIVERED,		/* id, msgid */
	EV_CONTACT,		/* id, name, status, path */
	EV_WARNING,		/* id, text */
	EV_ERROR,		/* word, text */
	EV_INFO,		/* text: a line for people (help, /info) */
	EV_ADDED,		/* id, name: a contact was added (pinned) */
	EV_DURABLE,		/* id, msgid: the receiver has everything up to msgid on disk */
	EV_FLUSH,		/* everything emitted so far must reach the user now (before acks go out) */
	EV_REGISTERED,		/* id (ours), text: the handle name@host[:port] is ours and our home */
	EV_LOGIN,		/* id (ours), text: logged in to the home rendezvous (its host) */
	EV_MAILBOX,		/* id, msgid: the message is sealed in the contact's rendezvous mailbox */
	EV_TYPING,		/* id, name, word: "typing", "paused" or "stopped" (typing notices) */
	EV_AUTOREPLY,		/* id, name, msgid, text: our away message went back to id as msgid */
	EV_RESTART,		/* id, name, msgid: id's message history restarted (a new log there);
				 * its messages are numbered again from msgid + 1 */
};

struct event {
	enum ev_type type;
	const char *id;		/* contact identity string */
	const char *name;
	const char *text;
	const char *word;	/* EV_ERROR: stable word */
	const char *path;	/* "lan", "direct", "relay" */
	const char *status;	/* "online", "away", "busy", "invisible", "offline" */
	const char *addr;
	uint64_t msgid;
	uint64_t ts;		/* unix ms */
};

typedef void (*engine_event_cb)(void *arg, const struct event *ev);

struct engine_opts {
	const char *home;	/* directory holding everything of this client */
	const char *nick;	/* NULL = keep the stored one */
	int lan;		/* LAN-only mode: no rendezvous */
	int port;		/* UDP port; 0 = default, -1 = any */
	int lan_port;		/* discovery port; 0 = default */
	int verbose;
	int offline;		/* identity only: no sockets, no contacts (--id) */
	int no_portmap;		/* no UPnP IGD / NAT-PMP port mapping on the router */
	const char *rendezvous;	/* home handle name@host[:port] from tincan.conf; NULL = none */
};

struct engine;
/* Loads or creates the identity and state in opts->home. NULL with a message in err. */
struct engine *engine_new(struct loop *l, const struct engine_opts *opts, engine_event_cb cb, void *arg,
			  char *err, size_t errlen);
/* Runs one command line ("/msg bob hi"); text without a slash is an error here (the UI
 * turns it into /msg for the active window). Returns 1 when the command was /quit. */
int engine_command(struct engine *e, const char *line);
/* Clean shutdown: tells peers, syncs every log. */
void engine_free(struct engine *e);
const char *engine_id(const struct engine *e);
const char *engine_nick(const struct engine *e);

/* For the UI's buddy pane: a snapshot of the contacts (strings valid until the next pass). */
struct contact_view {
	const char *id, *name, *status, *path;	/* path "-" when offline */
	const char *status_text;
	int online, verified, key_changed;
	int typing;		/* what their last typing notice said: TYPING_* */
};
int engine_contacts(struct engine *e, struct contact_view *out, int max);

/* History of one contact, newest first, from the end of its log: starts before *cursor
 * (UINT64_MAX = the end) and leaves *cursor where the next call continues; returns the number
 * of records given to cb (0 = the beginning was reached). Reading is O(records read). */
typedef void (*engine_hist_cb)(void *arg, int outgoing, uint64_t msgid, uint64_t ts,
			       const char *text, size_t len, int delivered);
int engine_history(struct engine *e, const char *id, uint64_t *cursor, int max,
		   engine_hist_cb cb, void *arg);

/* Typing notices (also the FR_TYPING frame's byte). The UI calls engine_typing with
 * TYPING_ACTIVE on every key that edits text for a contact, TYPING_STOPPED when the text is
 * cleared or sent; the engine turns that into frames: one per change, a refresh every few
 * seconds while typing, and "paused" after a few seconds without a key. Only online contacts
 * are told. -1 when who is not a contact. The headless command is /typing <contact> <word>. */
enum { TYPING_STOPPED = 0, TYPING_ACTIVE = 1, TYPING_PAUSED = 2 };
int engine_typing(struct engine *e, const char *who, int state);

enum { ENGINE_DEFAULT_PORT = 7788, ENGINE_LAN_PORT = 7789 };

#endif
