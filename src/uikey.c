/* uikey.c: reading the terminal with wget_wch and doing what each key means: editing, windows, scrolling, suspend. */
#include <poll.h>
#include <signal.h>
#include <string.h>

#include "edit.h"
#include "engine.h"
#include "uiint.h"

enum {
	READ_MAX = 8192,	/* events read in one pass; the rest waits for the next */
	SCROLL_FEW = 3,
	EMPTY_READS_EOF = 50,	/* readable but nothing to read this often: the terminal is gone */
};

/* ncurses' key codes to the decoder's. */
static unsigned
map_key(wint_t k)
{
	static const struct {
		int curses;
		unsigned code;
	} map[] = {
		{KEY_UP, KC_UP}, {KEY_DOWN, KC_DOWN}, {KEY_LEFT, KC_LEFT}, {KEY_RIGHT, KC_RIGHT},
		{KEY_HOME, KC_HOME}, {KEY_END, KC_END}, {KEY_PPAGE, KC_PGUP}, {KEY_NPAGE, KC_PGDN},
		{KEY_IC, KC_INSERT}, {KEY_DC, KC_DELETE}, {KEY_BACKSPACE, KC_BACKSPACE},
		{KEY_ENTER, KC_ENTER}, {KEY_BTAB, KC_BTAB}, {KEY_RESIZE, KC_RESIZE},
		{KEY_SLEFT, KC_LEFT | KC_SHIFT}, {KEY_SRIGHT, KC_RIGHT | KC_SHIFT},
		{KEY_SHOME, KC_HOME | KC_SHIFT}, {KEY_SEND, KC_END | KC_SHIFT},
		{KEY_SPREVIOUS, KC_PGUP | KC_SHIFT}, {KEY_SNEXT, KC_PGDN | KC_SHIFT},
		{KEY_SDC, KC_DELETE | KC_SHIFT}, {KEY_LL, KC_END}, {KEY_A1, KC_HOME},
		{KEY_C1, KC_END}, {KEY_A3, KC_PGUP}, {KEY_C3, KC_PGDN},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if ((wint_t)map[i].curses == k)
			return map[i].code;
	if (k >= (wint_t)KEY_F(1) && k <= (wint_t)KEY_F(24))
		return KC_F((unsigned)(k - KEY_F(0)));
	return keys_from_name(keyname((int)k));
}

static int
chat_height(const struct ui *ui)
{
	return ui->chat_h > 0 ? ui->chat_h : 1;
}

static void
scroll_up(struct ui *ui, int rows)
{
	struct win *w = ui->active;

	/* keep a few pages of older lines loaded above the view */
	if (!w->hist_done && (w->at_bottom ? w->n : w->anchor) < (size_t)(3 * chat_height(ui)))
		ui_page_older(ui, w, UI_HIST_PAGE);
	if (win_scroll(w, rows, chat_height(ui)) && ui_page_older(ui, w, UI_HIST_PAGE) > 0)
		win_scroll(w, rows, chat_height(ui));
	ui->dirty |= D_CHAT | D_TITLE;
}

static void
scroll_down(struct ui *ui, int rows)
{
	win_scroll(ui->active, -rows, chat_height(ui));
	ui->dirty |= D_CHAT | D_TITLE;
}

static void
switch_rel(struct ui *ui, int dir)
{
	int i;

	for (i = 0; i < ui->nwins && ui->wins[i] != ui->active; i++)
		;
	i = (i + dir + ui->nwins) % ui->nwins;
	ui_win_switch(ui, ui->wins[i]);
}

/* Alt+A: the next window with messages, else with any activity. */
static void
next_activity(struct ui *ui)
{
	int cur;

	for (cur = 0; cur < ui->nwins && ui->wins[cur] != ui->active; cur++)
		;
	for (int level = 2; level >= 1; level--)
		for (int k = 1; k <= ui->nwins; k++) {
			struct win *w = ui->wins[(cur + k) % ui->nwins];
			if (w->activity >= level && w != ui->active) {
				ui_win_switch(ui, w);
				return;
			}
		}
}

static void
suspend(struct ui *ui)
{
	struct sigaction dfl, old;
	sigset_t set, oldset;

	ui_term_leave(ui);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGTSTP, &dfl, &old);
	sigemptyset(&set);
	sigaddset(&set, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &set, &oldset);
	kill(0, SIGTSTP);	/* the whole job, as the tty does it; back here on fg */
	sigprocmask(SIG_SETMASK, &oldset, NULL);
	sigaction(SIGTSTP, &old, NULL);
	ui_term_enter(ui);
	ui_resize(ui);		/* the terminal may have changed size meanwhile */
}

static int
count_lines(const struct edit *e)
{
	int n = 1;

	for (size_t i = 0; i < e->len; i++)
		n += e->buf[i] == '\n';
	return n;
}

