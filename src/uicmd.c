/* uicmd.c: what Enter does: UI commands (/win, /lastlog, /set...), engine commands passed on, text sent; Tab completion. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf.h"
#include "edit.h"
#include "engine.h"
#include "text.h"
#include "uiint.h"
#include "util.h"

enum {
	LINE_BYTES = EDIT_MAX * 4 + 1,
	LASTLOG_MAX = 200,	/* newest matches shown */
	LASTLOG_CHUNK = 1000,
};

struct cmd {
	const char *name, *args, *help;
	void (*fn)(struct ui *ui, const char *args);	/* NULL: the engine's */
};

static void cmd_help(struct ui *ui, const char *args);

/* ---- passing commands on ---- */

static int
engine_line(struct ui *ui, const char *line)
{
	int r;

	if (ui->eng == NULL) {
		ui_line(ui, ui->active, LINE_ERROR, "not started yet");
		return -1;
	}
	ui->cmd_win = ui->active;
	r = engine_command(ui->eng, line);
	ui->cmd_win = NULL;
	if (r == 1)
		ui->done = 1;
	ui->contacts_stale = 1;
	ui->dirty |= D_ALL;
	return r;
}

static void
send_text(struct ui *ui, const char *id, const char *text)
{
	size_t n = strlen(id) + strlen(text) + 8;
	char *line = malloc(n);

	if (line == NULL)
		return;
	snprintf(line, n, "/msg %s %s", id, text);
	str_copy(ui->sent_id, id, sizeof(ui->sent_id));
	free(ui->sent_text);
	ui->sent_text = strdup(text);
	win_bottom(ui->active);
	engine_line(ui, line);
	free(line);
}

static void
pass(struct ui *ui, const char *name, const char *args)
{
	char line[LINE_BYTES + 32];

	snprintf(line, sizeof(line), "/%s%s%s", name, args[0] ? " " : "", args);
	engine_line(ui, line);
}

/* ---- UI commands ---- */

static void
cmd_msg(struct ui *ui, const char *args)
{
	char who[WIN_NAME_MAX * 4 + 1];
	const char *text;
	const struct ui_contact *c;
	size_t n = strcspn(args, " ");

	if (n == 0) {
		ui_line(ui, ui->active, LINE_ERROR, "usage: /msg <contact> [text]");
		return;
	}
	snprintf(who, sizeof(who), "%.*s", (int)n, args);
	text = args + n;
	text += *text == ' ';
	c = ui_contact_find(ui, who);
	if (c == NULL) {	/* the engine knows more ways to name someone, or says why not */
		pass(ui, "msg", args);
		return;
	}
	ui_win_switch(ui, ui_win_open(ui, c->id));
	if (text[0] != 0)
		send_text(ui, c->id, text);
}

static void
cmd_query(struct ui *ui, const char *args)
{
	char who[WIN_NAME_MAX * 4 + 1];

	snprintf(who, sizeof(who), "%.*s", (int)strcspn(args, " "), args);
	cmd_msg(ui, who);
}

static void
cmd_win(struct ui *ui, const char *args)
{
	struct win *w = NULL;
	char *end;
	long n = strtol(args, &end, 10);

	if (args[0] == 0) {
		ui_line(ui, ui->active, LINE_ERROR, "usage: /win <number or name>");
		return;
	}
	if (*end == 0 && end != args) {
		w = ui_win_by_num(ui, (int)n);
	} else {
		wchar_t name[WIN_NAME_MAX + 1];
		size_t len = text_sanitize(args, strlen(args), name, ARRAY_LEN(name), 0);
		for (int i = 0; i < ui->nwins && w == NULL; i++)
			if (wcsncasecmp(ui->wins[i]->name, name, len) == 0)
				w = ui->wins[i];
		if (w == NULL) {
			const struct ui_contact *c = ui_contact_find(ui, args);
			if (c != NULL)
				w = ui_win_open(ui, c->id);
		}
	}
	if (w == NULL)
		ui_line(ui, ui->active, LINE_ERROR, "no window %s (/wins lists them)", args);
	ui_win_switch(ui, w);
}

static void
cmd_wins(struct ui *ui, const char *args)
{
	for (int i = 0; i < ui->nwins; i++) {
		struct win *w = ui->wins[i];
		char name[WIN_NAME_MAX * 4 + 1];
		text_to_utf8(w->name, wcslen(w->name), name, sizeof(name));
		ui_line(ui, ui->active, LINE_INFO, "%2d %s%s%s", w->num, name,
			w == ui->active ? "  (this one)" : "", w->unread ? "  unread" : "");
	}
}

