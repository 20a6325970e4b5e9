/* test_edit.c: the input line editor over wide and combining characters, view, history, search. */
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "check.h"
#include "edit.h"
#include "text.h"

static struct edit ed;	/* big: keep it off the stack */

static void
put(struct edit *e, const wchar_t *s)
{
	CHECK(edit_insert_str(e, s, wcslen(s)) == 0);
}

static int
line_is(const struct edit *e, const wchar_t *want)
{
	if (e->len == wcslen(want) && wcscmp(e->buf, want) == 0)
		return 1;
	fprintf(stderr, "  line is \"%ls\" (pos %zu), want \"%ls\"\n", e->buf, e->pos, want);
	return 0;
}

/* 你好，世界 abc */
static const wchar_t hello[] = L"\x4F60\x597D\xFF0C\x4E16\x754C abc";

static void
test_move(void)
{
	struct edit *e = &ed;

	edit_init(e);
	put(e, hello);
	CHECK(e->len == 9 && e->pos == 9);
	CHECK(edit_cursor_cells(e) == 14);
	edit_left(e);
	CHECK(e->pos == 8 && edit_cursor_cells(e) == 13);
	edit_home(e);
	CHECK(e->pos == 0 && edit_cursor_cells(e) == 0);
	edit_right(e);
	edit_right(e);
	edit_right(e);
	CHECK(e->pos == 3 && edit_cursor_cells(e) == 6);
	edit_left(e);
	CHECK(edit_cursor_cells(e) == 4);
	edit_end(e);
	edit_word_left(e);
	CHECK(e->pos == 6);
	edit_word_left(e);
	CHECK(e->pos == 3);
	edit_word_left(e);
	CHECK(e->pos == 0);
	edit_word_left(e);
	CHECK(e->pos == 0);
	edit_word_right(e);
	CHECK(e->pos == 2);
	edit_word_right(e);
	CHECK(e->pos == 5);
	edit_word_right(e);
	CHECK(e->pos == 9);
	edit_right(e);
	CHECK(e->pos == 9);

	/* e + combining acute is one group: never stop between them */
	edit_clear(e);
	put(e, L"e\x0301x");
	edit_left(e);
	CHECK(e->pos == 2);
	edit_left(e);
	CHECK(e->pos == 0);
	edit_right(e);
	CHECK(e->pos == 2 && edit_cursor_cells(e) == 1);
	edit_backspace(e);
	CHECK(line_is(e, L"x") && e->pos == 0);
	edit_backspace(e);
	CHECK(line_is(e, L"x"));
	edit_clear(e);
	put(e, L"\x304B\x3099" L"a");	/* か + combining dakuten = が */
	edit_home(e);
	edit_delete(e);
	CHECK(line_is(e, L"a") && e->pos == 0);
	edit_end(e);
	edit_delete(e);
	CHECK(line_is(e, L"a"));
	/* a base typed before an orphan mark takes it: the cursor goes past the mark */
	edit_set(e, L"\x0301" L"a", 2);
	edit_home(e);
	CHECK(edit_insert(e, 'e') == 0);
	CHECK(line_is(e, L"e\x0301" L"a") && e->pos == 2);
	edit_free(e);
}

static void
test_insert(void)
{
	struct edit *e = &ed;
	int r = 0;

	edit_init(e);
	CHECK(edit_insert(e, '\t') == 0 && edit_insert(e, 0x1B) == 0 && edit_insert(e, 0x85) == 0);
	CHECK(edit_insert(e, '\r') == 0 && edit_insert(e, 0xD800) == 0);
	CHECK(line_is(e, L" \n"));
	edit_clear(e);
	put(e, L"a\r\nb\rc\x7f");
	CHECK(line_is(e, L"a\nb\nc"));
	edit_home(e);
	put(e, L"\x4E2D");
	CHECK(e->pos == 1 && line_is(e, L"\x4E2D" L"a\nb\nc"));
	edit_clear(e);
	for (int i = 0; i < EDIT_MAX && r == 0; i++)
		r = edit_insert(e, 0x4E2D);
	CHECK(r == 0 && e->len == EDIT_MAX);
	CHECK(edit_insert(e, 'a') == -1 && e->len == EDIT_MAX && e->buf[EDIT_MAX] == 0);
	edit_clear(e);
	{
		static wchar_t big[EDIT_MAX + 10];
		wmemset(big, 'z', EDIT_MAX + 10);
		CHECK(edit_insert_str(e, big, EDIT_MAX + 10) == -1 && e->len == EDIT_MAX);
	}
	edit_clear(e);
	CHECK(e->len == 0 && e->pos == 0 && e->buf[0] == 0);
	edit_free(e);
}

