/* test_window.c: the window model: composing and wrapping lines by cells, duplicates, history paging, scrolling, unread marker. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "check.h"
#include "text.h"
#include "window.h"

/* 2026-11-25 12:34:56 UTC, and the next day */
static const uint64_t T0 = 1795610096000ull;
static const uint64_t DAY = 86400000ull;

static void
set_fmt(struct win *w, int width, int bare, int offline)
{
	struct win_fmt f;

	memset(&f, 0, sizeof(f));
	f.width = width;
	f.bare = bare;
	f.timestamps = 1;
	f.peer_offline = offline;
	wcscpy(f.me, L"me");
	win_set_fmt(w, &f);
}

static wchar_t *
compose(struct win *w, size_t i, struct wcompose *c)
{
	static wchar_t buf[WIN_LINE_MAX + WIN_PREFIX_MAX];

	win_compose(w, win_line(w, i), buf, sizeof(buf) / sizeof(buf[0]), c);
	return buf;
}

static void
test_compose(void)
{
	struct win *w = win_new(2, "tcid", L"alice");
	struct wcompose c, c2;
	wchar_t *s;

	set_fmt(w, 80, 0, 0);
	win_add(w, LINE_IN, T0, 1, "hello", 5, LS_NONE);
	win_add(w, LINE_OUT, T0, 1, "hi", 2, LS_PENDING);
	s = compose(w, 0, &c);
	CHECK(wcscmp(s, L"12:34 <alice> hello") == 0);
	CHECK(c.indent == 14 && c.text_at == 14 && c.nick_at == 6);
	s = compose(w, 1, &c2);
	CHECK(wcscmp(s, L"12:34 <me>    hi *") == 0);	/* text columns line up */
	CHECK(c2.text_at == c.text_at && c2.suffix_at == 16);
	set_fmt(w, 80, 0, 1);
	s = compose(w, 1, &c2);
	CHECK(wcscmp(s, L"12:34 <me>    hi (queued)") == 0);
	win_set_state(w, win_line(w, 1), LS_DELIVERED);
	s = compose(w, 1, &c2);
	CHECK(wcscmp(s, L"12:34 <me>    hi") == 0 && c2.suffix_at == c2.n);
	/* bare mode: the full time, no indentation, no padding */
	set_fmt(w, 80, 1, 0);
	s = compose(w, 1, &c2);
	CHECK(wcscmp(s, L"2026-11-25 12:34:56 <me> hi") == 0);
	CHECK(c2.indent == 0 && c2.wrap_from == 0);
	win_free(w);
}

static void
test_wrap_cjk(void)
{
	struct win *w = win_new(2, "tcid", L"alice");
	const char *cjk = "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十";	/* 30 */
	struct wrap_line wl[8];
	struct wcompose c;
	wchar_t *s;
	int n;

	set_fmt(w, 40, 0, 0);
	win_add(w, LINE_IN, T0, 1, cjk, strlen(cjk), LS_NONE);
	s = compose(w, 0, &c);
	CHECK(c.room == 26);
	n = win_wrap(s, &c, wl, 8);
	CHECK(n == 3);	/* 13 + 13 + 4 wide characters */
	CHECK(wl[0].len == 13 && wl[0].cells == 26 && wl[1].len == 13 && wl[2].len == 4);
	CHECK(win_rows(w, 0) == 4);	/* and the date row */
	/* wider: one row; an odd width never splits a wide character */
	set_fmt(w, 100, 0, 0);
	CHECK(win_rows(w, 0) == 2);
	set_fmt(w, 41, 0, 0);
	s = compose(w, 0, &c);
	n = win_wrap(s, &c, wl, 8);
	for (int i = 0; i < n; i++)
		CHECK(wl[i].cells <= c.room && wl[i].cells % 2 == 0);
	/* too narrow to indent: the whole line wraps, still by whole characters */
	set_fmt(w, 20, 0, 0);
	s = compose(w, 0, &c);
	CHECK(c.indent == 0 && c.room == 20);
	n = win_wrap(s, &c, wl, 8);
	CHECK(n == 4);	/* 14 prefix cells + 60 text cells: 20 + 20 + 20 + 14 */
	win_free(w);
}

static void
test_sanitise_and_dups(void)
{
	struct win *w = win_new(2, "tcid", L"eve");
	const char *evil = "\x1b[2J\x1b]2;pwned\x07\rX\xc2\x9b";
	struct wline *l;

	set_fmt(w, 80, 0, 0);
	win_add(w, LINE_IN, T0, 7, evil, strlen(evil), LS_NONE);
	l = win_line(w, 0);
	for (uint32_t i = 0; i < l->len; i++)
		CHECK(l->text[i] >= 0x20 && l->text[i] != 0x7f && (l->text[i] < 0x80 || l->text[i] > 0x9f));
	CHECK(wcsstr(l->text, L"^[[2J") != NULL && wcsstr(l->text, L"^M") != NULL);
	/* the same message again (history and event both) is one line */
	CHECK(win_add(w, LINE_IN, T0, 7, "x", 1, LS_NONE) == 0 && w->n == 1);
	win_add(w, LINE_OUT, T0, 7, "mine", 4, LS_PENDING);	/* another msgid space */
	CHECK(w->n == 2);
	win_add(w, LINE_OUT, T0, 7, "mine", 4, LS_DELIVERED);
	CHECK(w->n == 2 && win_line(w, 1)->state == LS_DELIVERED);
	win_add(w, LINE_OUT, T0, 7, "mine", 4, LS_PENDING);	/* late: stays delivered */
	CHECK(win_line(w, 1)->state == LS_DELIVERED);
	CHECK(win_find(w, 1, 7) == win_line(w, 1) && win_find(w, 0, 8) == NULL);
	/* a line longer than WIN_LINE_MAX is cut, not overflowed */
	size_t big = WIN_LINE_MAX * 2;
	char *huge = malloc(big);
	memset(huge, 'a', big);
	win_add(w, LINE_IN, T0, 9, huge, big, LS_NONE);
	CHECK(win_line(w, 2)->len == WIN_LINE_MAX);
	free(huge);
	win_free(w);
}