static void
cmd_close(struct ui *ui, const char *args)
{
	struct win *w = args[0] ? ui_win_by_num(ui, atoi(args)) : ui->active;

	if (w == NULL || w->num == 1) {
		ui_line(ui, ui->active, LINE_ERROR, "%s", w == NULL ? "no such window" :
			"window 1 stays open (/quit leaves)");
		return;
	}
	ui_win_close(ui, w);
}

static void
cmd_clear(struct ui *ui, const char *args)
{
	win_clear(ui->active);
	ui->active->hist_done = 1;	/* what was cleared stays away; /close brings it back */
	ui->dirty |= D_CHAT;
}

struct lastlog {
	const char *needle, *name;
	char *hits[LASTLOG_MAX];
	int n;
};

static void
lastlog_cb(void *arg, int outgoing, uint64_t msgid, uint64_t ts, const char *text, size_t len,
	   int delivered)
{
	struct lastlog *ll = arg;
	char body[2048], when[32], line[2400];
	time_t t = (time_t)(ts / 1000);
	struct tm tm;

	if (ll->n >= LASTLOG_MAX)
		return;
	snprintf(body, sizeof(body), "%.*s", (int)(len < sizeof(body) ? len : sizeof(body) - 1),
		 text);
	if (strcasestr(body, ll->needle) == NULL)
		return;
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	snprintf(line, sizeof(line), "%s <%s> %s", when, outgoing ? "me" : ll->name, body);
	ll->hits[ll->n++] = strdup(line);
}

static void
cmd_lastlog(struct ui *ui, const char *args)
{
	struct lastlog ll = {.needle = args};
	struct win *w = ui->active;
	int total = 0;

	if (args[0] == 0) {
		ui_line(ui, w, LINE_ERROR, "usage: /lastlog <text>");
		return;
	}
	if (ui->eng == NULL)
		return;
	ui_contacts_refresh(ui);
	for (int i = 0; i < ui->ncontacts && ll.n < LASTLOG_MAX; i++) {
		const struct ui_contact *c = &ui->contacts[i];
		uint64_t cursor = UINT64_MAX;
		if (w->id[0] != 0 && strcmp(w->id, c->id) != 0)
			continue;
		ll.name = c->name8;
		while (ll.n < LASTLOG_MAX &&
		       engine_history(ui->eng, c->id, &cursor, LASTLOG_CHUNK, lastlog_cb, &ll) > 0)
			;
	}
	/* newest were found first: show them oldest first */
	for (int i = ll.n; i-- > 0; total++) {
		ui_line(ui, w, LINE_INFO, "%s", ll.hits[i]);
		free(ll.hits[i]);
	}
	ui_line(ui, w, LINE_INFO, "lastlog: %d line%s with \"%s\"%s", total, total == 1 ? "" : "s",
		args, total == LASTLOG_MAX ? " (the newest only)" : "");
}

/* Older names /set still takes; "pane" says whether the pane shows, pane.hidden the opposite. */
static const char *
set_alias(const char *key, const char **val)
{
	static const char *const alias[][2] = {
		{"bell", "notify.bell"}, {"title", "notify.title"}, {"pane-width", "pane.width"},
		{"typing", "typing.send"}, {"pane", "pane.hidden"},
	};

	for (size_t i = 0; i < ARRAY_LEN(alias); i++)
		if (strcmp(key, alias[i][0]) == 0) {
			if (strcmp(key, "pane") == 0 && *val != NULL && (*val)[0] != 0) {
				int b;
				*val = conf_bool(*val, &b) < 0 ? "?" : b ? "off" : "on";
			}
			return alias[i][1];
		}
	return key;
}

static void
show_setting(struct ui *ui, const char *key)
{
	char v[CCONF_VALUE_MAX];

	if (cconf_get(&ui->set, key, v, sizeof(v)) == 0)
		ui_line(ui, ui->active, LINE_INFO, "%s %s", key, v);
}

