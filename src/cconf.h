/* cconf.h: the client's tincan.conf: its keys, their defaults and checks, where the file is. */
#ifndef TINCAN_CCONF_H
#define TINCAN_CCONF_H

#include <stddef.h>

#include "contacts.h"

struct engine_opts;
struct ui_opts;

enum {
	CCONF_HANDLE_MAX = 255,		/* bytes of name@host[:port] */
	CCONF_TSFMT_MAX = 32,		/* bytes of a timestamps.format */
	CCONF_TS_OUT_MAX = 24,		/* bytes it may produce */
	CCONF_PANE_MIN = 10,
	CCONF_PANE_MAX = 60,
	CCONF_VALUE_MAX = 300,		/* cconf_get's output, NUL included */
};

/* Every setting, with its key in tincan.conf (man tincan.conf(5) documents them):
 *	nick		name others see ("" = keep the stored one)
 *	rendezvous	home handle name@host[:port] ("" = none; kept for the rendezvous client)
 *	portmap		on		(a UDP port mapping on the router: UPnP IGD, NAT-PMP)
 *	colors		on
 *	timestamps	on		timestamps.format	%H:%M
 *	notify.bell	on		notify.title		on	notify.text	off
 *	typing.send	on		typing.show		on
 *	pane.width	20		pane.hidden		off
 *	ambiguous-wide	off
 * Booleans take on/off, yes/no, true/false, 1/0. */
struct cconf {
	char nick[CONTACT_NAME_MAX + 1];
	char rendezvous[CCONF_HANDLE_MAX + 1];
	int portmap;
	int colors;
	int timestamps;
	char ts_format[CCONF_TSFMT_MAX + 1];
	int bell, title, notify_text;
	int typing_send, typing_show;
	int pane;			/* 1 = shown: pane.hidden is its opposite */
	int pane_width;
	int ambiguous_wide;
	unsigned seen;			/* keys given so far (one bit each): a second one is an error */
};

void cconf_defaults(struct cconf *c);
/* Check and set one key. 0, or -1 with a message for people in err ("unknown key 'x'",
 * "pane.width: a number from 10 to 60"). A key given twice is an error unless
 * allow_repeat (the UI's /set). */
int cconf_set(struct cconf *c, const char *key, const char *value, int allow_repeat, char *err,
	      size_t errlen);
/* The value of key as text ("on", "20", "%H:%M"); -1 for an unknown key. */
int cconf_get(const struct cconf *c, const char *key, char *out, size_t cap);
/* The i-th key (NULL past the end); *runtime is 1 when /set may change it. */
const char *cconf_key(size_t i, int *runtime);

/* Which file to read: file (-f/--config) when given, and then it must exist; else
 * home/tincan.conf when a home directory was named (--home or TINCAN_HOME); else
 * $XDG_CONFIG_HOME/tincan/tincan.conf or $HOME/.config/tincan/tincan.conf, which may be absent.
 * out is "" when there is nowhere to look (no HOME). -1 when the path does not fit. */
int cconf_path(const char *file, const char *home, char *out, size_t cap, int *must_exist);
/* Read the file into c (which holds the defaults or earlier values). An absent file is fine
 * unless must_exist. 0, or -1 with "path:line: what" (or "path: what") in err. */
int cconf_load(struct cconf *c, const char *path, int must_exist, char *err, size_t errlen);
/* The same from a buffer; errors read "line N: what". */
int cconf_parse(struct cconf *c, const char *buf, size_t len, char *err, size_t errlen);

/* Hand the values to the engine and the UI. What the command line set already (eo->nick)
 * wins over the file. The strings stay in c, which must outlive both. */
void cconf_apply(const struct cconf *c, struct engine_opts *eo, struct ui_opts *uo);

#endif
