/* bench_ui.c: what the curses UI costs: opening a conversation with a long history, and drawing after a message with 100 windows open. */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "engine.h"
#include "loop.h"
#include "uiint.h"
#include "util.h"

enum {
	WINDOWS = 100,		/* conversations open for the draw benchmark */
	WINDOW_HISTORY = 50,	/* lines in each of those */
	OPENS = 7,		/* an open is timed this often */
	DRAWS = 2000,		/* messages delivered while timing draws */
};

static const int sizes[] = {1000, 10000, 100000};

static void
die(const char *what)
{
	fprintf(stderr, "bench_ui: %s\n", what);
	exit(1);
}

static void
ignore(void *arg, const struct event *ev)
{
}

static void
new_contact(struct engine *e, char id[ID_STRLEN + 1])
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char line[8192];

	crypto_sign_keypair(pk, sk);
	sodium_memzero(sk, sizeof(sk));
	id_encode(pk, id);
	snprintf(line, sizeof(line), "/add %s", id);
	engine_command(e, line);
}

/* Our messages into a contact's log (the engine writes them at the end of each pass). */
static void
fill(struct loop *l, struct engine *e, const char *id, int n)
{
	char line[8192];

	for (int i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "/msg %s line %d of the history, 中文也有一些 and some "
			 "more words to wrap", id, i);
		engine_command(e, line);
		if (i % 500 == 499)
			loop_once(l, 0);
	}
	loop_once(l, 0);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double
ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static void
count_cb(void *arg, int outgoing, uint64_t msgid, uint64_t ts, const char *text, size_t len,
	 int delivered)
{
	(*(int *)arg)++;
}

int
main(void)
{
	char home[] = "/tmp/bench-ui-XXXXXX", err[256];
	char big[3][ID_STRLEN + 1], small[WINDOWS][ID_STRLEN + 1];
	struct engine_opts eo = {.home = home, .lan = 1, .port = -1, .lan_port = -1};
	struct engine *e;
	struct loop *l;
	struct ui *ui;
	int pfd[2];
	FILE *in = NULL, *out = NULL;
	uint64_t t[DRAWS];

	setenv("LC_ALL", "C.UTF-8", 1);
	setenv("TZ", "UTC", 1);
	setenv("LINES", "50", 1);
	setenv("COLUMNS", "200", 1);
	if (sodium_init() < 0 || mkdtemp(home) == NULL || (l = loop_new()) == NULL)
		die("setup failed");

	/* the histories, written by an engine (and loop: its end-of-pass hook stays) of its own */
	struct loop *fl = loop_new();
	if (fl == NULL || (e = engine_new(fl, &eo, ignore, NULL, err, sizeof(err))) == NULL)
		die(err);
	for (int i = 0; i < 3; i++) {
		new_contact(e, big[i]);
		fill(fl, e, big[i], sizes[i]);
	}
	for (int i = 0; i < WINDOWS; i++) {
		new_contact(e, small[i]);
		fill(fl, e, small[i], WINDOW_HISTORY);
	}
	engine_free(e);
	loop_free(fl);

	/* the UI on a terminal that goes nowhere: input that never comes, output to /dev/null */
	if (pipe(pfd) < 0 || (in = fdopen(pfd[0], "r")) == NULL ||
	    (out = fopen("/dev/null", "w")) == NULL)
		die("no pipe or /dev/null");
	struct ui_opts uo = {.in = in, .out = out, .term = "xterm-256color"};
	if ((ui = ui_new(l, &uo, err, sizeof(err))) == NULL)
		die(err);
	if ((e = engine_new(l, &eo, ui_event, ui, err, sizeof(err))) == NULL)
		die(err);
	ui_attach(ui, e);
	loop_once(l, 0);

	printf("bench_ui: %dx%d terminal, output to /dev/null\n", ui->cols, ui->rows);
	printf("open a conversation: its last %d lines from disk, then the first draw\n",
	       UI_HIST_OPEN);
	for (int s = 0; s < 3; s++) {
		uint64_t disk[OPENS], first = 0, at = UINT64_MAX;
		int all = 0;
		while (engine_history(e, big[s], &at, 4096, count_cb, &all) > 0)
			;
		if (all != sizes[s])
			die("the history on disk is not as long as written");
		for (int k = 0; k < OPENS; k++) {
			uint64_t t0 = mono_us(), cursor = UINT64_MAX;
			int got = 0;
			struct win *w = ui_win_open(ui, big[s]);
			ui_win_switch(ui, w);
			ui_draw(ui);
			t[k] = mono_us() - t0;
			if (k == 0)
				first = t[k];
			/* baseline: the same 20 records read alone */
			t0 = mono_us();
			engine_history(e, big[s], &cursor, UI_HIST_OPEN, count_cb, &got);
			disk[k] = mono_us() - t0;
			if (got != UI_HIST_OPEN)
				die("history shorter than expected");
			ui_win_switch(ui, ui->wins[0]);
			ui_win_close(ui, w);
			ui_draw(ui);
		}
		qsort(t, OPENS, sizeof(t[0]), cmp_u64);
		qsort(disk, OPENS, sizeof(disk[0]), cmp_u64);
		printf("  history %6d lines: %.3f ms median of %d (first %.3f ms); "
		       "baseline engine_history(%d) alone %.3f ms\n", sizes[s], ms(t[OPENS / 2]),
		       OPENS, ms(first), UI_HIST_OPEN, ms(disk[OPENS / 2]));
	}

	/* 100 windows, one shown; messages arrive in the others and in the shown one */
	for (int i = 0; i < WINDOWS; i++)
		ui_win_open(ui, small[i]);
	ui_win_switch(ui, ui_win_by_id(ui, small[0]));
	ui_draw(ui);
	printf("draw after a message arrives, %d windows open (%d lines each)\n", ui->nwins - 1,
	       WINDOW_HISTORY);
	for (int shown = 0; shown < 2; shown++) {
		for (int k = 0; k < DRAWS; k++) {
			struct event ev = {.type = EV_MSG, .ts = wall_ms(), .msgid = 1000000u + (unsigned)k,
					   .text = "a new message 新消息 that arrives now"};
			ev.id = shown ? small[0] : small[1 + k % (WINDOWS - 1)];
			uint64_t t0 = mono_us();
			ui_event(ui, &ev);
			ui_draw(ui);
			t[k] = mono_us() - t0;
		}
		qsort(t, DRAWS, sizeof(t[0]), cmp_u64);
		printf("  %-22s median %.3f ms, p99 %.3f ms, max %.3f ms\n",
		       shown ? "in the shown window:" : "in another window:", ms(t[DRAWS / 2]),
		       ms(t[DRAWS * 99 / 100]), ms(t[DRAWS - 1]));
	}
	/* baseline: repainting the whole terminal once */
	for (int k = 0; k < 100; k++) {
		uint64_t t0 = mono_us();
		ui->dirty |= D_ALL | D_CLEAR;
		ui_draw(ui);
		t[k] = mono_us() - t0;
	}
	qsort(t, 100, sizeof(t[0]), cmp_u64);
	printf("  baseline: a full repaint of the terminal, median %.3f ms\n", ms(t[50]));

	engine_free(e);
	ui_free(ui);
	loop_free(l);
	fclose(in);
	fclose(out);
	close(pfd[1]);
	snprintf(err, sizeof(err), "rm -rf %s", home);
	if (system(err) != 0)
		fprintf(stderr, "bench_ui: could not remove %s\n", home);
	return 0;
}
