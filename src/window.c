/* window.c: one window's lines kept as messages, their layout in rows, scrolling and unread state. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edit.h"
#include "text.h"
#include "window.h"

enum {
	DEDUP_SCAN = 256,	/* recent lines searched for a message shown twice */
	SCRATCH_MIN = 256,
};

/* Scratch buffer for composing lines while counting rows. */
static wchar_t *scratch;
static size_t scratch_cap;

static wchar_t *
scratch_get(size_t need)
{
	if (need > scratch_cap) {
		size_t cap = need < SCRATCH_MIN ? SCRATCH_MIN : need;
		wchar_t *p = realloc(scratch, cap * sizeof(*p));
		if (p == NULL)
			abort();
		scratch = p;
		scratch_cap = cap;
	}
	return scratch;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p == NULL)
		abort();
	return p;
}

struct win *
win_new(int num, const char *id, const wchar_t *name)
{
	struct win *w = xcalloc(1, sizeof(*w));

	w->num = num;
	if (id != NULL) {
		strncpy(w->id, id, sizeof(w->id) - 1);
		w->id[sizeof(w->id) - 1] = 0;
	}
	win_set_name(w, name);
	w->at_bottom = 1;
	w->marker = WIN_NO_MARKER;
	w->hist_cursor = UINT64_MAX;
	w->edit = xcalloc(1, sizeof(*w->edit));
	edit_init(w->edit);
	return w;
}

void
win_clear(struct win *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(win_line(w, i)->text);
	w->off = 0;
	w->n = 0;
	w->at_bottom = 1;
	w->anchor = 0;
	w->skip = 0;
	w->marker = WIN_NO_MARKER;
	w->from_log = 0;
}

void
win_free(struct win *w)
{
	if (w == NULL)
		return;
	win_clear(w);
	free(w->lines);
	edit_free(w->edit);
	free(w->edit);
	free(w);
}

void
win_set_name(struct win *w, const wchar_t *name)
{
	size_t k = 0;

	if (name != NULL)
		for (; name[k] != 0 && k < WIN_NAME_MAX; k++)
			w->name[k] = name[k];
	w->name[k] = 0;
	w->gen++;
}

int
win_set_fmt(struct win *w, const struct win_fmt *f)
{
	if (w->fmt.width == f->width && w->fmt.bare == f->bare &&
	    w->fmt.timestamps == f->timestamps && w->fmt.peer_offline == f->peer_offline &&
	    strcmp(w->fmt.ts_format, f->ts_format) == 0 &&
	    wcscmp(w->fmt.me, f->me) == 0)
		return 0;
	w->fmt = *f;
	w->gen++;
	return 1;
}

/* Room for `more` lines at the end (front = 0) or at the front (front = 1). Sliding the lines
 * inside the array happens only when that frees a quarter of it, so appends stay O(1). */
static void
win_reserve(struct win *w, size_t more, int front)
{
	size_t need = w->n + more, cap = w->cap, at;
	struct wline *p = w->lines;

	if (front ? w->off >= more : w->off + need <= w->cap)
		return;
	if (cap < need + need / 4 + 16) {
		cap = cap ? cap : 64;
		while (cap < 2 * need + 16)
			cap *= 2;
		p = xcalloc(cap, sizeof(*p));
	}
	at = front ? more + (cap - need) / 2 : 0;
	if (w->n)
		memmove(p + at, w->lines + w->off, w->n * sizeof(*p));
	if (p != w->lines) {
		free(w->lines);
		w->lines = p;
		w->cap = cap;
	}
	w->off = at;
}

