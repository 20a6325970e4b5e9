/* uidraw.c: the screen: layout by size, status bar, conversation, buddy pane, title bar, input line. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edit.h"
#include "engine.h"
#include "text.h"
#include "uiint.h"
#include "util.h"

/* ---- drawing characters by cells ---- */

static attr_t
pair(const struct ui *ui, short p)
{
	return ui->colors ? COLOR_PAIR(p) : 0;
}

/* Draw s[0..n) from column x on row y, never past column maxx; returns the next column.
 * Columns come from text_width, so a wide character is never cut and the cursor position
 * is ours, not the terminal's guess. */
static int
put_cells(WINDOW *win, int y, int x, const wchar_t *s, size_t n, int maxx, attr_t attr)
{
	wchar_t one[2] = {0, 0};

	wattrset(win, attr);
	for (size_t i = 0; i < n; i++) {
		wchar_t c = s[i];
		int w = text_width(c);
		if (w == 0) {
			/* a combining mark joins the cell before it; other zero-width ones are dropped */
			if (wcwidth(c) == 0 && x > 0) {
				one[0] = c;
				waddnwstr(win, one, 1);
			}
			continue;
		}
		if (x + w > maxx)
			break;
		if (c == '\n') {
			one[0] = L'|';
			wattron(win, A_REVERSE);
		} else if (wcwidth(c) < 0 || (w == 2 && wcwidth(c) != 2)) {
			one[0] = w == 2 ? c : 0xFFFD;
		} else {
			one[0] = c;
		}
		mvwaddnwstr(win, y, x, one, 1);
		wattrset(win, attr);
		x += w;
	}
	wattrset(win, A_NORMAL);
	return x;
}

static int
put_str(WINDOW *win, int y, int x, const char *s, int maxx, attr_t attr)
{
	wchar_t buf[512];
	size_t n = text_sanitize(s, strlen(s), buf, ARRAY_LEN(buf), 0);

	return put_cells(win, y, x, buf, n, maxx, attr);
}

/* ---- layout ---- */

void
ui_layout_free(struct ui *ui)
{
	WINDOW **all[] = {&ui->w_status, &ui->w_chat, &ui->w_pane, &ui->w_title, &ui->w_input,
			  &ui->w_small};

	for (size_t i = 0; i < ARRAY_LEN(all); i++)
		if (*all[i] != NULL) {
			delwin(*all[i]);
			*all[i] = NULL;
		}
	ui->w_read = NULL;
}

static WINDOW *
reader(WINDOW *w)
{
	keypad(w, TRUE);
	nodelay(w, TRUE);
	return w;
}

void
ui_layout(struct ui *ui)
{
	int rows, cols;

	ui_layout_free(ui);
	getmaxyx(stdscr, rows, cols);
	ui->rows = rows;
	ui->cols = cols;
	ui->too_small = rows < UI_MIN_ROWS || cols < UI_MIN_COLS;
	ui->pane_w = 0;
	if (ui->too_small) {
		ui->chat_h = 0;
		ui->w_small = newwin(rows > 0 ? rows : 1, cols > 0 ? cols : 1, 0, 0);
		ui->w_read = reader(ui->w_small);
		return;
	}
	if (ui->bare) {		/* the conversation alone, for copying with the mouse */
		ui->chat_h = rows;
		ui->chat_w = cols;
		ui->w_chat = newwin(rows, cols, 0, 0);
		ui->w_read = reader(ui->w_chat);
		return;
	}
	if (ui->set.pane && cols >= UI_PANE_MIN_COLS) {
		ui->pane_w = ui->set.pane_width;
		if (ui->pane_w > cols / 3)
			ui->pane_w = cols / 3;
	}
	ui->chat_h = rows - 3;
	ui->chat_w = cols - ui->pane_w;
	ui->w_status = newwin(1, cols, 0, 0);
	ui->w_chat = newwin(ui->chat_h, ui->chat_w, 1, 0);
	if (ui->pane_w > 0)
		ui->w_pane = newwin(ui->chat_h, ui->pane_w, 1, ui->chat_w);
	ui->w_title = newwin(1, cols, rows - 2, 0);
	ui->w_input = newwin(1, cols, rows - 1, 0);
	wbkgdset(ui->w_status, ' ' | A_REVERSE);
	wbkgdset(ui->w_title, ' ' | A_REVERSE);
	ui->w_read = reader(ui->w_input);
}