static void
cmd_set(struct ui *ui, const char *args)
{
	char key[64], err[256];
	const char *val, *name;
	size_t n = strcspn(args, " ");
	int runtime;

	if (args[0] == 0) {
		for (size_t i = 0; (name = cconf_key(i, &runtime)) != NULL; i++)
			if (runtime)
				show_setting(ui, name);
		return;
	}
	snprintf(key, sizeof(key), "%.*s", (int)(n < sizeof(key) ? n : sizeof(key) - 1), args);
	val = args + n;
	while (*val == ' ')
		val++;
	name = set_alias(key, &val);
	runtime = -1;
	for (size_t i = 0; cconf_key(i, NULL) != NULL; i++)
		if (strcmp(cconf_key(i, NULL), name) == 0)
			cconf_key(i, &runtime);
	if (runtime != 1) {
		ui_line(ui, ui->active, LINE_ERROR, "/set %s: %s", key, runtime < 0 ?
			"no such setting (/set lists them)" : "not changed here (/nick, tincan.conf)");
		return;
	}
	if (name != key)
		str_copy(key, name, sizeof(key));
	if (val[0] == 0) {
		show_setting(ui, key);
		return;
	}
	if (cconf_set(&ui->set, key, val, 1, err, sizeof(err)) < 0) {
		ui_line(ui, ui->active, LINE_ERROR, "%s", err);
		return;
	}
	if (strcmp(key, "colors") == 0 && ui->set.colors && !ui->have_colors)
		ui_line(ui, ui->active, LINE_INFO, "colours were off at the start (colors = off or "
			"NO_COLOR): they come with the next start");
	if (strcmp(key, "typing.send") == 0 && !ui->set.typing_send)
		ui_typing_stop_all(ui);
	ui_settings_apply(ui);
	show_setting(ui, key);
}

static void
cmd_status(struct ui *ui, const char *args)
{
	static const char *const states[] = {"online", "away", "busy", "invisible"};
	size_t n = strcspn(args, " ");

	for (size_t i = 0; i < ARRAY_LEN(states); i++)
		if (n == strlen(states[i]) && strncmp(args, states[i], n) == 0) {
			pass(ui, "status", args);
			str_copy(ui->my_status, states[i], sizeof(ui->my_status));
			return;
		}
	ui_line(ui, ui->active, LINE_ERROR, "usage: /status online|away|busy|invisible [message]");
}

static void
cmd_away(struct ui *ui, const char *args)
{
	char line[LINE_BYTES + 8];

	snprintf(line, sizeof(line), "away%s%s", args[0] ? " " : "", args);
	cmd_status(ui, line);
}

static void
cmd_back(struct ui *ui, const char *args)
{
	cmd_status(ui, "online");
}

static void
cmd_requests(struct ui *ui, const char *args)
{
	int n = 0;

	ui_contacts_refresh(ui);
	for (int i = 0; i < ui->ncontacts; i++) {
		const struct ui_contact *c = &ui->contacts[i];
		if (ui_presence_letter(c) != '?')
			continue;
		ui_line(ui, ui->active, LINE_INFO, "%s (%s) is waiting: /accept %s or /deny %s",
			c->name8, c->id, c->name8, c->name8);
		n++;
	}
	if (n == 0)
		ui_line(ui, ui->active, LINE_INFO, "no requests waiting");
}

static void
cmd_quit(struct ui *ui, const char *args)
{
	if (ui->eng == NULL || engine_line(ui, "/quit") != 0)
		ui->done = 1;
}

static const struct cmd cmds[] = {
	{"accept", "<contact>", "accept a contact request", NULL},
	{"add", "<ID or name> [text]", "ask someone to be your contact", NULL},
	{"away", "[message]", "set yourself away; the message answers each contact once",
	 cmd_away},
	{"back", "", "set yourself online again", cmd_back},
	{"block", "<contact>", "block someone", NULL},
	{"clear", "", "clear this window (the history stays on disk)", cmd_clear},
	{"close", "[N]", "close this window or window N", cmd_close},
	{"contacts", "", "list your contacts", NULL},
	{"deny", "<contact>", "deny a contact request", NULL},
	{"help", "[command]", "this list, or one command", cmd_help},
	{"id", "", "your ID and fingerprint", NULL},
	{"info", "<contact>", "a contact's key, path and status", NULL},
	{"lastlog", "<text>", "find lines in the whole history of this window", cmd_lastlog},
	{"msg", "<contact> [text]", "open a conversation, and send text", cmd_msg},
	{"nick", "<name>", "the name others see", NULL},
	{"peers", "", "people heard on the LAN", NULL},
	{"query", "<contact>", "open a conversation (/msg without text)", cmd_query},
	{"quit", "", "leave", cmd_quit},
	{"requests", "", "contact requests waiting for an answer", cmd_requests},
	{"set", "[key [value]]", "show or change a setting: timestamps, timestamps.format, "
	 "notify.bell, notify.title, notify.text, typing.send, typing.show, pane.width, "
	 "pane.hidden, colors, ambiguous-wide", cmd_set},
	{"status", "online|away|busy|invisible [message]", "your presence", cmd_status},
	{"typing", "<contact> typing|paused|stopped", "a typing notice (typing in a window sends "
	 "them)", NULL},
	{"verify", "<contact> [confirm|reset]", "safety number; confirm after comparing", NULL},
	{"win", "<N or name>", "go to a window", cmd_win},
	{"wins", "", "list the windows", cmd_wins},
};

