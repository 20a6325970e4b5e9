/* uievent.c: engine events turned into lines, unread counts and bells; the contact list as the UI sees it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text.h"
#include "uiint.h"
#include "util.h"

/* ---- contacts ---- */

static void
widen(const char *s, wchar_t *out, size_t cap)
{
	if (s == NULL)
		s = "";
	text_sanitize(s, strlen(s), out, cap, 0);
}

static void
copy8(char *dst, const char *src, size_t cap)
{
	str_copy(dst, src != NULL ? src : "", cap);
}

void
ui_contacts_refresh(struct ui *ui)
{
	int n;

	ui->contacts_stale = 0;
	if (ui->eng == NULL)
		return;
	n = engine_contacts(ui->eng, ui->cview, UI_CONTACTS_MAX);
	if (n < 0)
		n = 0;
	if (n > UI_CONTACTS_MAX)
		n = UI_CONTACTS_MAX;
	for (int i = 0; i < n; i++) {
		const struct contact_view *v = &ui->cview[i];
		struct ui_contact *c = &ui->contacts[i];
		struct win *w;
		copy8(c->id, v->id, sizeof(c->id));
		copy8(c->name8, v->name, sizeof(c->name8));
		widen(v->name != NULL && v->name[0] ? v->name : v->id, c->name,
		      ARRAY_LEN(c->name));
		copy8(c->status, v->status, sizeof(c->status));
		copy8(c->path, v->path, sizeof(c->path));
		widen(v->status_text, c->status_text, ARRAY_LEN(c->status_text));
		c->online = v->online;
		c->verified = v->verified;
		c->key_changed = v->key_changed;
		c->typing = v->typing;
		if ((w = ui_win_by_id(ui, c->id)) != NULL && wcscmp(w->name, c->name) != 0) {
			win_set_name(w, c->name);
			ui->dirty |= D_ALL;
		}
	}
	ui->ncontacts = n;
	ui->dirty |= D_PANE | D_TITLE;
}

const struct ui_contact *
ui_contact_by_id(struct ui *ui, const char *id)
{
	if (id == NULL)
		return NULL;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < ui->ncontacts; i++)
			if (strcmp(ui->contacts[i].id, id) == 0)
				return &ui->contacts[i];
		if (pass == 0)
			ui_contacts_refresh(ui);
	}
	return NULL;
}

/* By name (exact, then case-insensitive), full ID or an ID prefix of 6 or more. */
const struct ui_contact *
ui_contact_find(struct ui *ui, const char *who)
{
	const struct ui_contact *hit = NULL;
	size_t n = strlen(who);
	int hits = 0;

	ui_contacts_refresh(ui);
	for (int i = 0; i < ui->ncontacts; i++)
		if (strcmp(ui->contacts[i].name8, who) == 0 || strcmp(ui->contacts[i].id, who) == 0)
			return &ui->contacts[i];
	for (int i = 0; i < ui->ncontacts; i++)
		if (strcasecmp(ui->contacts[i].name8, who) == 0 ||
		    (n >= 6 && strncmp(ui->contacts[i].id, who, n) == 0)) {
			hit = &ui->contacts[i];
			hits++;
		}
	return hits == 1 ? hit : NULL;
}

/* ---- events ---- */

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

static const char *
who_of(struct ui *ui, const struct event *ev)
{
	const struct ui_contact *c;

	if (ev->name != NULL && ev->name[0] != 0)
		return ev->name;
	c = ui_contact_by_id(ui, ev->id);
	if (c != NULL && c->name8[0] != 0)
		return c->name8;
	return nz(ev->id);
}

/* A message for w arrived: unread count, activity, bell. */
static void
notify(struct ui *ui, struct win *w, size_t at)
{
	if (w == ui->active && ui->focused) {
		if (w->marker == at)
			w->marker = at + 1;
		ui->dirty |= D_CHAT;
		return;
	}
	if (w->marker == WIN_NO_MARKER || w->marker > at)
		w->marker = at;
	w->unread++;
	w->activity = 2;
	if (ui->set.bell)
		ui->beep = 1;
	ui->dirty |= D_STATUS | D_PANE;
}

/* What the terminal title may show of a message: the sender and the start of its text, with
 * controls in caret notation (never raw: the title is an escape sequence). */
static void
notify_text(struct ui *ui, const char *from, const char *text)
{
	text_utf8_sanitize(from, strlen(from), ui->notify_from, sizeof(ui->notify_from), 0);
	text_utf8_sanitize(text, strlen(text), ui->notify_msg, sizeof(ui->notify_msg), 0);
}

static void
presence_line(struct ui *ui, const struct event *ev, const char *what, const char *a,
	      const char *b)
{
	struct win *w = ui_win_by_id(ui, ev->id);
	char line[512];

	snprintf(line, sizeof(line), "%s %s%s%s%s%s", who_of(ui, ev), what, a[0] ? " " : "", a,
		 b[0] ? ": " : "", b);
	ui_line(ui, NULL, LINE_PRESENCE, "%s", line);
	if (w != NULL)
		ui_line(ui, w, LINE_PRESENCE, "%s", line);
	ui->contacts_stale = 1;
	ui->dirty |= D_PANE | D_TITLE;
}

