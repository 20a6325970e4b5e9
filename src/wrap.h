/* wrap.h: breaking text into screen lines by cells, CJK-aware, and fitting names into columns. */
#ifndef TINCAN_WRAP_H
#define TINCAN_WRAP_H

#include <stddef.h>
#include <wchar.h>

/* One screen line: s[start .. start+len), `cells` wide. The spaces a line was broken at and the
 * '\n' that ended it belong to no line. */
struct wrap_line {
	size_t start, len;
	int cells;
};

/* Break s[0..n) into lines of at most `width` cells; continuation lines have `indent` cells less
 * room (the caller draws the indent). Breaks between any two wide (CJK) characters and between
 * a wide and a narrow one, at spaces in Latin text (a Latin word longer than a line is split by
 * cells), never splits a wide character or separates a base from its zero-width marks, never
 * starts a line with closing punctuation (，。！？、」』） and ASCII ,.!?;:)]}) nor ends one with
 * an opening bracket (simple kinsoku: the character before is pulled down instead). '\n' forces a
 * break. A room below 1 cell counts as 1; a wide character that cannot fit gets a line of its own
 * (the only case where a line is wider than its room). Empty text is one empty line, and each
 * '\n' starts one more. Returns the number of lines; only the first `max` are stored in out
 * (out may be NULL when max is 0). */
int wrap_text(const wchar_t *s, size_t n, int width, int indent, struct wrap_line *out, int max);

/* Truncate or pad s[0..n) to exactly `cells` cells (names in panes and the nick column): text
 * that does not fit is cut at a character boundary and marked with '+', then spaces pad.
 * Writes at most cap - 1 characters and an L'\0' (cap > 0); cap >= cells + n + 2 is always
 * enough. Returns the number of characters written. */
size_t wrap_fit(const wchar_t *s, size_t n, int cells, wchar_t *out, size_t cap);

#endif
