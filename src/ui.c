/* ui.c: the curses UI's life: terminal setup and restore, engine events, windows, contacts, history. */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "edit.h"
#include "log.h"
#include "text.h"
#include "uiint.h"
#include "util.h"

/* The terminal modes we turn on, and off again on every way out: bracketed paste, focus
 * events, and the title saved on the terminal's title stack (we set "tincan [N]"). */
static const char modes_on[] = "\033[?2004h\033[?1004h\033[22;0t";
static const char modes_off[] = "\033[?2004l\033[?1004l\033[23;0t";

/* For atexit and fatal signals: one UI per process. */
static struct ui *live_ui;
static int atexit_done;
static char restore_seq[256];
static size_t restore_len;
static int fatal_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
static struct sigaction fatal_old[ARRAY_LEN(fatal_sigs)];

static void
write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Async-signal-safe: the bytes were prepared while curses ran. */
static void
fatal_handler(int sig)
{
	if (live_ui != NULL) {
		write_all(live_ui->out_fd, restore_seq, restore_len);
		if (live_ui->have_tio)
			tcsetattr(live_ui->in_fd, TCSANOW, &live_ui->saved_tio);
	}
	for (size_t i = 0; i < ARRAY_LEN(fatal_sigs); i++)
		if (fatal_sigs[i] == sig)
			sigaction(sig, &fatal_old[i], NULL);
	/* returning re-runs the fault (or abort() raises again) under the old handler */
}

static void
add_restore(const char *s)
{
	size_t n = s != NULL && s != (char *)-1 ? strlen(s) : 0;

	if (n > 0 && restore_len + n < sizeof(restore_seq)) {
		memcpy(restore_seq + restore_len, s, n);
		restore_len += n;
	}
}

/* Leave curses: used by ui_free, suspend, atexit. */
void
ui_term_leave(struct ui *ui)
{
	if (!ui->started)
		return;
	endwin();
	write_all(ui->out_fd, modes_off, sizeof(modes_off) - 1);
	ui->started = 0;
}

void
ui_term_enter(struct ui *ui)
{
	write_all(ui->out_fd, modes_on, sizeof(modes_on) - 1);
	ui->started = 1;
	ui->title_unread = -1;	/* set the title again */
	ui->dirty |= D_ALL | D_LAYOUT | D_CLEAR;
}

/* Log lines go to stderr again; what is still in the pipe follows (a fatalx message too). */
static void
log_give_back(struct ui *ui, int in_loop)
{
	char buf[4096];
	ssize_t n;

	if (ui->log_rd < 0)
		return;
	log_set_file(STDERR_FILENO);
	if (in_loop)
		loop_del(ui->loop, ui->log_rd);
	close(ui->log_wr);
	write_all(STDERR_FILENO, ui->log_buf, ui->log_len);
	while ((n = read(ui->log_rd, buf, sizeof(buf))) > 0)
		write_all(STDERR_FILENO, buf, (size_t)n);
	close(ui->log_rd);
	ui->log_rd = ui->log_wr = -1;
	ui->log_len = 0;
}

/* exit() without ui_free (fatalx, errx): give the terminal back, then say why. */
static void
at_exit(void)
{
	if (live_ui != NULL) {
		ui_term_leave(live_ui);
		log_give_back(live_ui, 0);
	}
}

wchar_t *
ui_scratch(struct ui *ui, size_t n)
{
	if (n > ui->scratch_cap) {
		wchar_t *p = realloc(ui->scratch, n * sizeof(*p));
		if (p == NULL)
			abort();
		ui->scratch = p;
		ui->scratch_cap = n;
	}
	return ui->scratch;
}

/* ---- windows ---- */

struct win *
ui_win_by_num(struct ui *ui, int num)
{
	for (int i = 0; i < ui->nwins; i++)
		if (ui->wins[i]->num == num)
			return ui->wins[i];
	return NULL;
}

