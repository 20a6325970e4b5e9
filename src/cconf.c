/* cconf.c: the client's tincan.conf: keys, defaults and checks on top of conf.c's parser. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cconf.h"
#include "conf.h"
#include "engine.h"
#include "rdvmsg.h"
#include "ui.h"
#include "util.h"

enum ktype { K_BOOL, K_NOT_BOOL, K_PANE_WIDTH, K_NICK, K_HANDLE, K_TSFMT };

/* One row per key; off is where its int or string lives in struct cconf. */
static const struct key {
	const char *name;
	enum ktype type;
	size_t off;
	int runtime;		/* /set may change it */
} keys[] = {
	{"nick", K_NICK, offsetof(struct cconf, nick), 0},
	{"rendezvous", K_HANDLE, offsetof(struct cconf, rendezvous), 0},
	{"portmap", K_BOOL, offsetof(struct cconf, portmap), 0},
	{"colors", K_BOOL, offsetof(struct cconf, colors), 1},
	{"timestamps", K_BOOL, offsetof(struct cconf, timestamps), 1},
	{"timestamps.format", K_TSFMT, offsetof(struct cconf, ts_format), 1},
	{"notify.bell", K_BOOL, offsetof(struct cconf, bell), 1},
	{"notify.title", K_BOOL, offsetof(struct cconf, title), 1},
	{"notify.text", K_BOOL, offsetof(struct cconf, notify_text), 1},
	{"typing.send", K_BOOL, offsetof(struct cconf, typing_send), 1},
	{"typing.show", K_BOOL, offsetof(struct cconf, typing_show), 1},
	{"pane.width", K_PANE_WIDTH, offsetof(struct cconf, pane_width), 1},
	{"pane.hidden", K_NOT_BOOL, offsetof(struct cconf, pane), 1},
	{"ambiguous-wide", K_BOOL, offsetof(struct cconf, ambiguous_wide), 1},
};
_Static_assert(ARRAY_LEN(keys) <= sizeof(unsigned) * 8, "one bit of cconf.seen per key");

void
cconf_defaults(struct cconf *c)
{
	memset(c, 0, sizeof(*c));
	c->portmap = 1;
	c->colors = 1;
	c->timestamps = 1;
	str_copy(c->ts_format, "%H:%M", sizeof(c->ts_format));
	c->bell = 1;
	c->title = 1;
	c->notify_text = 0;
	c->typing_send = 1;
	c->typing_show = 1;
	c->pane = 1;
	c->pane_width = 20;
	c->ambiguous_wide = 0;
}

const char *
cconf_key(size_t i, int *runtime)
{
	if (i >= ARRAY_LEN(keys))
		return NULL;
	if (runtime != NULL)
		*runtime = keys[i].runtime;
	return keys[i].name;
}

static const struct key *
find_key(const char *name, size_t *idx)
{
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return &keys[i];
		}
	return NULL;
}

/* A strftime format that gives a short line prefix in any locale: printable ASCII and only
 * conversions that name a time (no %n, %t, %c, %x or %A that can run long). */
static int
check_tsfmt(const char *v, char *err, size_t errlen)
{
	static const char ok[] = "HMSIpdmyYejabFTR%";
	struct tm tm = {.tm_year = 126, .tm_mon = 11, .tm_mday = 31, .tm_hour = 23, .tm_min = 59,
			.tm_sec = 59, .tm_wday = 4, .tm_yday = 364};
	char out[128];
	size_t n = strlen(v);

	if (n == 0 || n > CCONF_TSFMT_MAX) {
		snprintf(err, errlen, "timestamps.format: 1 to %d characters (timestamps = off "
			 "turns them off)", CCONF_TSFMT_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (ch < 0x20 || ch > 0x7e) {
			snprintf(err, errlen, "timestamps.format: printable ASCII only");
			return -1;
		}
		if (ch != '%')
			continue;
		if (v[i + 1] == 0 || strchr(ok, v[i + 1]) == NULL) {
			snprintf(err, errlen, "timestamps.format: %%%c is not one of %%H %%M %%S %%I %%p "
				 "%%d %%m %%y %%Y %%e %%j %%a %%b %%F %%T %%R %%%%",
				 v[i + 1] ? v[i + 1] : ' ');
			return -1;
		}
		i++;
	}
	/* checked above: only the conversions in ok */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = strftime(out, sizeof(out), v, &tm);
#pragma GCC diagnostic pop
	if (n == 0 || n > CCONF_TS_OUT_MAX) {
		snprintf(err, errlen, "timestamps.format: must give 1 to %d characters",
			 CCONF_TS_OUT_MAX);
		return -1;
	}
	return 0;
}

/* name@host[:port]: a rendezvous name, a DNS name or [IPv6], a port 1-65535. */
static int
check_handle(const char *v, char *err, size_t errlen)
{
	char name[64], norm[RDV_NAME_MAX + 1];
	const char *at = strchr(v, '@'), *h, *end;
	size_t hl;

	if (strlen(v) > CCONF_HANDLE_MAX || at == NULL || (size_t)(at - v) >= sizeof(name))
		goto bad;
	memcpy(name, v, (size_t)(at - v));
	name[at - v] = 0;
	if (rdv_name_norm(name, norm) < 0)
		goto bad;
	h = at + 1;
	if (*h == '[') {
		end = strchr(h, ']');
		if (end == NULL || end == h + 1)
			goto bad;
		for (const char *p = h + 1; p < end; p++)
			if (strchr("0123456789abcdefABCDEF:.", *p) == NULL)
				goto bad;
		end++;
	} else {
		for (end = h; *end != 0 && *end != ':'; end++)
			if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-",
				   *end) == NULL)
				goto bad;
		if (end == h || *h == '.' || *h == '-')
			goto bad;
	}
	hl = (size_t)(end - h);
	if (hl == 0 || hl > 253)
		goto bad;
	if (*end == ':') {
		unsigned long port;
		if (conf_uint(end + 1, 65535, &port) < 0 || port == 0)
			goto bad;
	} else if (*end != 0) {
		goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "rendezvous: name@host or name@host:port (a name is 1 to 32 of "
		 "a-z 0-9 . _ -, starting with a letter or digit)");
	return -1;
}