static const char *const key_help[] = {
	"Alt+1..9, Alt+0     window 1..10",
	"Ctrl+N/P, Alt+Right/Left   next/previous window",
	"Alt+A               next window with activity (messages first)",
	"PgUp/PgDn           scroll a page; Alt+PgUp/PgDn a few lines",
	"Alt+Home/End, Ctrl+Home/End   top/bottom; Alt+U first unread line",
	"Tab, Shift+Tab      complete commands and names",
	"Up/Down, Ctrl+R     input history of this window, search it",
	"Ctrl+A/E/B/F, Alt+B/F, Home/End, Left/Right   move",
	"Ctrl+D/H/W/K/U/Y/T, Alt+D, Alt+Backspace   delete, kill, yank, transpose",
	"Alt+Enter, Ctrl+J   new line in the input; a pasted text asks before it is sent",
	"Ctrl+C clear input  Ctrl+L redraw  Ctrl+Z suspend  F7 buddy pane  Alt+L bare mode",
};

static void
cmd_help(struct ui *ui, const char *args)
{
	const char *name = args[0] == '/' ? args + 1 : args;
	int found = 0;

	for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
		if (name[0] && strcmp(name, cmds[i].name) != 0)
			continue;
		ui_line(ui, ui->active, LINE_INFO, "/%s %s  - %s", cmds[i].name, cmds[i].args,
			cmds[i].help);
		found = 1;
	}
	if (name[0] && !found) {
		pass(ui, "help", args);
		return;
	}
	if (name[0])
		return;
	ui_line(ui, ui->active, LINE_INFO, "text without a slash goes to this window's contact; "
		"//text sends text starting with a slash; unique prefixes work (/w 2)");
	for (size_t i = 0; i < ARRAY_LEN(key_help); i++)
		ui_line(ui, ui->active, LINE_INFO, "%s", key_help[i]);
}

/* Exact name, else the one unique prefix, else the shortest when it is a prefix of all
 * the others (/w is /win, not /wins). */
static const struct cmd *
find_cmd(struct ui *ui, const char *name, size_t n)
{
	const struct cmd *best = NULL;
	int hits = 0, ok = 1;

	for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
		if (strlen(cmds[i].name) == n && strncmp(cmds[i].name, name, n) == 0)
			return &cmds[i];
	for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
		if (strncmp(cmds[i].name, name, n) == 0) {
			hits++;
			if (best == NULL || strlen(cmds[i].name) < strlen(best->name))
				best = &cmds[i];
		}
	for (size_t i = 0; best != NULL && i < ARRAY_LEN(cmds); i++)
		if (strncmp(cmds[i].name, name, n) == 0 &&
		    strncmp(cmds[i].name, best->name, strlen(best->name)) != 0)
			ok = 0;
	if (hits > 1 && !ok) {
		ui_line(ui, ui->active, LINE_ERROR, "/%.*s is more than one command (Tab shows them)",
			(int)n, name);
		return (const struct cmd *)-1;
	}
	return best;
}

static void
command(struct ui *ui, const char *line)
{
	const char *name = line + 1, *args;
	size_t n = strcspn(name, " ");
	const struct cmd *c;

	args = name + n;
	while (*args == ' ')
		args++;
	c = find_cmd(ui, name, n);
	if (c == (const struct cmd *)-1)
		return;
	if (c == NULL) {	/* not ours: maybe the engine's */
		engine_line(ui, line);
		return;
	}
	if (c->fn != NULL)
		c->fn(ui, args);
	else
		pass(ui, c->name, args);
}