/* What turns the lines of w into rows now. */
void
ui_set_fmt(struct ui *ui, struct win *w)
{
	struct win_fmt f;
	const struct ui_contact *c = NULL;
	const char *nick = ui->eng != NULL ? engine_nick(ui->eng) : NULL;

	memset(&f, 0, sizeof(f));
	f.width = ui->chat_w > 0 ? ui->chat_w : 80;
	f.bare = ui->bare;
	f.timestamps = ui->set.timestamps;
	str_copy(f.ts_format, ui->set.ts_format, sizeof(f.ts_format));
	if (w->id[0] != 0) {
		for (int i = 0; i < ui->ncontacts; i++)
			if (strcmp(ui->contacts[i].id, w->id) == 0)
				c = &ui->contacts[i];
		f.peer_offline = c == NULL || !c->online;
	}
	text_sanitize(nick != NULL && nick[0] ? nick : "me", nick != NULL ? strlen(nick) : 2, f.me,
		      ARRAY_LEN(f.me), 0);
	if (win_set_fmt(w, &f) && w == ui->active)
		ui->dirty |= D_CHAT;
}

/* ---- the parts ---- */

char
ui_presence_letter(const struct ui_contact *c)
{
	if (!c->online)
		return strcmp(c->status, "offline") == 0 || strcmp(c->status, "invisible") == 0 ||
		       c->status[0] == 0 ? '-' : '?';
	if (strcmp(c->status, "away") == 0)
		return 'a';
	if (strcmp(c->status, "busy") == 0)
		return 'b';
	return 'o';	/* online, or online before its status word came */
}

static attr_t
letter_attr(const struct ui *ui, char p)
{
	switch (p) {
	case 'o': return pair(ui, PAIR_GREEN) | A_BOLD;
	case 'a': return pair(ui, PAIR_YELLOW) | A_BOLD;
	case 'b': return pair(ui, PAIR_RED) | A_BOLD;
	case '?': return pair(ui, PAIR_MAGENTA) | A_BOLD;
	default: return A_DIM;
	}
}

static void
draw_status(struct ui *ui)
{
	WINDOW *s = ui->w_status;
	char buf[256];
	time_t now = time(NULL);
	struct tm tm;
	int x, first = 1;
	const char *nick = ui->eng != NULL ? engine_nick(ui->eng) : NULL;

	werase(s);
	localtime_r(&now, &tm);
	strftime(buf, sizeof(buf), "[%H:%M] tincan  ", &tm);
	x = put_str(s, 0, 0, buf, ui->cols, A_REVERSE);
	snprintf(buf, sizeof(buf), "%s: %s", nick != NULL && nick[0] ? nick : "me", ui->my_status);
	x = put_str(s, 0, x, buf, ui->cols, A_REVERSE | A_BOLD);
	for (int i = 0; i < ui->nwins; i++) {
		struct win *w = ui->wins[i];
		if (w->activity == 0 || w == ui->active)
			continue;
		x = put_str(s, 0, x, first ? "  |  Act: " : " ", ui->cols, A_REVERSE);
		first = 0;
		if (w->unread > 0)
			snprintf(buf, sizeof(buf), "%d(%d)", w->num, w->unread);
		else
			snprintf(buf, sizeof(buf), "%d", w->num);
		x = put_str(s, 0, x, buf, ui->cols, A_REVERSE | (w->activity > 1 ? A_BOLD : 0));
	}
	wnoutrefresh(s);
}