static int32_t
local_day(uint64_t ts)
{
	time_t t = (time_t)(ts / 1000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return (int32_t)(tm.tm_year * 400 + tm.tm_yday);
}

static int
is_message(int kind)
{
	return kind == LINE_IN || kind == LINE_OUT;
}

struct wline *
win_find(struct win *w, int outgoing, uint64_t msgid)
{
	int kind = outgoing ? LINE_OUT : LINE_IN;

	for (size_t i = w->n; i-- > 0;) {
		struct wline *l = win_line(w, i);
		if (l->kind == kind && l->msgid == msgid)
			return l;
	}
	return NULL;
}

void
win_set_state(struct win *w, struct wline *l, int state)
{
	if (l->state != state) {
		l->state = (uint8_t)state;
		l->gen = w->gen - 1;	/* the suffix changed: wrap again */
	}
}

size_t
win_add(struct win *w, int kind, uint64_t ts, uint64_t msgid, const char *text, size_t len,
	int state)
{
	struct wline *l;
	wchar_t *buf;
	size_t n, cap;

	if (is_message(kind)) {
		size_t stop = w->n > DEDUP_SCAN ? w->n - DEDUP_SCAN : 0;
		for (size_t i = w->n; i-- > stop;) {
			l = win_line(w, i);
			if (l->kind == kind && l->msgid == msgid) {
				if (state == LS_DELIVERED || l->state == LS_NONE)
					win_set_state(w, l, state);
				return i;
			}
		}
	}
	/* a control byte becomes two characters ("^["): room for that, up to WIN_LINE_MAX */
	cap = (len < WIN_LINE_MAX / 2 ? 2 * len : WIN_LINE_MAX) + 1;
	buf = xcalloc(cap, sizeof(*buf));
	n = text_sanitize(text, len, buf, cap, TEXT_KEEP_NL);
	win_reserve(w, 1, 0);
	l = &w->lines[w->off + w->n];
	memset(l, 0, sizeof(*l));
	l->text = buf;
	l->len = (uint32_t)n;
	l->kind = (uint8_t)kind;
	l->state = (uint8_t)state;
	l->ts = ts;
	l->day = local_day(ts);
	l->msgid = msgid;
	l->gen = w->gen - 1;
	w->n++;
	if (is_message(kind))
		w->from_log++;
	return w->n - 1;
}

void
win_prepend(struct win *w, struct win_old *old, size_t count)
{
	if (count == 0)
		return;
	win_reserve(w, count, 1);
	w->off -= count;
	for (size_t k = 0; k < count; k++) {
		/* old[0] is the newest: it goes just above the current first line */
		struct wline *l = win_line(w, count - 1 - k);
		memset(l, 0, sizeof(*l));
		l->text = old[k].text;
		l->len = (uint32_t)(old[k].len < WIN_LINE_MAX ? old[k].len : WIN_LINE_MAX);
		l->kind = old[k].outgoing ? LINE_OUT : LINE_IN;
		l->state = old[k].outgoing ? (old[k].delivered ? LS_DELIVERED : LS_PENDING) : LS_NONE;
		l->ts = old[k].ts;
		l->day = local_day(old[k].ts);
		l->msgid = old[k].msgid;
		l->gen = w->gen - 1;
	}
	w->n += count;
	w->from_log += count;
	if (!w->at_bottom)
		w->anchor += count;
	if (w->marker != WIN_NO_MARKER)
		w->marker += count;
	/* the old first line may lose its date row */
	if (w->n > count)
		win_line(w, count)->gen = w->gen - 1;
}

void
win_trim(struct win *w)
{
	size_t drop;

	if (w->n <= WIN_KEEP || !w->at_bottom)
		return;
	drop = w->n - WIN_KEEP + WIN_KEEP / 10;
	for (size_t i = 0; i < drop; i++) {
		struct wline *l = win_line(w, i);
		if (is_message(l->kind) && w->from_log > 0)
			w->from_log--;
		free(l->text);
	}
	w->off += drop;
	w->n -= drop;
	if (w->marker != WIN_NO_MARKER)
		w->marker = w->marker > drop ? w->marker - drop : 0;
	w->hist_lost = 1;
	w->hist_done = 0;
	if (w->n)
		win_line(w, 0)->gen = w->gen - 1;
}

void
win_time(uint64_t ts, int full, const char *fmt, wchar_t *out, size_t cap)
{
	time_t t = (time_t)(ts / 1000);
	struct tm tm;
	char s[128];
	size_t n;

	if (localtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	if (full || fmt == NULL || fmt[0] == 0)
		fmt = full ? "%Y-%m-%d %H:%M:%S" : "%H:%M";
	/* fmt is a literal or came through cconf_set, which allows a few conversions only */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = strftime(s, sizeof(s), fmt, &tm);	/* 0 (too long) gives an empty stamp */
#pragma GCC diagnostic pop
	/* a locale's month or day names may be UTF-8 */
	text_sanitize(s, n, out, cap, 0);
}

static size_t
put_str(wchar_t *out, size_t at, size_t cap, const wchar_t *s)
{
	while (*s != 0 && at + 1 < cap)
		out[at++] = *s++;
	return at;
}

static size_t
put_nick(const struct win *w, wchar_t *out, size_t at, size_t cap, const wchar_t *nick)
{
	wchar_t fit[WIN_NICK_MAX + WIN_NAME_MAX + 4];
	int cells = text_cells(nick, wcslen(nick)), col;
	int other = text_cells(w->name, wcslen(w->name)), mine = text_cells(w->fmt.me,
		wcslen(w->fmt.me));
	int column = other > mine ? other : mine;

	if (cells > WIN_NICK_MAX)
		cells = WIN_NICK_MAX;
	if (column > WIN_NICK_MAX)
		column = WIN_NICK_MAX;
	wrap_fit(nick, wcslen(nick), cells, fit, sizeof(fit) / sizeof(fit[0]));
	at = put_str(out, at, cap, L"<");
	at = put_str(out, at, cap, fit);
	at = put_str(out, at, cap, L"> ");
	/* line up the text column of both sides of a conversation (not in bare mode) */
	for (col = cells; !w->fmt.bare && col < column && at + 1 < cap; col++)
		out[at++] = L' ';
	return at;
}

void
win_compose(const struct win *w, const struct wline *l, wchar_t *out, size_t cap,
	    struct wcompose *c)
{
	const struct win_fmt *f = &w->fmt;
	size_t at = 0, room = cap > WIN_PREFIX_MAX ? cap - WIN_PREFIX_MAX / 2 : cap;
	wchar_t ts[32];

	memset(c, 0, sizeof(*c));
	if (f->bare || f->timestamps) {
		win_time(l->ts, f->bare, f->ts_format, ts, sizeof(ts) / sizeof(ts[0]));
		at = put_str(out, at, cap, ts);
		at = put_str(out, at, cap, L" ");
	}
	c->nick_at = at;
	switch (l->kind) {
	case LINE_IN:
		at = put_nick(w, out, at, cap, w->name[0] ? w->name : L"?");
		break;
	case LINE_OUT:
		at = put_nick(w, out, at, cap, f->me[0] ? f->me : L"me");
		break;
	case LINE_ERROR:
		at = put_str(out, at, cap, L"-!- error: ");
		break;
	case LINE_WARN:
		at = put_str(out, at, cap, L"-!- WARNING: ");
		break;
	default:
		at = put_str(out, at, cap, L"-!- ");
		break;
	}
	c->text_at = at;
	for (size_t i = 0; i < l->len && at + 1 < room; i++)
		out[at++] = l->text[i];
	c->suffix_at = at;
	if (l->kind == LINE_OUT && l->state == LS_PENDING)
		at = put_str(out, at, cap, f->peer_offline ? L" (queued)" : L" *");
	if (cap > 0)
		out[at] = 0;
	c->n = at;
	c->indent = f->bare ? 0 : text_cells(out, c->text_at);
	c->wrap_from = f->bare ? 0 : c->text_at;
	c->room = f->width - c->indent;
	if (!f->bare && c->room < 10) {	/* too narrow to indent: wrap the whole line */
		c->indent = 0;
		c->wrap_from = 0;
		c->room = f->width;
	}
	if (c->room < 1)
		c->room = 1;
}

int
win_wrap(const wchar_t *buf, const struct wcompose *c, struct wrap_line *out, int max)
{
	return wrap_text(buf + c->wrap_from, c->n - c->wrap_from, c->room, 0, out, max);
}

int
win_extra_rows(const struct win *w, size_t i, int *date_row, int *marker_row)
{
	int d = i == 0 || win_line(w, i)->day != win_line(w, i - 1)->day;
	int m = i == w->marker;

	if (w->fmt.bare)	/* full timestamps say the date already */
		d = 0;
	if (date_row != NULL)
		*date_row = d;
	if (marker_row != NULL)
		*marker_row = m;
	return d + m;
}

int
win_rows(struct win *w, size_t i)
{
	struct wline *l = win_line(w, i);

	if (l->gen != w->gen) {
		struct wcompose c;
		wchar_t *buf = scratch_get(l->len + WIN_PREFIX_MAX);
		win_compose(w, l, buf, l->len + WIN_PREFIX_MAX, &c);
		l->rows = win_wrap(buf, &c, NULL, 0);
		if (l->rows < 1)
			l->rows = 1;
		l->gen = w->gen;
	}
	return l->rows + win_extra_rows(w, i, NULL, NULL);
}

void
win_fix_view(struct win *w)
{
	if (w->n == 0) {
		w->at_bottom = 1;
		return;
	}
	if (w->at_bottom)
		return;
	if (w->anchor >= w->n) {
		w->at_bottom = 1;
		return;
	}
	if (w->skip < 0)
		w->skip = 0;
	if (w->skip >= win_rows(w, w->anchor))
		w->skip = win_rows(w, w->anchor) - 1;
	if (w->anchor == w->n - 1 && w->skip == 0)
		w->at_bottom = 1;
}

void
win_bottom(struct win *w)
{
	w->at_bottom = 1;
	w->skip = 0;
}

void
win_top(struct win *w, int height)
{
	int sum = 0;

	for (size_t i = 0; i < w->n; i++) {
		sum += win_rows(w, i);
		if (sum >= height) {
			w->anchor = i;
			w->skip = sum - height;
			w->at_bottom = 0;
			win_fix_view(w);
			return;
		}
	}
	win_bottom(w);
}

void
win_show(struct win *w, size_t i, int height)
{
	int sum = 0;

	for (; i < w->n; i++) {
		sum += win_rows(w, i);
		if (sum >= height) {
			w->anchor = i;
			w->skip = sum - height;
			w->at_bottom = 0;
			win_fix_view(w);
			return;
		}
	}
	/* the rest fits on one screen: that is the bottom */
	win_bottom(w);
}

/* Rows from the top of line 0 to the bottom of the view. */
static int
rows_above(struct win *w, int height)
{
	int avail = win_rows(w, w->anchor) - w->skip;

	for (size_t i = w->anchor; i-- > 0 && avail < height;)
		avail += win_rows(w, i);
	return avail;
}

int
win_scroll(struct win *w, int delta, int height)
{
	if (w->n == 0 || delta == 0)
		return delta > 0;
	if (height < 1)
		height = 1;
	if (delta > 0) {
		if (w->at_bottom) {
			w->at_bottom = 0;
			w->anchor = w->n - 1;
			w->skip = 0;
		}
		w->skip += delta;
		while (w->skip >= win_rows(w, w->anchor) && w->anchor > 0) {
			w->skip -= win_rows(w, w->anchor);
			w->anchor--;
		}
		if (w->skip >= win_rows(w, w->anchor) || rows_above(w, height) < height) {
			win_top(w, height);
			return 1;
		}
		return 0;
	}
	if (w->at_bottom)
		return 0;
	w->skip += delta;
	while (w->skip < 0) {
		if (w->anchor + 1 >= w->n) {
			win_bottom(w);
			return 0;
		}
		w->anchor++;
		w->skip += win_rows(w, w->anchor);
	}
	win_fix_view(w);
	return 0;
}

void
win_mark_read(struct win *w)
{
	w->marker = w->n;
}