static void
test_kill(void)
{
	struct edit *e = &ed;

	edit_init(e);
	put(e, L"hello big world");
	edit_kill_word_back(e);
	CHECK(line_is(e, L"hello big "));
	edit_kill_word_back(e);	/* consecutive: joins up */
	CHECK(line_is(e, L"hello "));
	edit_yank(e);
	CHECK(line_is(e, L"hello big world") && e->pos == 15);
	edit_yank(e);
	CHECK(line_is(e, L"hello big worldbig world"));

	edit_set(e, L"hello big world", 15);
	edit_home(e);
	edit_kill_word_fwd(e);
	edit_kill_word_fwd(e);
	CHECK(line_is(e, L" world") && e->pos == 0);
	edit_end(e);
	edit_yank(e);
	CHECK(line_is(e, L" worldhello big"));

	/* a movement between kills starts a new kill */
	edit_set(e, L"one two", 7);
	edit_kill_word_back(e);
	edit_left(e);
	edit_kill_word_back(e);
	CHECK(line_is(e, L" "));	/* "one" replaced "two" in the kill buffer */
	edit_end(e);
	edit_yank(e);
	CHECK(line_is(e, L" one"));

	edit_set(e, L"abc def", 7);
	edit_home(e);
	edit_word_right(e);
	edit_right(e);
	edit_kill_start(e);
	CHECK(line_is(e, L"def") && e->pos == 0);
	edit_kill_end(e);	/* Ctrl+U then Ctrl+K: "abc " + "def" */
	CHECK(line_is(e, L""));
	edit_yank(e);
	CHECK(line_is(e, L"abc def"));

	/* kills over CJK and marks take whole groups */
	edit_set(e, hello, 9);
	edit_kill_word_back(e);
	edit_kill_word_back(e);
	CHECK(line_is(e, L"\x4F60\x597D\xFF0C"));
	edit_home(e);
	edit_yank(e);
	CHECK(line_is(e, L"\x4E16\x754C abc\x4F60\x597D\xFF0C") && e->pos == 6);
	edit_set(e, L"e\x0301\x0302 x", 5);
	edit_home(e);
	edit_kill_end(e);
	CHECK(e->len == 0 && e->kill_len == 5);
	edit_free(e);
}

static void
test_transpose(void)
{
	struct edit *e = &ed;

	edit_init(e);
	put(e, L"ab");
	edit_transpose(e);
	CHECK(line_is(e, L"ba") && e->pos == 2);
	edit_set(e, L"abc", 3);
	edit_home(e);
	edit_transpose(e);	/* at the start: nothing */
	CHECK(line_is(e, L"abc") && e->pos == 0);
	edit_right(e);
	edit_transpose(e);
	CHECK(line_is(e, L"bac") && e->pos == 2);
	edit_set(e, L"\x4E2D" L"a", 2);
	edit_transpose(e);
	CHECK(line_is(e, L"a\x4E2D"));
	edit_set(e, L"e\x0301\x0302x", 4);
	edit_transpose(e);
	CHECK(line_is(e, L"xe\x0301\x0302") && e->pos == 4);
	edit_set(e, L"x", 1);
	edit_transpose(e);
	CHECK(line_is(e, L"x"));
	edit_free(e);
}