struct win *
ui_win_by_id(struct ui *ui, const char *id)
{
	if (id == NULL || id[0] == 0)
		return NULL;
	for (int i = 1; i < ui->nwins; i++)
		if (strcmp(ui->wins[i]->id, id) == 0)
			return ui->wins[i];
	return NULL;
}

static struct win *
win_insert(struct ui *ui, int num, const char *id, const wchar_t *name)
{
	struct win *w = win_new(num, id, name);
	int at;

	if (ui->nwins == ui->capwins) {
		int cap = ui->capwins ? ui->capwins * 2 : 16;
		struct win **p = realloc(ui->wins, (size_t)cap * sizeof(*p));
		if (p == NULL)
			abort();
		ui->wins = p;
		ui->capwins = cap;
	}
	for (at = ui->nwins; at > 0 && ui->wins[at - 1]->num > num; at--)
		ui->wins[at] = ui->wins[at - 1];
	ui->wins[at] = w;
	ui->nwins++;
	ui_set_fmt(ui, w);
	return w;
}

static void
hist_skip_cb(void *arg, int outgoing, uint64_t msgid, uint64_t ts, const char *text, size_t len,
	     int delivered)
{
}

struct hist_collect {
	struct win_old *v;
	size_t n, cap;
};

static void
hist_cb(void *arg, int outgoing, uint64_t msgid, uint64_t ts, const char *text, size_t len,
	int delivered)
{
	struct hist_collect *c = arg;
	size_t cap = (len < WIN_LINE_MAX / 2 ? 2 * len : WIN_LINE_MAX) + 1;	/* "^[" */
	wchar_t *s;

	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 32;
		struct win_old *p = realloc(c->v, nc * sizeof(*p));
		if (p == NULL)
			abort();
		c->v = p;
		c->cap = nc;
	}
	if ((s = malloc(cap * sizeof(*s))) == NULL)
		abort();
	c->v[c->n].len = text_sanitize(text, len, s, cap, TEXT_KEEP_NL);
	c->v[c->n].text = s;
	c->v[c->n].outgoing = outgoing;
	c->v[c->n].delivered = delivered;
	c->v[c->n].msgid = msgid;
	c->v[c->n].ts = ts;
	c->n++;
}

int
ui_page_older(struct ui *ui, struct win *w, int count)
{
	struct hist_collect c = {0};
	int r;

	if (ui->eng == NULL || w->id[0] == 0 || w->hist_done)
		return 0;
	if (w->hist_lost) {	/* memory was trimmed: find our place from the end again */
		size_t skip = w->from_log;
		w->hist_cursor = UINT64_MAX;
		while (skip > 0) {
			int got = engine_history(ui->eng, w->id, &w->hist_cursor,
						 skip > 1000 ? 1000 : (int)skip, hist_skip_cb, NULL);
			if (got <= 0)
				break;
			skip -= (size_t)got < skip ? (size_t)got : skip;
		}
		w->hist_lost = 0;
	}
	r = engine_history(ui->eng, w->id, &w->hist_cursor, count, hist_cb, &c);
	if (r <= 0)
		w->hist_done = 1;
	win_prepend(w, c.v, c.n);
	free(c.v);
	if (c.n > 0 && w == ui->active)
		ui->dirty |= D_CHAT;
	return (int)c.n;
}

/* The window of a contact, opened (with its recent history) if there is none. */
struct win *
ui_win_open(struct ui *ui, const char *id)
{
	const struct ui_contact *c;
	struct win *w = ui_win_by_id(ui, id);
	int num = 2;

	if (w != NULL || id == NULL || id[0] == 0)
		return w;
	for (int i = 1; i < ui->nwins && ui->wins[i]->num == num; i++)
		num++;
	c = ui_contact_by_id(ui, id);
	if (c != NULL) {
		w = win_insert(ui, num, id, c->name);
	} else {
		wchar_t name[WIN_NAME_MAX + 1];
		size_t k;
		for (k = 0; k < 12 && id[k] != 0; k++)
			name[k] = (wchar_t)(unsigned char)id[k];
		name[k] = 0;
		w = win_insert(ui, num, id, name);
	}
	ui_page_older(ui, w, UI_HIST_OPEN);
	ui->dirty |= D_STATUS | D_PANE;
	return w;
}