static void
draw_title(struct ui *ui)
{
	WINDOW *t = ui->w_title;
	struct win *w = ui->active;
	const struct ui_contact *c = NULL;
	char buf[WIN_NAME_MAX * 8 + 128];
	int x;

	werase(t);
	snprintf(buf, sizeof(buf), "[%d:", w->num);
	x = put_str(t, 0, 0, buf, ui->cols, A_REVERSE | A_BOLD);
	x = put_cells(t, 0, x, w->name, wcslen(w->name), ui->cols, A_REVERSE | A_BOLD);
	x = put_str(t, 0, x, "] ", ui->cols, A_REVERSE | A_BOLD);
	if (ui->confirm) {
		snprintf(buf, sizeof(buf), "send %d lines? Enter/Esc", ui->confirm);
		put_str(t, 0, x, buf, ui->cols, A_REVERSE | A_BOLD | pair(ui, PAIR_RED));
		wnoutrefresh(t);
		return;
	}
	for (int i = 0; w->id[0] && i < ui->ncontacts; i++)
		if (strcmp(ui->contacts[i].id, w->id) == 0)
			c = &ui->contacts[i];
	if (c != NULL) {
		if (c->key_changed) {
			snprintf(buf, sizeof(buf), "[KEY CHANGED] compare: /verify %s, then /verify "
				 "%s confirm ", c->name8, c->name8);
			x = put_str(t, 0, x, buf, ui->cols, A_REVERSE | A_BOLD | pair(ui, PAIR_RED));
		} else if (c->verified) {
			x = put_str(t, 0, x, "[verified] ", ui->cols, A_REVERSE);
		}
		if (c->typing != TYPING_STOPPED && ui->set.typing_show) {
			x = put_cells(t, 0, x, c->name, wcslen(c->name), ui->cols, A_REVERSE | A_BOLD);
			x = put_str(t, 0, x, c->typing == TYPING_ACTIVE ? " is typing...  " :
				    " paused typing  ", ui->cols, A_REVERSE | A_BOLD);
		}
		char p = ui_presence_letter(c);
		snprintf(buf, sizeof(buf), "%c %s%s%s ", p, p == 'o' ? "online" : p == 'a' ? "away" :
			 p == 'b' ? "busy" : p == '-' ? "offline" : "waiting for an answer",
			 c->online && c->path[0] && strcmp(c->path, "-") ? " " : "",
			 c->online && strcmp(c->path, "-") ? c->path : "");
		x = put_str(t, 0, x, buf, ui->cols, A_REVERSE);
		x = put_cells(t, 0, x, c->status_text, wcslen(c->status_text), ui->cols, A_REVERSE);
	} else if (w->id[0] == 0) {
		snprintf(buf, sizeof(buf), "%s  /help for commands and keys",
			 ui->eng != NULL ? engine_id(ui->eng) : "starting");
		x = put_str(t, 0, x, buf, ui->cols, A_REVERSE);
	}
	if (!w->at_bottom && ui->cols - x > 12)
		put_str(t, 0, ui->cols - 12, " -- more -- ", ui->cols, A_REVERSE | A_BOLD);
	wnoutrefresh(t);
}

static void
draw_pane(struct ui *ui)
{
	WINDOW *p = ui->w_pane;
	int y = 0, w = ui->pane_w - 2, h = ui->chat_h;
	static const char *const groups[] = {"Online", "Offline", "Waiting"};

	werase(p);
	for (int r = 0; r < h; r++)
		mvwaddch(p, r, 0, '|' | A_DIM);
	for (int g = 0; g < 3; g++) {
		int header = 0;
		for (int i = 0; i < ui->ncontacts && y < h; i++) {
			wchar_t fit[WIN_NAME_MAX * 2 + 8];
			const wchar_t *name;
			char letter, num[16] = "";
			int x, room;
			struct win *cw = NULL;
			const struct ui_contact *c = &ui->contacts[i];
			letter = ui_presence_letter(c);
			/* online; offline; waiting for an answer (either way) */
			if (g != (letter == '?' ? 2 : letter == '-' ? 1 : 0))
				continue;
			name = c->name;
			cw = ui_win_by_id(ui, c->id);
			if (!header) {
				put_str(p, y++, 1, groups[g], ui->pane_w, A_BOLD);
				header = 1;
				if (y >= h)
					break;
			}
			if (c->key_changed)
				snprintf(num, sizeof(num), " !");	/* /verify it */
			else if (cw != NULL && cw->unread > 0)
				snprintf(num, sizeof(num), " [%d]", cw->unread);
			else if (c->typing == TYPING_ACTIVE && ui->set.typing_show)
				snprintf(num, sizeof(num), " ...");	/* typing */
			room = w - 2 - (int)strlen(num);
			mvwaddch(p, y, 2, (chtype)letter | letter_attr(ui, letter));
			if (room > 0) {
				wrap_fit(name, wcslen(name), room, fit, ARRAY_LEN(fit));
				x = put_cells(p, y, 4, fit, wcslen(fit), ui->pane_w,
					      cw == ui->active ? A_BOLD : A_NORMAL);
				put_str(p, y, x, num, ui->pane_w, A_BOLD);
			}
			y++;
		}
	}
	wnoutrefresh(p);
}