static void
own_line(struct ui *ui, const struct event *ev, int state)
{
	struct win *w = ui_win_open(ui, ev->id);
	size_t at;

	if (w == NULL)
		return;
	at = win_add(w, LINE_OUT, ev->ts ? ev->ts : wall_ms(), ev->msgid, nz(ev->text),
		     strlen(nz(ev->text)), state);
	if (w == ui->active) {
		if (w->marker == at)
			w->marker = at + 1;
		ui->dirty |= D_CHAT;
	}
	if (strcmp(ui->sent_id, nz(ev->id)) == 0) {
		ui->sent_id[0] = 0;
		free(ui->sent_text);
		ui->sent_text = NULL;
	}
	win_trim(w);
}

void
ui_event(void *arg, const struct event *ev)
{
	struct ui *ui = arg;
	struct win *out = ui->cmd_win != NULL ? ui->cmd_win : ui->wins[0], *w;
	struct wline *l;
	size_t at;

	switch (ev->type) {
	case EV_READY:
		ui_line(ui, NULL, LINE_INFO, "ready: your ID is %s (/help for commands and keys)",
			nz(ev->id));
		ui->dirty |= D_ALL;
		break;
	case EV_ID:
		ui_line(ui, out, LINE_INFO, "you are %s  ID %s  fingerprint %s", nz(ev->name),
			nz(ev->id), nz(ev->text));
		break;
	case EV_PEER:
		ui_line(ui, out, LINE_INFO, "peer %s  %s  at %s  (/add %s to ask)", nz(ev->name),
			nz(ev->id), nz(ev->addr), ev->name && ev->name[0] ? ev->name : nz(ev->id));
		break;
	case EV_REQUEST:
		ui->contacts_stale = 1;
		ui_line(ui, NULL, LINE_INFO, "%s (%s) asks to be your contact: %s  -- /accept %s or "
			"/deny %s", nz(ev->name), nz(ev->id), nz(ev->text), who_of(ui, ev),
			who_of(ui, ev));
		notify(ui, ui->wins[0], ui->wins[0]->n - 1);
		break;
	case EV_ADDED:
		ui_line(ui, out, LINE_INFO, "contact added: %s (%s)", nz(ev->name), nz(ev->id));
		ui->contacts_stale = 1;
		break;
	case EV_ONLINE:
		presence_line(ui, ev, "is online, over", nz(ev->path), "");
		break;
	case EV_OFFLINE:
		presence_line(ui, ev, "is offline", "", "");
		break;
	case EV_STATUS:
		presence_line(ui, ev, "is", nz(ev->status), nz(ev->text));
		break;
	case EV_PATH:
		if ((w = ui_win_by_id(ui, ev->id)) != NULL)
			ui_line(ui, w, LINE_PRESENCE, "talking to %s over %s now", who_of(ui, ev),
				nz(ev->path));
		ui->contacts_stale = 1;
		break;
	case EV_MSG:
		if ((w = ui_win_open(ui, ev->id)) == NULL)
			break;
		at = win_add(w, LINE_IN, ev->ts ? ev->ts : wall_ms(), ev->msgid, nz(ev->text),
			     strlen(nz(ev->text)), LS_NONE);
		if (at + 1 == w->n && !(w == ui->active && ui->focused))
			notify_text(ui, who_of(ui, ev), nz(ev->text));
		if (at + 1 == w->n)
			notify(ui, w, at);
		if (w == ui->active)
			ui->dirty |= D_CHAT;
		win_trim(w);
		break;
	case EV_SENT:
		own_line(ui, ev, LS_PENDING);
		break;
	case EV_QUEUED:
		w = ui_win_by_id(ui, ev->id);
		if (w != NULL && win_find(w, 1, ev->msgid) == NULL && ui->sent_text != NULL &&
		    strcmp(ui->sent_id, nz(ev->id)) == 0) {
			/* the engine said queued before showing the line: show it now */
			struct event e2 = *ev;
			e2.text = ui->sent_text;
			e2.ts = wall_ms();
			ui->sent_text = NULL;
			own_line(ui, &e2, LS_PENDING);
			free((char *)e2.text);
		}
		break;
	case EV_DELIVERED:
		if ((w = ui_win_by_id(ui, ev->id)) != NULL && (l = win_find(w, 1, ev->msgid)) != NULL) {
			win_set_state(w, l, LS_DELIVERED);
			if (w == ui->active)
				ui->dirty |= D_CHAT;
		}
		break;
	case EV_CONTACT:
		ui_line(ui, out, LINE_INFO, "contact %s  %s  %s  %s", nz(ev->name), nz(ev->status),
			nz(ev->path), nz(ev->id));
		break;
	case EV_WARNING:
		ui_line(ui, NULL, LINE_WARN, "%s: %s", who_of(ui, ev), nz(ev->text));
		if (ui_contact_by_id(ui, ev->id) != NULL && (w = ui_win_open(ui, ev->id)) != NULL)
			ui_line(ui, w, LINE_WARN, "%s", nz(ev->text));
		ui->contacts_stale = 1;
		break;
	case EV_RESTART:
		if ((w = ui_win_open(ui, ev->id)) != NULL)
			ui_line(ui, w, LINE_INFO, "%s's message history restarted (a new install or a lost "
				"log): what you sent before may not be there", who_of(ui, ev));
		break;
	case EV_ERROR:
		ui_line(ui, out, LINE_ERROR, "%s (%s)", nz(ev->text), nz(ev->word));
		break;
	case EV_INFO:
		ui_line(ui, out, LINE_INFO, "%s", nz(ev->text));
		break;
	case EV_TYPING:		/* the title and the pane show it, from the contact list */
		ui->contacts_stale = 1;
		ui->dirty |= D_PANE | D_TITLE;
		break;
	default:	/* newer events (EV_DURABLE...) need nothing on screen */
		break;
	}
}