static void
enter(struct ui *ui)
{
	struct edit *e = ui->active->edit;

	if (ui->paste_lines && !ui->confirm && count_lines(e) > 1) {
		ui->confirm = count_lines(e);
		ui->dirty |= D_TITLE | D_INPUT;
		return;
	}
	ui->confirm = 0;
	ui->paste_lines = 0;
	ui_enter(ui);
}

static void
edit_action(struct ui *ui, enum key_action a)
{
	struct edit *e = ui->active->edit;

	switch (a) {
	case ACT_LEFT: edit_left(e); break;
	case ACT_RIGHT: edit_right(e); break;
	case ACT_WORD_LEFT: edit_word_left(e); break;
	case ACT_WORD_RIGHT: edit_word_right(e); break;
	case ACT_HOME: edit_home(e); break;
	case ACT_END: edit_end(e); break;
	case ACT_BACKSPACE: edit_backspace(e); break;
	case ACT_DELETE: edit_delete(e); break;
	case ACT_KILL_WORD_BACK: edit_kill_word_back(e); break;
	case ACT_KILL_WORD_FWD: edit_kill_word_fwd(e); break;
	case ACT_KILL_END: edit_kill_end(e); break;
	case ACT_KILL_START: edit_kill_start(e); break;
	case ACT_YANK: edit_yank(e); break;
	case ACT_TRANSPOSE: edit_transpose(e); break;
	case ACT_HIST_UP: edit_hist_up(e); break;
	case ACT_HIST_DOWN: edit_hist_down(e); break;
	case ACT_NEWLINE: edit_insert(e, '\n'); break;
	default: break;
	}
	if (e->len == 0)
		ui->paste_lines = 0;
}

static void
action(struct ui *ui, enum key_action a)
{
	struct win *w = ui->active;
	struct edit *e = w->edit;

	if (a != ACT_COMPLETE && a != ACT_COMPLETE_PREV)
		ui_complete_reset(ui);
	if (ui->confirm && a != ACT_ENTER)	/* any other key goes back to editing */
		ui->confirm = 0;
	if (e->searching) {
		switch (a) {
		case ACT_HIST_SEARCH:
			edit_search_next(e);
			ui->dirty |= D_INPUT;
			return;
		case ACT_BACKSPACE:
			edit_search_backspace(e);
			ui->dirty |= D_INPUT;
			return;
		case ACT_CANCEL:
		case ACT_CLEAR_INPUT:
			edit_search_cancel(e);
			ui->dirty |= D_INPUT;
			return;
		default:
			edit_search_accept(e);	/* and the key does what it does */
			break;
		}
	}
	ui->dirty |= D_INPUT | D_TITLE;
	if (a >= ACT_WIN_1 && a <= ACT_WIN_10) {
		ui_win_switch(ui, ui_win_by_num(ui, (int)(a - ACT_WIN_1) + 1));
		return;
	}
	switch (a) {
	case ACT_NEXT_WIN: switch_rel(ui, 1); break;
	case ACT_PREV_WIN: switch_rel(ui, -1); break;
	case ACT_ACTIVITY: next_activity(ui); break;
	case ACT_PGUP: scroll_up(ui, chat_height(ui) - 1 > 0 ? chat_height(ui) - 1 : 1); break;
	case ACT_PGDN: scroll_down(ui, chat_height(ui) - 1 > 0 ? chat_height(ui) - 1 : 1); break;
	case ACT_SCROLL_UP_FEW: scroll_up(ui, SCROLL_FEW); break;
	case ACT_SCROLL_DOWN_FEW: scroll_down(ui, SCROLL_FEW); break;
	case ACT_TOP:
		win_top(w, chat_height(ui));
		ui->dirty |= D_CHAT;
		break;
	case ACT_BOTTOM:
		win_bottom(w);
		ui->dirty |= D_CHAT;
		break;
	case ACT_FIRST_UNREAD:
		if (w->marker < w->n) {
			win_show(w, w->marker, chat_height(ui));
			ui->dirty |= D_CHAT;
		}
		break;
	case ACT_COMPLETE: ui_complete(ui, 1); break;
	case ACT_COMPLETE_PREV: ui_complete(ui, -1); break;
	case ACT_HIST_SEARCH: edit_search_start(e); break;
	case ACT_ENTER: enter(ui); break;
	case ACT_REDRAW: ui->dirty |= D_ALL | D_CLEAR; break;
	case ACT_BARE:
		ui->bare = 1;
		ui->dirty |= D_ALL | D_LAYOUT | D_CLEAR;
		break;
	case ACT_TOGGLE_PANE:
		ui->set.pane = !ui->set.pane;
		ui->dirty |= D_ALL | D_LAYOUT;
		break;
	case ACT_CLEAR_INPUT:
		edit_clear(e);
		ui->paste_lines = 0;
		break;
	case ACT_SUSPEND: suspend(ui); break;
	case ACT_RESIZE: ui_resize(ui); break;
	case ACT_CANCEL: break;
	default: edit_action(ui, a); break;
	}
}