static void
check_view(struct edit *e, int width)
{
	struct edit_view v;
	int text;

	edit_view(e, width, &v);
	text = text_cells(e->buf + v.first, v.end - v.first);
	CHECK(v.first <= e->pos && v.first <= v.end && v.end <= e->len);
	CHECK(v.first == 0 || v.first == e->len || text_width(e->buf[v.first]) != 0);	/* a group start */
	CHECK(v.left_marker == (v.first > 0 && width >= 3));
	CHECK(v.cursor_col == v.left_marker + text_cells(e->buf + v.first, e->pos - v.first));
	CHECK(v.left_marker + text + v.right_marker <= (width < 1 ? 1 : width));
	if (width >= 4) {
		/* the cursor and the character under it are on screen */
		int under = e->pos < e->len ? text_width(e->buf[e->pos]) : 1;
		CHECK(v.cursor_col + (under ? under : 1) <= width - v.right_marker);
		CHECK(e->pos == e->len || v.end > e->pos);
		/* no cells wasted at the right while text is hidden at the left */
		if (v.first > 0) {
			size_t p = v.first - 1;
			while (p > 0 && text_width(e->buf[p]) == 0)
				p--;
			CHECK(text_cells(e->buf + p, e->len - p) + 1 > width - (p > 0));
		}
		CHECK(v.right_marker == (v.end < e->len || text_cells(e->buf + v.first,
		    e->len - v.first) + 1 > width - v.left_marker));
	}
}

static uint32_t rng = 777;

static void
test_view(void)
{
	struct edit *e = &ed;
	struct edit_view v;
	static const wchar_t alpha[] = { 'a', ' ', 0x4E2D, 0xFF0C, 0x0301, 0x1F600, 'z' };

	edit_init(e);
	put(e, hello);
	edit_view(e, 20, &v);
	CHECK(v.first == 0 && v.end == 9 && !v.left_marker && !v.right_marker && v.cursor_col == 14);
	edit_view(e, 8, &v);
	CHECK(v.first == 4 && v.end == 9 && v.left_marker && !v.right_marker && v.cursor_col == 7);
	edit_home(e);
	edit_view(e, 8, &v);
	CHECK(v.first == 0 && v.end == 3 && !v.left_marker && v.right_marker && v.cursor_col == 0);
	edit_right(e);
	edit_right(e);
	edit_view(e, 8, &v);	/* moving right within the window does not scroll */
	CHECK(v.first == 0 && v.cursor_col == 4);
	edit_right(e);
	edit_view(e, 8, &v);	/* 世 at 6..7 would cover the '>' cell: scroll by whole groups */
	CHECK(v.first > 0 && v.cursor_col + 2 <= 7);
	for (int w = 1; w <= 4; w++) {
		edit_end(e);
		check_view(e, w);
		edit_home(e);
		check_view(e, w);
	}
	edit_end(e);
	edit_view(e, 3, &v);
	CHECK(v.first == 8 && v.cursor_col == 2 && v.left_marker);	/* "<c" and the cursor */
	edit_view(e, 40, &v);	/* wider again: everything shows */
	CHECK(v.first == 0 && v.end == 9 && !v.left_marker && v.cursor_col == 14);
	/* random edits and widths keep the invariants */
	for (int round = 0; round < 20000 && failures < 20; round++) {
		switch (check_rand32(&rng) % 6) {
		case 0: case 1:
			edit_insert(e, alpha[check_rand32(&rng) % (sizeof(alpha) / sizeof(alpha[0]))]);
			break;
		case 2: edit_left(e); break;
		case 3: edit_right(e); break;
		case 4: if (check_rand32(&rng) % 4 == 0) edit_backspace(e); else edit_home(e); break;
		default: if (e->len > 60) edit_clear(e); else edit_end(e); break;
		}
		check_view(e, 1 + (int)(check_rand32(&rng) % 24));
	}
	edit_free(e);
}