int
cconf_set(struct cconf *c, const char *key, const char *value, int allow_repeat, char *err,
	  size_t errlen)
{
	size_t idx;
	const struct key *k = find_key(key, &idx);
	char *base = (char *)c;
	int b;
	unsigned long n;

	if (k == NULL) {
		snprintf(err, errlen, "unknown key '%.64s' (see tincan.conf(5))", key);
		return -1;
	}
	if (!allow_repeat && (c->seen & (1u << idx))) {
		snprintf(err, errlen, "'%s' is given twice", key);
		return -1;
	}
	switch (k->type) {
	case K_BOOL:
	case K_NOT_BOOL:
		if (conf_bool(value, &b) < 0) {
			snprintf(err, errlen, "%s: on or off, not '%.40s'", key, value);
			return -1;
		}
		*(int *)(void *)(base + k->off) = k->type == K_BOOL ? b : !b;
		break;
	case K_PANE_WIDTH:
		if (conf_uint(value, CCONF_PANE_MAX, &n) < 0 || n < CCONF_PANE_MIN) {
			snprintf(err, errlen, "%s: a number of columns from %d to %d", key,
				 CCONF_PANE_MIN, CCONF_PANE_MAX);
			return -1;
		}
		c->pane_width = (int)n;
		break;
	case K_NICK:
		if (!contacts_valid_name(value)) {
			snprintf(err, errlen, "nick: 1 to %d bytes without spaces or control characters",
				 CONTACT_NAME_MAX);
			return -1;
		}
		str_copy(c->nick, value, sizeof(c->nick));
		break;
	case K_HANDLE:
		if (check_handle(value, err, errlen) < 0)
			return -1;
		str_copy(c->rendezvous, value, sizeof(c->rendezvous));
		break;
	case K_TSFMT:
		if (check_tsfmt(value, err, errlen) < 0)
			return -1;
		str_copy(c->ts_format, value, sizeof(c->ts_format));
		break;
	}
	c->seen |= 1u << idx;
	return 0;
}

int
cconf_get(const struct cconf *c, const char *key, char *out, size_t cap)
{
	const struct key *k = find_key(key, NULL);
	const char *base = (const char *)c;
	int v;

	if (k == NULL)
		return -1;
	switch (k->type) {
	case K_BOOL:
	case K_NOT_BOOL:
		v = *(const int *)(const void *)(base + k->off);
		str_copy(out, (k->type == K_BOOL ? v : !v) ? "on" : "off", cap);
		break;
	case K_PANE_WIDTH:
		snprintf(out, cap, "%d", c->pane_width);
		break;
	case K_NICK:
	case K_HANDLE:
	case K_TSFMT:
		str_copy(out, base + k->off, cap);
		break;
	}
	return 0;
}

static int
on_setting(void *arg, const char *key, const char *value, int lineno, char *err, size_t errlen)
{
	(void)lineno;
	return cconf_set(arg, key, value, 0, err, errlen);
}

int
cconf_parse(struct cconf *c, const char *buf, size_t len, char *err, size_t errlen)
{
	return conf_parse(buf, len, on_setting, c, err, errlen);
}

int
cconf_load(struct cconf *c, const char *path, int must_exist, char *err, size_t errlen)
{
	FILE *f;

	if (path == NULL || path[0] == 0)
		return 0;
	if (must_exist && (f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	} else if (must_exist) {
		fclose(f);
	}
	return conf_parse_file(path, on_setting, c, err, errlen);
}

int
cconf_path(const char *file, const char *home, char *out, size_t cap, int *must_exist)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
	int n;

	*must_exist = 0;
	if (file != NULL) {
		*must_exist = 1;
		n = snprintf(out, cap, "%s", file);
	} else if (home != NULL && home[0] != 0) {
		n = snprintf(out, cap, "%s/tincan.conf", home);
	} else if (xdg != NULL && xdg[0] == '/') {
		n = snprintf(out, cap, "%s/tincan/tincan.conf", xdg);
	} else if (h != NULL && h[0] != 0) {
		n = snprintf(out, cap, "%s/.config/tincan/tincan.conf", h);
	} else {
		n = snprintf(out, cap, "%s", "");
	}
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

void
cconf_apply(const struct cconf *c, struct engine_opts *eo, struct ui_opts *uo)
{
	if (eo != NULL) {
		if (eo->nick == NULL && c->nick[0] != 0)
			eo->nick = c->nick;
		if (eo->rendezvous == NULL && c->rendezvous[0] != 0)
			eo->rendezvous = c->rendezvous;
		if (!c->portmap)
			eo->no_portmap = 1;
	}
	if (uo != NULL) {
		uo->no_color = !c->colors;
		uo->no_timestamps = !c->timestamps;
		uo->ts_format = c->ts_format;
		uo->no_bell = !c->bell;
		uo->no_title = !c->title;
		uo->notify_text = c->notify_text;
		uo->no_typing_send = !c->typing_send;
		uo->no_typing_show = !c->typing_show;
		uo->pane_hidden = !c->pane;
		uo->pane_width = c->pane_width;
		uo->ambiguous_wide = c->ambiguous_wide;
	}
}
