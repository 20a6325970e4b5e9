/* uiint.h: the curses UI's shared state, for ui.c, uidraw.c and uicmd.c only. */
#ifndef TINCAN_UIINT_H
#define TINCAN_UIINT_H

#include <curses.h>
#include <stdint.h>
#include <termios.h>
#include <wchar.h>

#include "cconf.h"
#include "keys.h"
#include "ui.h"
#include "window.h"

enum {
	D_STATUS = 1,
	D_CHAT = 2,
	D_PANE = 4,
	D_TITLE = 8,
	D_INPUT = 16,
	D_ALL = 31,
	D_LAYOUT = 32,	/* windows must be made again (resize, F7, Alt+L) */
	D_CLEAR = 64,	/* repaint the whole terminal (Ctrl+L, resume) */
};

enum {
	UI_CONTACTS_MAX = 1024,
	UI_STATUS_MAX = 16,
	UI_TEXT_MAX = 256,
	UI_HIST_OPEN = 20,	/* lines a window opens with */
	UI_HIST_PAGE = 200,	/* lines paged in when scrolling past the top */
	UI_MIN_COLS = 30,
	UI_MIN_ROWS = 8,
	UI_PANE_MIN_COLS = 60,	/* narrower terminals hide the buddy pane */
	UI_PANE_DEFAULT = 20,
	UI_COMP_MAX = 64,
	UI_NOTIFY_TEXT = 64,	/* bytes of a message shown in the terminal title */
};

enum {
	PAIR_GREEN = 1,
	PAIR_YELLOW,
	PAIR_RED,
	PAIR_CYAN,
	PAIR_MAGENTA,
	PAIR_BLUE,
};

struct ui_contact {
	char id[WIN_ID_MAX];
	char name8[WIN_NAME_MAX * 4 + 1];	/* as the engine knows it, for commands */
	wchar_t name[WIN_NAME_MAX + 1];		/* sanitised, for the screen */
	char status[UI_STATUS_MAX];
	char path[UI_STATUS_MAX];
	wchar_t status_text[UI_TEXT_MAX];
	int online, verified, key_changed;
	int typing;		/* TYPING_*: their last notice */
};

struct ui {
	struct loop *loop;
	struct engine *eng;
	SCREEN *scr;
	FILE *in, *out;
	int in_fd, out_fd;
	int started;		/* curses is running (not between endwin and resume) */
	struct termios saved_tio;
	int have_tio;

	/* layout */
	WINDOW *w_status, *w_chat, *w_pane, *w_title, *w_input, *w_small;
	WINDOW *w_read;		/* where wget_wch reads */
	int rows, cols, chat_h, chat_w, pane_w;
	int too_small, bare, colors;
	unsigned dirty;

	/* windows, sorted by number; wins[0] is the status window */
	struct win **wins;
	int nwins, capwins;
	struct win *active;

	/* input */
	struct key_decoder kd;
	int focused;
	int in_paste;		/* between the paste markers */
	int paste_lines;	/* a paste put a line break into the input line */
	int confirm;		/* "send N lines? Enter/Esc" is showing */
	int empty_reads;	/* readable terminal that gave nothing: end of input */
	int comp_active, comp_idx;
	size_t comp_start, comp_len;
	wchar_t comp_word[UI_COMP_MAX + 1];

	/* what the engine told us */
	struct ui_contact *contacts;
	struct contact_view *cview;
	int ncontacts, contacts_stale;
	char my_status[UI_STATUS_MAX];
	struct win *cmd_win;	/* command output goes here while a command runs */
	char sent_id[WIN_ID_MAX];	/* the last /msg, until its EV_SENT shows it */
	char *sent_text;

	struct cconf set;	/* tincan.conf's settings, changed by /set */
	int have_colors;	/* the terminal's colours were started (colors on, no NO_COLOR) */
	struct timer clock;
	int log_rd, log_wr;
	char log_buf[1024];
	size_t log_len;
	int beep;		/* ring the bell after the next draw */
	int title_unread;	/* last "tincan [N]" written, -1 none */
	char title_last[256];	/* the title written last */
	char notify_from[96];	/* sender of the newest unread message, made safe */
	char notify_msg[UI_NOTIFY_TEXT];	/* its text, made safe (notify.text) */
	int done;

	/* scratch for drawing */
	wchar_t *scratch;
	size_t scratch_cap;
	struct wrap_line *wl;
	int wl_cap;
};

/* ui.c */
void ui_line(struct ui *ui, struct win *w, int kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
struct win *ui_win_by_id(struct ui *ui, const char *id);
struct win *ui_win_by_num(struct ui *ui, int num);
struct win *ui_win_open(struct ui *ui, const char *id);
void ui_win_switch(struct ui *ui, struct win *w);
void ui_win_close(struct ui *ui, struct win *w);
void ui_contacts_refresh(struct ui *ui);
const struct ui_contact *ui_contact_by_id(struct ui *ui, const char *id);
const struct ui_contact *ui_contact_find(struct ui *ui, const char *who);
int ui_page_older(struct ui *ui, struct win *w, int count);
void ui_settings_apply(struct ui *ui);
wchar_t *ui_scratch(struct ui *ui, size_t n);
void ui_term_leave(struct ui *ui);
void ui_term_enter(struct ui *ui);
void ui_resize(struct ui *ui);

/* uikey.c */
void ui_key_input(struct loop *l, int fd, short revents, void *arg);
void ui_typing_stop_all(struct ui *ui);

/* uidraw.c */
void ui_layout(struct ui *ui);
void ui_layout_free(struct ui *ui);
void ui_draw(struct ui *ui);
void ui_set_fmt(struct ui *ui, struct win *w);
char ui_presence_letter(const struct ui_contact *c);

/* uicmd.c */
void ui_enter(struct ui *ui);
void ui_run(struct ui *ui, const char *line);
void ui_complete(struct ui *ui, int dir);
void ui_complete_reset(struct ui *ui);

#endif