/* One row of line i: row r counts from the line's first row (date and marker rows first). */
static void
draw_row(struct ui *ui, struct win *w, size_t i, int r, int y, const wchar_t *buf,
	 const struct wcompose *c, int nw)
{
	WINDOW *cw = ui->w_chat;
	struct wline *l = win_line(w, i);
	int date, mark, extra = win_extra_rows(w, i, &date, &mark);
	attr_t text_attr = A_NORMAL;

	if (r < extra) {
		if (date && r == 0) {
			char s[64];
			time_t t = (time_t)(l->ts / 1000);
			struct tm tm;
			localtime_r(&t, &tm);
			strftime(s, sizeof(s), "---- %a %Y-%m-%d ----", &tm);
			put_str(cw, y, 0, s, ui->chat_w, A_DIM | pair(ui, PAIR_BLUE));
		} else {
			put_str(cw, y, 0, "---- unread ----", ui->chat_w,
				A_BOLD | pair(ui, PAIR_MAGENTA));
		}
		return;
	}
	r -= extra;
	if (r >= nw)
		return;
	if (l->kind == LINE_ERROR || l->kind == LINE_WARN)
		text_attr = pair(ui, PAIR_RED) | (l->kind == LINE_WARN ? A_BOLD : 0);
	else if (l->kind == LINE_PRESENCE || l->kind == LINE_INFO)
		text_attr = l->kind == LINE_PRESENCE ? A_DIM : A_NORMAL;
	struct wrap_line *wl = &ui->wl[r];
	size_t from = c->wrap_from + wl->start, to = from + wl->len;
	int x = c->indent;
	if (r == 0 && c->wrap_from > 0) {	/* the prefix, before the text column */
		int px = put_cells(cw, y, 0, buf, c->nick_at, ui->chat_w, A_DIM);
		attr_t na = l->kind == LINE_OUT ? pair(ui, PAIR_GREEN) | A_BOLD :
			    l->kind == LINE_IN ? pair(ui, PAIR_CYAN) | A_BOLD : text_attr;
		put_cells(cw, y, px, buf + c->nick_at, c->text_at - c->nick_at, ui->chat_w, na);
	}
	if (c->wrap_from == 0)
		x = 0;
	/* the parts of [from, to): prefix (bare mode), text, suffix */
	size_t cuts[4] = {from, from, to, to};
	attr_t attrs[3] = {A_DIM, text_attr, A_DIM | A_BOLD};
	cuts[1] = c->text_at > from ? (c->text_at < to ? c->text_at : to) : from;
	cuts[2] = c->suffix_at > cuts[1] ? (c->suffix_at < to ? c->suffix_at : to) : cuts[1];
	for (int k = 0; k < 3; k++)
		x = put_cells(cw, y, x, buf + cuts[k], cuts[k + 1] - cuts[k], ui->chat_w, attrs[k]);
}

static void
draw_chat(struct ui *ui)
{
	struct win *w = ui->active;
	int y = ui->chat_h - 1, skip;
	size_t i;

	werase(ui->w_chat);
	win_fix_view(w);
	if (w->n == 0) {
		wnoutrefresh(ui->w_chat);
		return;
	}
	i = w->at_bottom ? w->n - 1 : w->anchor;
	skip = w->at_bottom ? 0 : w->skip;
	for (;;) {
		struct wline *l = win_line(w, i);
		struct wcompose c;
		wchar_t *buf = ui_scratch(ui, l->len + WIN_PREFIX_MAX);
		int nw, total;
		win_compose(w, l, buf, l->len + WIN_PREFIX_MAX, &c);
		nw = win_wrap(buf, &c, NULL, 0);
		if (nw > ui->wl_cap) {
			struct wrap_line *p = realloc(ui->wl, (size_t)nw * sizeof(*p));
			if (p == NULL)
				abort();
			ui->wl = p;
			ui->wl_cap = nw;
		}
		win_wrap(buf, &c, ui->wl, nw);
		total = win_extra_rows(w, i, NULL, NULL) + nw;
		for (int r = total - 1 - skip; r >= 0 && y >= 0; r--, y--)
			draw_row(ui, w, i, r, y, buf, &c, nw);
		skip = 0;
		if (y < 0 || i == 0)
			break;
		i--;
	}
	wnoutrefresh(ui->w_chat);
}