static void
key(struct ui *ui, const struct key *k)
{
	struct edit *e = ui->active->edit;

	if (ui->bare && (k->kind == KEY_CHAR || k->kind == KEY_ACTION)) {
		ui->bare = 0;	/* any key leaves bare mode, and does nothing else */
		ui->dirty |= D_ALL | D_LAYOUT | D_CLEAR;
		if (k->kind != KEY_ACTION || k->action != ACT_RESIZE)
			return;
	}
	switch (k->kind) {
	case KEY_FOCUS_IN:
		ui->focused = 1;
		ui->active->unread = 0;
		ui->active->activity = 0;
		ui->dirty |= D_STATUS | D_PANE;
		break;
	case KEY_FOCUS_OUT:
		ui->focused = 0;
		win_mark_read(ui->active);
		ui->dirty |= D_CHAT;
		break;
	case KEY_PASTE_START:
		ui->in_paste = 1;
		ui_complete_reset(ui);
		if (e->searching)
			edit_search_accept(e);
		break;
	case KEY_PASTE_END:
		ui->in_paste = 0;
		break;
	case KEY_CHAR:
		ui_complete_reset(ui);
		ui->confirm = 0;
		if (e->searching && !ui->in_paste) {
			edit_search_input(e, k->ch);
		} else {
			if (e->searching)
				edit_search_accept(e);
			edit_insert(e, k->ch);
			if (ui->in_paste && k->ch == '\n')
				ui->paste_lines = 1;
		}
		ui->dirty |= D_INPUT | D_TITLE;
		break;
	case KEY_ACTION:
		action(ui, k->action);
		break;
	default:
		break;
	}
}

/* ---- typing notices ---- */

static uint32_t
input_hash(const struct edit *e)
{
	uint32_t h = 2166136261u;	/* FNV-1a over the characters */

	for (size_t i = 0; i < e->len; i++)
		h = (h ^ (uint32_t)e->buf[i]) * 16777619u;
	return h ^ (uint32_t)e->len;
}

static void
tell(struct ui *ui, struct win *w, int state)
{
	w->typing = state;
	if (ui->eng != NULL)
		engine_typing(ui->eng, w->id, state);
}

/* After the keys of one read: a conversation's input that holds text for the contact (not a
 * command) and changed is "typing"; one that was emptied (sent, cleared) or became a command
 * is "stopped". The engine times "paused" and the refreshes. */
static void
typing_update(struct ui *ui)
{
	struct win *w = ui->active;
	const struct edit *e = w->edit;
	uint32_t h;
	int text;

	if (w->id[0] == 0 || !ui->set.typing_send)
		return;
	text = e->len > 0 && (e->buf[0] != '/' || (e->len > 1 && e->buf[1] == '/'));
	if (!text) {
		if (w->typing != TYPING_STOPPED)
			tell(ui, w, TYPING_STOPPED);
		w->typing_hash = input_hash(e);
		return;
	}
	h = input_hash(e);
	if (h != w->typing_hash || w->typing == TYPING_STOPPED)
		tell(ui, w, TYPING_ACTIVE);
	w->typing_hash = h;
}

/* /set typing.send off: whoever was told we type hears that we stopped. */
void
ui_typing_stop_all(struct ui *ui)
{
	for (int i = 1; i < ui->nwins; i++)
		if (ui->wins[i]->typing != TYPING_STOPPED)
			tell(ui, ui->wins[i], TYPING_STOPPED);
}

void
ui_key_input(struct loop *l, int fd, short revents, void *arg)
{
	struct ui *ui = arg;
	struct key k;
	wint_t wc;
	int r, got = 0;

	if (!ui->started || ui->w_read == NULL)
		return;
	if ((revents & (POLLHUP | POLLERR | POLLNVAL)) && !(revents & POLLIN)) {
		loop_del(l, fd);
		ui->done = 1;
		return;
	}
	for (int i = 0; i < READ_MAX && !ui->done; i++) {
		r = wget_wch(ui->w_read, &wc);
		if (r == ERR)
			break;
		got = 1;
		if (r == KEY_CODE_YES) {
			unsigned code = map_key(wc);
			if (code == KC_NONE || !keys_feed(&ui->kd, 1, code, &k))
				continue;
		} else if (!keys_feed(&ui->kd, 0, (unsigned)wc, &k)) {
			continue;
		}
		key(ui, &k);
	}
	if (keys_timeout(&ui->kd, &k))
		key(ui, &k);
	if (got)
		typing_update(ui);
	/* poll keeps saying readable while read(2) gives 0: the terminal is gone */
	ui->empty_reads = got ? 0 : ui->empty_reads + 1;
	if (ui->empty_reads >= EMPTY_READS_EOF) {
		loop_del(l, fd);
		ui->done = 1;
	}
}
