/* window.h: one window's lines kept as messages (never as wrapped text), their layout in rows, scrolling and unread state. */
#ifndef TINCAN_WINDOW_H
#define TINCAN_WINDOW_H

#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

#include "wrap.h"

enum line_kind {
	LINE_IN,	/* a message from the contact */
	LINE_OUT,	/* our message */
	LINE_INFO,	/* a line for people: help, command output */
	LINE_PRESENCE,	/* online, offline, status changes: low activity */
	LINE_ERROR,	/* red */
	LINE_WARN,	/* red and bold: a key changed */
};

enum line_state {
	LS_NONE,
	LS_PENDING,	/* our message, not yet stored by the receiver */
	LS_DELIVERED,
};

enum {
	WIN_LINE_MAX = 16384,	/* characters of one line; longer text is cut */
	WIN_KEEP = 20000,	/* lines held in memory; older ones stay on disk */
	WIN_NICK_MAX = 16,	/* cells of a nick in the prefix */
	WIN_NAME_MAX = 64,	/* characters of a name */
	WIN_ID_MAX = 80,
	WIN_PREFIX_MAX = 128,	/* characters of a composed prefix plus suffix */
	WIN_TSFMT_MAX = 33,	/* bytes of a timestamp format, NUL included */
	WIN_TS_MAX = 32,	/* characters of a formatted timestamp, NUL included */
};
#define WIN_NO_MARKER SIZE_MAX

struct wline {
	wchar_t *text;	/* sanitised, NUL-terminated; '\n' kept */
	uint32_t len;
	uint8_t kind, state;
	int32_t day;	/* local calendar day, for date rows */
	uint64_t ts;	/* unix ms */
	uint64_t msgid;
	int rows;	/* wrapped rows, valid while gen == the window's gen */
	unsigned gen;
};

/* Everything that turns a line into rows; a change re-wraps the window's lines lazily. */
struct win_fmt {
	int width;		/* cells of the chat area */
	int bare;		/* Alt+L: full timestamps, no indentation */
	int timestamps;		/* HH:MM before each line */
	char ts_format[WIN_TSFMT_MAX];	/* strftime format of those, "" = "%H:%M" */
	int peer_offline;	/* our pending lines say "(queued)" rather than "*" */
	wchar_t me[WIN_NAME_MAX + 1];	/* our nick */
};

/* A composed line: prefix, text, suffix in one buffer, with the parts' boundaries. */
struct wcompose {
	size_t n;		/* characters */
	size_t nick_at;		/* start of "<nick> " or "-!- " */
	size_t text_at;		/* start of the message text */
	size_t suffix_at;	/* start of " *" or " (queued)" (n when none) */
	size_t wrap_from;	/* what is wrapped: from text_at, or 0 without indentation */
	int indent;		/* cells every row of the text is indented (0 in bare mode) */
	int room;		/* cells a wrapped row may take */
};

struct edit;

struct win {
	int num;		/* 1 = status window */
	char id[WIN_ID_MAX];	/* contact ID; "" for the status window */
	wchar_t name[WIN_NAME_MAX + 1];
	struct wline *lines;	/* lines[off .. off+n) hold the window's lines */
	size_t off, n, cap;
	unsigned gen;
	struct win_fmt fmt;
	/* view: at_bottom follows new lines; else `anchor` is the lowest line shown, with
	 * `skip` of its rows hidden below the view */
	int at_bottom;
	size_t anchor;
	int skip;
	size_t marker;		/* first unread line: "---- unread ----" above it when < n;
				 * WIN_NO_MARKER when nothing was unread yet */
	int unread;		/* messages since the window was last looked at */
	int activity;		/* 0 none, 1 presence and system lines, 2 messages */
	/* history on disk, paged in from the newest to the oldest */
	uint64_t hist_cursor;
	int hist_done;		/* the start of the log was reached */
	int hist_lost;		/* lines were dropped from memory: re-seek before paging */
	size_t from_log;	/* lines in memory that are records of the log */
	struct edit *edit;	/* this window's input line and input history */
	int typing;		/* what the engine was last told about this input (TYPING_*) */
	uint32_t typing_hash;	/* of the input then, to tell a key that changed it */
};

struct win *win_new(int num, const char *id, const wchar_t *name);
void win_free(struct win *w);
void win_set_name(struct win *w, const wchar_t *name);
/* Returns 1 when the format changed (the window must be redrawn). */
int win_set_fmt(struct win *w, const struct win_fmt *f);

static inline struct wline *win_line(const struct win *w, size_t i)
{
	return &w->lines[w->off + i];
}

/* Append a line (UTF-8 text, sanitised here). An incoming or outgoing message whose msgid is
 * already among the recent lines is not added twice; its state is updated instead. Returns the
 * index of the line. */
size_t win_add(struct win *w, int kind, uint64_t ts, uint64_t msgid, const char *text, size_t len,
	       int state);
/* Insert older lines at the top; `lines` are newest first, as the history gives them. The
 * texts are taken over (malloc'd wchar_t strings). */
struct win_old {
	int outgoing, delivered;
	uint64_t msgid, ts;
	wchar_t *text;
	size_t len;
};
void win_prepend(struct win *w, struct win_old *old, size_t count);
/* Drop all lines (/clear). */
void win_clear(struct win *w);
/* Drop the oldest lines beyond WIN_KEEP while the view is at the bottom. */
void win_trim(struct win *w);
/* Our message with this msgid, newest first; NULL if not in memory. */
struct wline *win_find(struct win *w, int outgoing, uint64_t msgid);
void win_set_state(struct win *w, struct wline *l, int state);

/* Layout. win_compose writes the line into out (cap >= len + WIN_PREFIX_MAX). */
void win_compose(const struct win *w, const struct wline *l, wchar_t *out, size_t cap,
		 struct wcompose *c);
/* Wrap a composed line; same contract as wrap_text. */
int win_wrap(const wchar_t *buf, const struct wcompose *c, struct wrap_line *out, int max);
/* Rows above the text: a date row when the day changes, the unread marker row. */
int win_extra_rows(const struct win *w, size_t i, int *date_row, int *marker_row);
/* All rows of line i (extra rows included). */
int win_rows(struct win *w, size_t i);

/* Scrolling in a view `height` rows tall. win_scroll: delta > 0 goes up (older); returns 1
 * when it stopped at the first line in memory (the caller may page in older lines and scroll
 * again). */
void win_bottom(struct win *w);
int win_scroll(struct win *w, int delta, int height);
void win_top(struct win *w, int height);
/* Line i at the top of the view (Alt+U). */
void win_show(struct win *w, size_t i, int height);
/* Make anchor/skip valid after lines or widths changed. */
void win_fix_view(struct win *w);

/* Reading marker: set when the window is left or the terminal loses focus. */
void win_mark_read(struct win *w);

/* A unix-ms time in local time: by fmt (strftime; NULL or "" = "HH:MM"), or the full date and
 * time when full. */
void win_time(uint64_t ts, int full, const char *fmt, wchar_t *out, size_t cap);

#endif