/* One line of input: a command, or text for this window's contact. */
void
ui_run(struct ui *ui, const char *line)
{
	const struct ui_contact *c;
	struct win *w = ui->active;

	if (line[0] == '/' && line[1] != '/') {
		command(ui, line);
		return;
	}
	if (line[0] == '/')
		line++;
	if (w->id[0] == 0) {
		ui_line(ui, w, LINE_ERROR, "this is the status window: /msg <contact> <text> starts "
			"a conversation, Alt+2.. go to one");
		return;
	}
	c = ui_contact_by_id(ui, w->id);
	if (c != NULL && c->key_changed) {
		ui_line(ui, w, LINE_WARN, "not sent: the key of %s changed. Compare the numbers with "
			"/verify %s, then /verify %s confirm", c->name8, c->name8, c->name8);
		return;
	}
	send_text(ui, w->id, line);
}

void
ui_enter(struct ui *ui)
{
	struct edit *e = ui->active->edit;
	char *buf, *p, *nl;

	if (e->len == 0)
		return;
	if ((buf = malloc(LINE_BYTES)) == NULL)
		return;
	edit_utf8(e, buf, LINE_BYTES);
	edit_hist_add(e, e->buf, e->len);
	edit_clear(e);
	ui_complete_reset(ui);
	for (p = buf; p != NULL && !ui->done; p = nl) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = 0;
		if (p[0] != 0)
			ui_run(ui, p);
	}
	free(buf);
	ui->dirty |= D_ALL;
}

/* ---- Tab completion ---- */

void
ui_complete_reset(struct ui *ui)
{
	ui->comp_active = 0;
}

static int
cand_cmp(const void *a, const void *b)
{
	return wcscmp(*(const wchar_t *const *)a, *(const wchar_t *const *)b);
}

void
ui_complete(struct ui *ui, int dir)
{
	struct edit *e = ui->active->edit;
	const wchar_t *cand[UI_CONTACTS_MAX + ARRAY_LEN(cmds)];
	static wchar_t names[ARRAY_LEN(cmds)][24];
	size_t m = 0, wl, cl, total;
	wchar_t *buf;

	if (!ui->comp_active) {
		size_t s = e->pos;
		while (s > 0 && e->buf[s - 1] != ' ' && e->buf[s - 1] != '\n')
			s--;
		if (e->pos - s > UI_COMP_MAX)
			return;
		wmemcpy(ui->comp_word, e->buf + s, e->pos - s);
		ui->comp_word[e->pos - s] = 0;
		ui->comp_start = s;
		ui->comp_len = e->pos - s;
		ui->comp_idx = dir > 0 ? -1 : 0;
		ui->comp_active = 1;
	}
	wl = wcslen(ui->comp_word);
	if (ui->comp_start == 0 && ui->comp_word[0] == '/') {
		for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
			swprintf(names[i], ARRAY_LEN(names[i]), L"/%s", cmds[i].name);
			if (wcsncmp(names[i], ui->comp_word, wl) == 0)
				cand[m++] = names[i];
		}
	} else {
		for (int i = 0; i < ui->ncontacts; i++)
			if (wcsncasecmp(ui->contacts[i].name, ui->comp_word, wl) == 0)
				cand[m++] = ui->contacts[i].name;
	}
	if (m == 0) {
		ui->comp_active = 0;
		return;
	}
	qsort(cand, m, sizeof(cand[0]), cand_cmp);
	ui->comp_idx = (int)(((size_t)(ui->comp_idx + dir) + m) % m);
	cl = wcslen(cand[ui->comp_idx]);
	total = e->len - ui->comp_len + cl + 1;
	if (ui->comp_start + ui->comp_len > e->len || total > EDIT_MAX)
		return;
	buf = ui_scratch(ui, total + 1);
	wmemcpy(buf, e->buf, ui->comp_start);
	wmemcpy(buf + ui->comp_start, cand[ui->comp_idx], cl);
	buf[ui->comp_start + cl] = L' ';
	wmemcpy(buf + ui->comp_start + cl + 1, e->buf + ui->comp_start + ui->comp_len,
		e->len - ui->comp_start - ui->comp_len);
	edit_set(e, buf, total);
	while (e->pos > ui->comp_start + cl + 1)
		edit_left(e);
	ui->comp_len = cl + 1;
}
