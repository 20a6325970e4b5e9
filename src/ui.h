/* ui.h: the full-screen curses front end: buddy pane, conversation windows, input line. */
#ifndef TINCAN_UI_H
#define TINCAN_UI_H

#include <stddef.h>
#include <stdio.h>

#include "engine.h"
#include "loop.h"

/* All zero is the default. */
struct ui_opts {
	int pane_width;		/* buddy pane columns, 0 = 20 (/set pane-width) */
	int pane_hidden;	/* start with the buddy pane hidden (F7, /set pane) */
	int no_timestamps;	/* no HH:MM before lines (/set timestamps) */
	int ambiguous_wide;	/* East Asian Ambiguous characters take 2 cells (/set ambiguous-wide) */
	int no_color;		/* no colours; NO_COLOR in the environment does the same */
	int no_bell;		/* no BEL for messages in other windows (/set bell) */
	int no_title;		/* do not set the terminal title "tincan [N]" (/set title) */
	int notify_text;	/* the title shows the sender's text too (/set notify.text) */
	int no_typing_send;	/* do not tell contacts when I type (/set typing.send) */
	int no_typing_show;	/* do not show when they type (/set typing.show) */
	const char *ts_format;	/* strftime format of timestamps, NULL = "%H:%M" (checked by cconf) */
	const char *home;	/* the client's directory (NULL: none) */
	/* the terminal; NULL = stdin, stdout and $TERM (tests and benchmarks give others) */
	FILE *in, *out;
	const char *term;
};

struct ui;

/* Starts curses (setlocale first; raw, noecho, nonl, keypad, bracketed paste and focus
 * events on) and adds the terminal to the loop. NULL with a message in err when the terminal
 * is unusable. Restores the terminal at exit() and on fatal signals too. */
struct ui *ui_new(struct loop *l, const struct ui_opts *o, char *err, size_t errlen);
/* The engine's event callback (arg = the struct ui). */
void ui_event(void *ui, const struct event *ev);
/* After engine_new: commands go to e, the buddy pane and history come from it; from here on
 * the screen is drawn once per loop pass, after the engine's own end-of-pass work. */
void ui_attach(struct ui *ui, struct engine *e);
/* 1 after /quit, end of input or SIGTERM/SIGHUP (when main has no handler of its own); the
 * UI then also calls loop_stop(l, 0) itself. Main calls engine_free and then ui_free. */
int ui_done(const struct ui *ui);
/* Restores the terminal (endwin, bracketed paste and focus events off) and frees everything.
 * Call it after engine_free (which may still send events). */
void ui_free(struct ui *ui);

#endif