void
ui_win_switch(struct ui *ui, struct win *w)
{
	if (w == NULL || w == ui->active)
		return;
	if (ui->active != NULL)
		win_mark_read(ui->active);
	ui_complete_reset(ui);
	ui->active = w;
	ui->confirm = 0;
	w->unread = 0;
	w->activity = 0;
	ui_set_fmt(ui, w);
	ui->dirty |= D_ALL;
}

void
ui_win_close(struct ui *ui, struct win *w)
{
	int i;

	if (w == NULL || w == ui->wins[0])
		return;
	for (i = 1; i < ui->nwins && ui->wins[i] != w; i++)
		;
	if (i == ui->nwins)
		return;
	if (ui->active == w)
		ui_win_switch(ui, ui->wins[i - 1]);
	if (ui->cmd_win == w)
		ui->cmd_win = NULL;
	if (w->typing != TYPING_STOPPED && ui->eng != NULL)
		engine_typing(ui->eng, w->id, TYPING_STOPPED);
	memmove(&ui->wins[i], &ui->wins[i + 1], (size_t)(ui->nwins - i - 1) * sizeof(*ui->wins));
	ui->nwins--;
	win_free(w);
	ui->dirty |= D_ALL;
}

/* A line made by the UI itself or from an engine event that is not a message. */
void
ui_line(struct ui *ui, struct win *w, int kind, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	if (w == NULL)
		w = ui->wins[0];
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	size_t at = win_add(w, kind, wall_ms(), 0, buf, (size_t)n, LS_NONE);
	if (w == ui->active && ui->focused) {
		if (w->marker == at)
			w->marker = at + 1;
		ui->dirty |= D_CHAT;
	} else if (w->activity < 1) {
		w->activity = kind == LINE_ERROR || kind == LINE_WARN ? 2 : 1;
		ui->dirty |= D_STATUS;
	}
	win_trim(w);
}

/* ---- the terminal ---- */