static void
draw_input(struct ui *ui)
{
	WINDOW *in = ui->w_input;
	struct edit *e = ui->active->edit;
	struct edit_view v;
	char prompt[EDIT_QUERY * 4 + 32];
	int x, width;

	werase(in);
	if (e->searching) {
		char q[EDIT_QUERY * 4 + 1];
		text_to_utf8(e->query, e->query_len, q, sizeof(q));
		snprintf(prompt, sizeof(prompt), "(search '%s') ", q);
	} else {
		snprintf(prompt, sizeof(prompt), "> ");
	}
	x = put_str(in, 0, 0, prompt, ui->cols / 2, A_BOLD);
	width = ui->cols - x - 1;	/* never the bottom-right cell */
	edit_view(e, width, &v);
	if (v.left_marker)
		mvwaddch(in, 0, x, '<' | A_BOLD);
	put_cells(in, 0, x + v.left_marker, e->buf + v.first, v.end - v.first,
		  x + width - v.right_marker, A_NORMAL);
	if (v.right_marker)
		mvwaddch(in, 0, x + width - 1, '>' | A_BOLD);
	wmove(in, 0, x + v.cursor_col);
	wnoutrefresh(in);	/* last: the terminal's cursor stays here, for input methods */
}

/* OSC 2: "tincan", or "tincan [N] alice" with N unread messages, and with notify.text the
 * newest one's text too. Every part was made safe for a terminal before it came here. */
static void
set_title(struct ui *ui)
{
	int unread = 0;
	char buf[sizeof(ui->title_last)], osc[sizeof(ui->title_last) + 16];
	int n;

	for (int i = 0; i < ui->nwins; i++)
		unread += ui->wins[i]->unread;
	if (!ui->set.title)
		return;
	if (unread == 0)
		snprintf(buf, sizeof(buf), "tincan");
	else if (ui->notify_from[0] == 0)
		snprintf(buf, sizeof(buf), "tincan [%d]", unread);
	else if (!ui->set.notify_text || ui->notify_msg[0] == 0)
		snprintf(buf, sizeof(buf), "tincan [%d] %s", unread, ui->notify_from);
	else
		snprintf(buf, sizeof(buf), "tincan [%d] %s: %s", unread, ui->notify_from,
			 ui->notify_msg);
	if (ui->title_unread >= 0 && strcmp(buf, ui->title_last) == 0)
		return;
	ui->title_unread = unread;
	str_copy(ui->title_last, buf, sizeof(ui->title_last));
	n = snprintf(osc, sizeof(osc), "\033]2;%s\007", ui->title_last);
	if (n > 0 && (size_t)n < sizeof(osc) && write(ui->out_fd, osc, (size_t)n) < 0)
		return;
}

void
ui_draw(struct ui *ui)
{
	unsigned d = ui->dirty;

	if (d == 0 && !ui->beep)
		return;
	ui->dirty = 0;
	if (ui->contacts_stale)
		ui_contacts_refresh(ui);
	if (d & D_LAYOUT)
		ui_layout(ui);
	if (d & D_CLEAR)
		clearok(curscr, TRUE);
	if (ui->too_small) {
		werase(ui->w_small);
		mvwaddstr(ui->w_small, 0, 0, "terminal too small");
		wnoutrefresh(ui->w_small);
		doupdate();
		return;
	}
	for (int i = 0; i < ui->nwins; i++)	/* a window's rows are redone only when it is drawn */
		if (ui->wins[i] == ui->active)
			ui_set_fmt(ui, ui->wins[i]);
	d |= ui->dirty;
	ui->dirty = 0;
	if (ui->bare) {
		draw_chat(ui);
		doupdate();
		return;
	}
	if (d & D_STATUS)
		draw_status(ui);
	if (d & D_CHAT)
		draw_chat(ui);
	if (ui->w_pane != NULL && (d & D_PANE))
		draw_pane(ui);
	if (d & D_TITLE)
		draw_title(ui);
	draw_input(ui);
	doupdate();
	if (ui->beep) {
		beep();
		ui->beep = 0;
	}
	set_title(ui);
}
