/* wrap.c: breaking text into screen lines by cells, CJK-aware, and fitting names into columns. */
#include <limits.h>
#include <wchar.h>

#include "text.h"
#include "wrap.h"

/* Closing punctuation that must not begin a line. */
static const wchar_t no_start_chars[] =
	L"!),.:;?]}"
	L"\x3001\x3002\xFF0C\xFF0E\xFF1A\xFF1B\xFF1F\xFF01"	/* 、。，．：；？！ */
	L"\x300D\x300F\xFF09\x3011\x3015\x3009\x300B\x3017\x3019\x301B"	/* 」』）】〕〉》〗〙〛 */
	L"\xFF3D\xFF5D\xFF60\x301E\x301F\x2019\x201D"	/* ］｝｠〞〟’” */
	L"\x30FB\x2025\x2026\xFF61\xFF63\xFF64"	/* ・‥…｡｣､ */
	L"\x3063\x30C3\x30FC";	/* っッー */

/* Opening brackets that must not end a line. */
static const wchar_t no_end_chars[] =
	L"([{"
	L"\xFF08\xFF3B\xFF5B\x300C\x300E\x3010\x3014\x3008\x300A\x3016\x3018\x301A"	/* （［｛「『【〔〈《〖〘〚 */
	L"\x301D\x2018\x201C\xFF5F\xFF62";	/* 〝‘“｟｢ */

static int
in_set(const wchar_t *set, wchar_t c)
{
	return c != 0 && wcschr(set, c) != NULL;
}

static int
no_start(wchar_t c)
{
	return in_set(no_start_chars, c);
}

static int
no_end(wchar_t c)
{
	return in_set(no_end_chars, c);
}

/* End of the cell group starting at i: the character plus the zero-width ones after it. */
static size_t
group_end(const wchar_t *s, size_t n, size_t i)
{
	for (i++; i < n && s[i] != '\n' && text_width(s[i]) == 0; i++)
		;
	return i;
}

/* Start of the group that ends at k, not going back past pos (k > pos). */
static size_t
group_start(const wchar_t *s, size_t pos, size_t k)
{
	size_t j = k - 1;

	while (j > pos && text_width(s[j]) == 0)
		j--;
	return j;
}

/* May a line end before group i whose previous group starts at p? (neither is a space) */
static int
wide_break(const wchar_t *s, size_t p, size_t i)
{
	if (text_width(s[p]) != 2 && text_width(s[i]) != 2)
		return 0;
	if (s[i - 1] == 0x200D)	/* inside a ZWJ emoji sequence */
		return 0;
	return !no_start(s[i]) && !no_end(s[p]);
}

/* Where to cut a line that overflows at group i (pos < i) when no break was found: before i,
 * or further back while the cut would start a line with closing punctuation or end one with
 * an opening bracket, keeping at least one group on the line. */
static size_t
forced_cut(const wchar_t *s, size_t pos, size_t i)
{
	size_t k = i;

	for (;;) {
		size_t p = group_start(s, pos, k);
		if (p == pos || (!no_start(s[k]) && !no_end(s[p])))
			return k;
		k = p;
	}
}

static void
emit(struct wrap_line *out, int max, int *count, size_t start, size_t end, int cells)
{
	if (*count < max && out != NULL) {
		out[*count].start = start;
		out[*count].len = end - start;
		out[*count].cells = cells;
	}
	(*count)++;
}

int
wrap_text(const wchar_t *s, size_t n, int width, int indent, struct wrap_line *out, int max)
{
	size_t pos = 0;
	int count = 0, first = 1;

	if (indent < 0)
		indent = 0;
	if (width > INT_MAX / 2)	/* cells + w never overflows */
		width = INT_MAX / 2;
	for (;;) {
		int room = first ? width : (indent >= width ? 1 : width - indent);
		size_t i = pos, prev = pos, brk_end = 0, brk_next = 0;
		int cells = 0, brk_cells = 0, have_brk = 0;

		if (room < 1)
			room = 1;
		first = 0;
		for (;;) {
			size_t g;
			int w;

			if (i == n || s[i] == '\n') {
				emit(out, max, &count, pos, i, cells);
				if (i == n)
					return count;
				pos = i + 1;
				break;
			}
			g = group_end(s, n, i);
			w = text_width(s[i]);
			if (i > pos && s[i] == ' ' && s[prev] != ' ') {
				size_t j = i;
				while (j < n && s[j] == ' ')
					j = group_end(s, n, j);
				have_brk = 1;
				brk_end = i;
				brk_next = j;
				brk_cells = cells;
			} else if (i > pos && s[i] != ' ' && s[prev] != ' ' && wide_break(s, prev, i)) {
				have_brk = 1;
				brk_end = brk_next = i;
				brk_cells = cells;
			}
			if (cells + w <= room) {
				cells += w;
				prev = i;
				i = g;
				continue;
			}
			if (have_brk) {
				emit(out, max, &count, pos, brk_end, brk_cells);
				pos = brk_next;
				if (brk_next > brk_end) {	/* broke at spaces */
					if (pos == n)
						return count;
					if (s[pos] == '\n')
						pos++;
				}
			} else if (i == pos) {	/* a wide character on a 1-cell line */
				emit(out, max, &count, pos, g, w);
				if (g == n)
					return count;
				pos = g;
			} else {
				size_t k = forced_cut(s, pos, i);
				emit(out, max, &count, pos, k, text_cells(s + pos, k - pos));
				pos = k;
			}
			break;
		}
	}
}

size_t
wrap_fit(const wchar_t *s, size_t n, int cells, wchar_t *out, size_t cap)
{
	size_t i = 0, o = 0;
	int used = 0, total, limit, cut;

	if (cap == 0)
		return 0;
	if (cells < 0)
		cells = 0;
	if (cells > INT_MAX / 2)
		cells = INT_MAX / 2;
	total = text_cells(s, n);
	cut = total > cells;
	limit = cut ? cells - 1 : cells;
	while (i < n) {
		size_t g = group_end(s, n, i);
		int w = text_width(s[i]);

		/* the group, a '+' and the padding must still fit in out */
		if (used + w > limit || g - i + 1 + (size_t)(cells - used - w) > cap - 1 - o) {
			cut = 1;
			break;
		}
		while (i < g)
			out[o++] = s[i++];
		used += w;
	}
	if (cut && cells > 0 && o < cap - 1) {
		out[o++] = '+';
		used++;
	}
	while (used < cells && o < cap - 1) {
		out[o++] = ' ';
		used++;
	}
	out[o] = 0;
	return o;
}