static void
test_history(void)
{
	struct edit *e = &ed;
	wchar_t tmp[16];

	edit_init(e);
	CHECK(edit_hist_up(e) == 0);
	edit_hist_add(e, L"one", 3);
	edit_hist_add(e, L"two", 3);
	edit_hist_add(e, L"two", 3);	/* repeat of the newest: not kept */
	edit_hist_add(e, L"", 0);
	edit_hist_add(e, L"three", 5);
	CHECK(e->hist_n == 3);
	put(e, L"dr");
	CHECK(edit_hist_down(e) == 0);
	CHECK(edit_hist_up(e) == 1 && line_is(e, L"three") && e->pos == 5);
	CHECK(edit_hist_up(e) == 1 && line_is(e, L"two"));
	edit_insert(e, 'X');	/* editing a recalled entry leaves the history alone */
	CHECK(line_is(e, L"twoX"));
	CHECK(edit_hist_up(e) == 1 && line_is(e, L"one"));
	CHECK(edit_hist_up(e) == 0 && line_is(e, L"one"));
	CHECK(edit_hist_down(e) == 1 && line_is(e, L"two"));
	CHECK(edit_hist_down(e) == 1 && line_is(e, L"three"));
	CHECK(edit_hist_down(e) == 1 && line_is(e, L"dr"));
	CHECK(edit_hist_down(e) == 0 && line_is(e, L"dr"));
	edit_clear(e);
	CHECK(edit_hist_up(e) == 1 && line_is(e, L"three"));
	edit_clear(e);
	for (int i = 0; i < EDIT_HIST + 50; i++) {
		swprintf(tmp, 16, L"m%d", i);
		edit_hist_add(e, tmp, wcslen(tmp));
	}
	CHECK(e->hist_n == EDIT_HIST);
	for (int i = 0; i < EDIT_HIST; i++)
		CHECK(edit_hist_up(e) == 1);
	CHECK(edit_hist_up(e) == 0 && line_is(e, L"m50"));
	edit_free(e);
	CHECK(e->hist_n == 0);
}

static void
test_search(void)
{
	struct edit *e = &ed;

	edit_init(e);
	edit_hist_add(e, L"hello world", 11);
	edit_hist_add(e, L"foo bar", 7);
	edit_hist_add(e, L"say hello there", 15);
	put(e, L"draft");
	edit_search_start(e);
	CHECK(e->searching && line_is(e, L"draft"));
	CHECK(edit_search_input(e, 'h') == 1 && line_is(e, L"say hello there") && e->pos == 4);
	CHECK(edit_search_input(e, 'e') == 1 && edit_search_input(e, 'l') == 1);
	CHECK(line_is(e, L"say hello there") && e->pos == 4);
	CHECK(edit_search_next(e) == 1 && line_is(e, L"hello world") && e->pos == 0);
	CHECK(edit_search_next(e) == 0 && line_is(e, L"hello world"));
	CHECK(edit_search_input(e, 'z') == 0);	/* failing: the line stays */
	CHECK(line_is(e, L"hello world"));
	CHECK(edit_search_backspace(e) == 1 && line_is(e, L"say hello there"));
	edit_search_cancel(e);
	CHECK(!e->searching && line_is(e, L"draft") && e->pos == 5);

	edit_search_start(e);
	CHECK(edit_search_input(e, 'b') == 1 && line_is(e, L"foo bar") && e->pos == 4);
	CHECK(edit_search_backspace(e) == 1 && line_is(e, L"draft"));	/* empty query */
	CHECK(edit_search_input(e, 'o') == 1 && line_is(e, L"say hello there") && e->pos == 8);
	edit_search_start(e);	/* Ctrl+R again: the next older match */
	CHECK(line_is(e, L"foo bar") && e->pos == 1);
	edit_search_accept(e);
	CHECK(!e->searching && line_is(e, L"foo bar") && e->hist_n == 3);
	edit_insert(e, 'X');
	CHECK(wcscmp(e->hist[1], L"foo bar") == 0);
	CHECK(edit_search_input(e, 'a') == 0);	/* not searching */
	edit_free(e);
}

static void
test_utf8(void)
{
	struct edit *e = &ed;
	char out[32];

	edit_init(e);
	put(e, L"\x4F60\x597D a\x1F600");
	CHECK(edit_utf8(e, out, sizeof(out)) == 12);
	CHECK(strcmp(out, "\xe4\xbd\xa0\xe5\xa5\xbd a\xf0\x9f\x98\x80") == 0);
	CHECK(edit_utf8(e, out, 5) == 3 && strcmp(out, "\xe4\xbd\xa0") == 0);
	edit_free(e);
}

int
main(void)
{
	if (setlocale(LC_ALL, "C.UTF-8") == NULL) {
		fprintf(stderr, "test_edit: no C.UTF-8 locale\n");
		return 1;
	}
	test_move();
	test_insert();
	test_kill();
	test_transpose();
	test_view();
	test_history();
	test_search();
	test_utf8();
	return check_end("test_edit");
}