static wchar_t *
wdup(const wchar_t *s)
{
	size_t n = wcslen(s) + 1;
	wchar_t *p = malloc(n * sizeof(*p));
	wmemcpy(p, s, n);
	return p;
}

static void
test_prepend_and_dates(void)
{
	struct win *w = win_new(2, "tcid", L"bob");
	struct win_old old[3];
	int date;

	set_fmt(w, 80, 0, 0);
	win_add(w, LINE_IN, T0 + DAY, 10, "new", 3, LS_NONE);
	win_mark_read(w);
	win_add(w, LINE_IN, T0 + DAY, 11, "unread", 6, LS_NONE);
	CHECK(w->marker == 1);
	CHECK(win_extra_rows(w, 1, NULL, NULL) == 1);	/* the marker row */
	for (int i = 0; i < 3; i++) {	/* newest first, as the history hands them out */
		old[i].outgoing = i == 1;
		old[i].delivered = 0;
		old[i].msgid = (uint64_t)(9 - i);
		old[i].ts = T0;
		old[i].text = wdup(i == 0 ? L"nine" : i == 1 ? L"eight" : L"seven");
		old[i].len = wcslen(old[i].text);
	}
	win_prepend(w, old, 3);
	CHECK(w->n == 5 && w->marker == 4);
	CHECK(wcscmp(win_line(w, 0)->text, L"seven") == 0);
	CHECK(wcscmp(win_line(w, 2)->text, L"nine") == 0);
	CHECK(win_line(w, 1)->kind == LINE_OUT && win_line(w, 1)->state == LS_PENDING);
	/* date rows: at the top, and where the day changes */
	win_extra_rows(w, 0, &date, NULL);
	CHECK(date == 1);
	win_extra_rows(w, 1, &date, NULL);
	CHECK(date == 0);
	win_extra_rows(w, 3, &date, NULL);
	CHECK(date == 1);
	win_free(w);
}

static void
test_scroll(void)
{
	struct win *w = win_new(2, "tcid", L"bob");
	char text[32];

	set_fmt(w, 80, 0, 0);
	for (int i = 0; i < 100; i++) {
		snprintf(text, sizeof(text), "line %d", i);
		win_add(w, LINE_IN, T0, (uint64_t)i + 1, text, strlen(text), LS_NONE);
	}
	/* line 0 has a date row: 101 rows in all */
	CHECK(win_scroll(w, 5, 10) == 0);
	CHECK(!w->at_bottom && w->anchor == 94 && w->skip == 0);
	CHECK(win_scroll(w, -2, 10) == 0 && w->anchor == 96);
	CHECK(win_scroll(w, -10, 10) == 0 && w->at_bottom);
	/* past the top: stops with line 0's first row at the top of the view */
	CHECK(win_scroll(w, 1000, 10) == 1);
	CHECK(!w->at_bottom && w->anchor == 8 && w->skip == 0);
	win_bottom(w);
	win_show(w, 50, 10);
	CHECK(w->anchor == 59 && w->skip == 0);
	win_show(w, 95, 10);	/* the rest fits: that is the bottom */
	CHECK(w->at_bottom);
	win_top(w, 10);
	CHECK(w->anchor == 8);
	/* a narrower window: rows change, the view stays valid */
	set_fmt(w, 5, 0, 0);
	win_fix_view(w);
	CHECK(w->skip < win_rows(w, w->anchor));
	/* fewer lines than the view: scrolling up is at the top at once */
	win_clear(w);
	win_add(w, LINE_IN, T0, 1, "one", 3, LS_NONE);
	CHECK(win_scroll(w, 3, 10) == 1 && w->at_bottom);
	win_free(w);
}

static void
test_trim(void)
{
	struct win *w = win_new(2, "tcid", L"bob");

	set_fmt(w, 80, 0, 0);
	for (int i = 0; i < WIN_KEEP + 10; i++)
		win_add(w, LINE_IN, T0, (uint64_t)i + 1, "x", 1, LS_NONE);
	win_mark_read(w);
	win_trim(w);
	CHECK(w->n <= WIN_KEEP && w->n > WIN_KEEP / 2);
	CHECK(w->hist_lost && w->marker == w->n && w->from_log == w->n);
	CHECK(win_line(w, w->n - 1)->msgid == WIN_KEEP + 10);
	win_add(w, LINE_IN, T0, WIN_KEEP + 11, "y", 1, LS_NONE);
	CHECK(win_line(w, w->n - 1)->msgid == WIN_KEEP + 11);
	win_free(w);
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	if (setlocale(LC_ALL, "C.UTF-8") == NULL) {
		fprintf(stderr, "no C.UTF-8 locale\n");
		return 1;
	}
	test_compose();
	test_wrap_cjk();
	test_sanitise_and_dups();
	test_prepend_and_dates();
	test_scroll();
	test_trim();
	return check_end("test_window");
}