void
ui_resize(struct ui *ui)
{
	struct winsize ws;

	/* resize_term, not resizeterm: the latter pushes KEY_RESIZE into ncurses' queue, and
	 * ncurses mishandles that key when typed characters follow it (it drops the last one
	 * and hands out KEY_RESIZE again, forever) */
	if (ioctl(ui->out_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0 &&
	    is_term_resized(ws.ws_row, ws.ws_col))
		resize_term(ws.ws_row, ws.ws_col);
	ui->dirty |= D_ALL | D_LAYOUT | D_CLEAR;
}

static void
on_winch(struct loop *l, void *arg)
{
	ui_resize(arg);
}

static void
on_term(struct loop *l, void *arg)
{
	struct ui *ui = arg;

	ui->done = 1;
}

static void
on_pass(struct loop *l, void *arg)
{
	struct ui *ui = arg;

	if (ui->started)
		ui_draw(ui);
	if (ui->done)
		loop_stop(l, 0);
}

static void
on_clock(struct loop *l, void *arg)
{
	struct ui *ui = arg;

	ui->dirty |= D_STATUS;
	timer_in(l, &ui->clock, 60000 - wall_ms() % 60000 + 50);
}

/* Log lines (stderr of the engine) show in the status window while curses runs. */
static void
on_log(struct loop *l, int fd, short revents, void *arg)
{
	struct ui *ui = arg;
	ssize_t n;
	char *nl;

	while ((n = read(fd, ui->log_buf + ui->log_len, sizeof(ui->log_buf) - 1 - ui->log_len)) > 0) {
		ui->log_len += (size_t)n;
		ui->log_buf[ui->log_len] = 0;
		while ((nl = memchr(ui->log_buf, '\n', ui->log_len)) != NULL ||
		       ui->log_len == sizeof(ui->log_buf) - 1) {
			size_t len = nl != NULL ? (size_t)(nl - ui->log_buf) : ui->log_len;
			ui_line(ui, NULL, LINE_INFO, "%.*s", (int)len, ui->log_buf);
			if (nl != NULL)
				len++;
			memmove(ui->log_buf, ui->log_buf + len, ui->log_len - len);
			ui->log_len -= len;
		}
	}
}

static void
default_signal(struct ui *ui, int sig)
{
	struct sigaction sa;

	if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		loop_signal(ui->loop, sig, on_term, ui);
}

void
ui_settings_apply(struct ui *ui)
{
	text_set_ambiguous_wide(ui->set.ambiguous_wide);
	if (ui->set.pane_width < CCONF_PANE_MIN)
		ui->set.pane_width = CCONF_PANE_MIN;
	if (ui->set.pane_width > CCONF_PANE_MAX)
		ui->set.pane_width = CCONF_PANE_MAX;
	ui->colors = ui->have_colors && ui->set.colors;
	for (int i = 0; i < ui->nwins; i++)
		ui_set_fmt(ui, ui->wins[i]);
	ui->dirty |= D_ALL | D_LAYOUT | D_CLEAR;
}

struct ui *
ui_new(struct loop *l, const struct ui_opts *o, char *err, size_t errlen)
{
	static const struct ui_opts defaults;
	struct ui *ui;
	const char *cs, *nc;
	int p[2];

	if (o == NULL)
		o = &defaults;
	if (live_ui != NULL) {
		snprintf(err, errlen, "the UI is already running");
		return NULL;
	}
	setlocale(LC_ALL, "");
	if ((ui = calloc(1, sizeof(*ui))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ui->loop = l;
	ui->in = o->in != NULL ? o->in : stdin;
	ui->out = o->out != NULL ? o->out : stdout;
	ui->in_fd = fileno(ui->in);
	ui->out_fd = fileno(ui->out);
	ui->log_rd = ui->log_wr = -1;
	ui->title_unread = -1;
	ui->focused = 1;
	strcpy(ui->my_status, "online");
	cconf_defaults(&ui->set);
	ui->set.colors = !o->no_color;
	ui->set.timestamps = !o->no_timestamps;
	if (o->ts_format != NULL && o->ts_format[0] != 0)
		str_copy(ui->set.ts_format, o->ts_format, sizeof(ui->set.ts_format));
	ui->set.bell = !o->no_bell;
	ui->set.title = !o->no_title;
	ui->set.notify_text = o->notify_text != 0;
	ui->set.typing_send = !o->no_typing_send;
	ui->set.typing_show = !o->no_typing_show;
	ui->set.pane = !o->pane_hidden;
	ui->set.pane_width = o->pane_width > 0 ? o->pane_width : UI_PANE_DEFAULT;
	ui->set.ambiguous_wide = o->ambiguous_wide != 0;
	ui->contacts = calloc(UI_CONTACTS_MAX, sizeof(*ui->contacts));
	ui->cview = calloc(UI_CONTACTS_MAX, sizeof(*ui->cview));
	if (ui->contacts == NULL || ui->cview == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (o->out == NULL && (!isatty(ui->in_fd) || !isatty(ui->out_fd))) {
		snprintf(err, errlen, "not a terminal (use --headless for scripts)");
		goto fail;
	}
	ui->have_tio = tcgetattr(ui->in_fd, &ui->saved_tio) == 0;
	/* SIGWINCH through the loop before curses starts, so that curses leaves it to us */
	loop_signal(l, SIGWINCH, on_winch, ui);
	ui->scr = newterm(o->term, ui->out, ui->in);
	if (ui->scr == NULL) {
		snprintf(err, errlen, "cannot start curses on terminal type \"%s\"",
			 o->term ? o->term : getenv("TERM") ? getenv("TERM") : "(unset)");
		goto fail;
	}
	set_term(ui->scr);
	ui->started = 1;
	live_ui = ui;
	if (!atexit_done)
		atexit_done = atexit(at_exit) == 0;
	raw();
	noecho();
	nonl();
	set_escdelay(25);
	curs_set(1);
	nc = getenv("NO_COLOR");
	if (!o->no_color && (nc == NULL || nc[0] == 0) && has_colors() && start_color() == OK) {
		use_default_colors();
		init_pair(PAIR_GREEN, COLOR_GREEN, -1);
		init_pair(PAIR_YELLOW, COLOR_YELLOW, -1);
		init_pair(PAIR_RED, COLOR_RED, -1);
		init_pair(PAIR_CYAN, COLOR_CYAN, -1);
		init_pair(PAIR_MAGENTA, COLOR_MAGENTA, -1);
		init_pair(PAIR_BLUE, COLOR_BLUE, -1);
		ui->have_colors = 1;
	}
	/* what a crash must write to give the terminal back */
	restore_len = 0;
	add_restore(tigetstr("sgr0"));
	add_restore(tigetstr("cnorm"));
	add_restore(tigetstr("rmcup"));
	add_restore(modes_off);
	for (size_t i = 0; i < ARRAY_LEN(fatal_sigs); i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = fatal_handler;
		sigemptyset(&sa.sa_mask);
		sigaction(fatal_sigs[i], &sa, &fatal_old[i]);
	}
	default_signal(ui, SIGTERM);
	default_signal(ui, SIGHUP);
	default_signal(ui, SIGINT);
	write_all(ui->out_fd, modes_on, sizeof(modes_on) - 1);

	keys_init(&ui->kd);
	win_insert(ui, 1, "", L"status");
	ui->active = ui->wins[0];
	ui_settings_apply(ui);
	cs = nl_langinfo(CODESET);
	if (cs == NULL || (strcmp(cs, "UTF-8") != 0 && strcmp(cs, "utf8") != 0))
		ui_line(ui, NULL, LINE_WARN, "the character set is %s, not UTF-8: wide characters "
			"will not show; set LANG or LC_ALL to a UTF-8 locale (e.g. C.UTF-8)",
			cs ? cs : "unknown");
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
		ui->log_rd = p[0];
		ui->log_wr = p[1];
		log_set_file(ui->log_wr);
		loop_add(l, ui->log_rd, POLLIN, on_log, ui);
	}
	loop_add(l, ui->in_fd, POLLIN, ui_key_input, ui);
	timer_init(&ui->clock, on_clock, ui);
	on_clock(l, ui);
	ui_layout(ui);
	return ui;
fail:
	free(ui->contacts);
	free(ui->cview);
	free(ui);
	return NULL;
}

void
ui_attach(struct ui *ui, struct engine *e)
{
	ui->eng = e;
	/* drawn after the engine's own end-of-pass work, which hands out the pass's events */
	loop_on_pass(ui->loop, on_pass, ui);
	ui_contacts_refresh(ui);
	ui->dirty |= D_ALL;
}

int
ui_done(const struct ui *ui)
{
	return ui->done;
}

void
ui_free(struct ui *ui)
{
	if (ui == NULL)
		return;
	timer_stop(ui->loop, &ui->clock);
	loop_del(ui->loop, ui->in_fd);
	ui_layout_free(ui);
	ui_term_leave(ui);
	for (size_t i = 0; i < ARRAY_LEN(fatal_sigs); i++)
		sigaction(fatal_sigs[i], &fatal_old[i], NULL);
	log_give_back(ui, 1);
	if (ui->scr != NULL)
		delscreen(ui->scr);
	live_ui = NULL;
	for (int i = 0; i < ui->nwins; i++)
		win_free(ui->wins[i]);
	free(ui->wins);
	free(ui->contacts);
	free(ui->cview);
	free(ui->sent_text);
	free(ui->scratch);
	free(ui->wl);
	free(ui);
}
