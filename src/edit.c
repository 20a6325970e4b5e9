/* edit.c: the input line editor: emacs keys over wide and combining characters, history, search. */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include "edit.h"
#include "text.h"

/* A character that joins the group of the one before it. */
static int
joins(wchar_t c)
{
	return text_width(c) == 0;
}

static size_t
next_group(const struct edit *e, size_t i)
{
	if (i >= e->len)
		return e->len;
	for (i++; i < e->len && joins(e->buf[i]); i++)
		;
	return i;
}

static size_t
prev_group(const struct edit *e, size_t i)
{
	if (i == 0)
		return 0;
	for (i--; i > 0 && joins(e->buf[i]); i--)
		;
	return i;
}

static int
is_word(wchar_t c)
{
	return iswalnum((wint_t)c);
}

static wchar_t *
wdup(const wchar_t *s, size_t n)
{
	wchar_t *d = malloc((n + 1) * sizeof(*d));

	if (d != NULL) {
		memcpy(d, s, n * sizeof(*d));
		d[n] = 0;
	}
	return d;
}

/* Every operation but a kill ends a run of kills. */
static void
not_kill(struct edit *e)
{
	e->kill_append = 0;
}

/* Replace the line without touching history or search state. */
static void
set_line(struct edit *e, const wchar_t *s)
{
	size_t n = s != NULL ? wcslen(s) : 0;

	if (n > EDIT_MAX)
		n = EDIT_MAX;
	if (n > 0)
		memcpy(e->buf, s, n * sizeof(*s));
	e->len = e->pos = n;
	e->buf[n] = 0;
	e->view_first = 0;
}

static void
drop_draft(struct edit *e)
{
	free(e->draft);
	e->draft = NULL;
	e->hist_at = -1;
}

void
edit_init(struct edit *e)
{
	memset(e, 0, sizeof(*e));
	e->hist_at = -1;
	e->search_at = -1;
}

void
edit_free(struct edit *e)
{
	for (int i = 0; i < e->hist_n; i++)
		free(e->hist[i]);
	free(e->draft);
	free(e->search_orig);
	edit_init(e);
}

/* Remove buf[a..b) and put the cursor at a. */
static void
cut(struct edit *e, size_t a, size_t b)
{
	memmove(e->buf + a, e->buf + b, (e->len - b) * sizeof(wchar_t));
	e->len -= b - a;
	e->buf[e->len] = 0;
	e->pos = a;
}

/* Keep the cursor off the inside of a group (after inserting before orphan marks). */
static void
settle(struct edit *e)
{
	while (e->pos < e->len && e->pos > 0 && joins(e->buf[e->pos]))
		e->pos++;
}

static int
insert_one(struct edit *e, wchar_t c)
{
	if (c == '\t')
		c = ' ';
	else if (c == '\r')
		c = '\n';
	if ((c < 0x20 && c != '\n') || (c >= 0x7F && c <= 0x9F) || c > 0x10FFFF ||
	    (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	if (e->len >= EDIT_MAX)
		return -1;
	memmove(e->buf + e->pos + 1, e->buf + e->pos, (e->len - e->pos) * sizeof(wchar_t));
	e->buf[e->pos++] = c;
	e->buf[++e->len] = 0;
	return 0;
}

int
edit_insert(struct edit *e, wchar_t c)
{
	int r;

	not_kill(e);
	r = insert_one(e, c);
	settle(e);
	return r;
}

int
edit_insert_str(struct edit *e, const wchar_t *s, size_t n)
{
	not_kill(e);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		if (insert_one(e, s[i]) < 0) {
			settle(e);
			return -1;
		}
	}
	settle(e);
	return 0;
}

void
edit_set(struct edit *e, const wchar_t *s, size_t n)
{
	e->len = e->pos = 0;
	e->buf[0] = 0;
	e->view_first = 0;
	edit_insert_str(e, s, n);
}

void
edit_clear(struct edit *e)
{
	not_kill(e);
	if (e->searching) {
		free(e->search_orig);
		e->search_orig = NULL;
		e->searching = 0;
	}
	drop_draft(e);
	set_line(e, NULL);
}

void
edit_left(struct edit *e)
{
	not_kill(e);
	e->pos = prev_group(e, e->pos);
}

void
edit_right(struct edit *e)
{
	not_kill(e);
	e->pos = next_group(e, e->pos);
}

static size_t
word_start(const struct edit *e, size_t p)
{
	while (p > 0 && !is_word(e->buf[prev_group(e, p)]))
		p = prev_group(e, p);
	while (p > 0 && is_word(e->buf[prev_group(e, p)]))
		p = prev_group(e, p);
	return p;
}

static size_t
word_end(const struct edit *e, size_t p)
{
	while (p < e->len && !is_word(e->buf[p]))
		p = next_group(e, p);
	while (p < e->len && is_word(e->buf[p]))
		p = next_group(e, p);
	return p;
}

void
edit_word_left(struct edit *e)
{
	not_kill(e);
	e->pos = word_start(e, e->pos);
}

void
edit_word_right(struct edit *e)
{
	not_kill(e);
	e->pos = word_end(e, e->pos);
}

void
edit_home(struct edit *e)
{
	not_kill(e);
	e->pos = 0;
}

void
edit_end(struct edit *e)
{
	not_kill(e);
	e->pos = e->len;
}

void
edit_backspace(struct edit *e)
{
	not_kill(e);
	cut(e, prev_group(e, e->pos), e->pos);
}

void
edit_delete(struct edit *e)
{
	not_kill(e);
	cut(e, e->pos, next_group(e, e->pos));
}

/* Kill buf[a..b): into the kill buffer (joined to the last kill when that was the previous
 * operation: appended for a forward kill, prepended for a backward one), then out of the line. */
static void
kill_range(struct edit *e, size_t a, size_t b, int backward)
{
	size_t n = b - a;

	if (!e->kill_append)
		e->kill_len = 0;
	if (n > EDIT_MAX - e->kill_len)
		n = EDIT_MAX - e->kill_len;
	if (backward) {
		memmove(e->kill + n, e->kill, e->kill_len * sizeof(wchar_t));
		memcpy(e->kill, e->buf + b - n, n * sizeof(wchar_t));
	} else {
		memcpy(e->kill + e->kill_len, e->buf + a, n * sizeof(wchar_t));
	}
	e->kill_len += n;
	e->kill[e->kill_len] = 0;
	e->kill_append = 1;
	cut(e, a, b);
}

void
edit_kill_end(struct edit *e)
{
	kill_range(e, e->pos, e->len, 0);
}

void
edit_kill_start(struct edit *e)
{
	kill_range(e, 0, e->pos, 1);
}

void
edit_kill_word_back(struct edit *e)
{
	kill_range(e, word_start(e, e->pos), e->pos, 1);
}

void
edit_kill_word_fwd(struct edit *e)
{
	kill_range(e, e->pos, word_end(e, e->pos), 0);
}

void
edit_yank(struct edit *e)
{
	not_kill(e);
	for (size_t i = 0; i < e->kill_len; i++)
		if (insert_one(e, e->kill[i]) < 0)
			break;
	settle(e);
}

static void
reverse(wchar_t *s, size_t a, size_t b)
{
	while (a + 1 < b) {
		wchar_t t = s[a];
		s[a++] = s[--b];
		s[b] = t;
	}
}

void
edit_transpose(struct edit *e)
{
	size_t a, b, c;

	not_kill(e);
	if (e->pos == 0 || e->len == 0)
		return;
	if (e->pos == e->len) {
		b = prev_group(e, e->len);
		c = e->len;
		if (b == 0)
			return;
		a = prev_group(e, b);
	} else {
		a = prev_group(e, e->pos);
		b = e->pos;
		c = next_group(e, e->pos);
	}
	/* swap [a,b) and [b,c) by three reversals */
	reverse(e->buf, a, b);
	reverse(e->buf, b, c);
	reverse(e->buf, a, c);
	e->pos = c;
}

int
edit_cursor_cells(const struct edit *e)
{
	return text_cells(e->buf, e->pos);
}

void
edit_view(struct edit *e, int width, struct edit_view *v)
{
	size_t first = e->view_first, end;
	int markers, lm, rm, avail, rest, need, cur, used;

	if (width < 1)
		width = 1;
	markers = width >= 3;
	if (first > e->pos)
		first = e->pos;
	while (first > 0 && first < e->len && joins(e->buf[first]))
		first--;
	rest = text_cells(e->buf + first, e->len - first) + 1;	/* +1: the cursor after the end */
	need = text_cells(e->buf + first, e->pos - first);
	cur = e->pos < e->len ? text_width(e->buf[e->pos]) : 1;
	if (cur < 1)
		cur = 1;
	need += cur;
	/* no blank cells at the right while text is hidden at the left (after a resize or a
	 * deletion); when the rest fits, so does the cursor */
	while (first > 0) {
		size_t cand = prev_group(e, first);
		int w = text_width(e->buf[cand]);
		if (rest + w > width - (markers && cand > 0))
			break;
		first = cand;
		rest += w;
		need += w;
	}
	for (;;) {
		int w;
		size_t next;

		lm = markers && first > 0;
		avail = width - lm;
		rm = markers && rest > avail;
		if (need <= avail - rm || first >= e->pos)
			break;
		next = next_group(e, first);
		w = text_width(e->buf[first]);
		rest -= w;
		need -= w;
		first = next;
	}
	e->view_first = first;
	used = 0;
	for (end = first; end < e->len;) {
		size_t next = next_group(e, end);
		int w = text_width(e->buf[end]);
		if (used + w > avail - rm)
			break;
		used += w;
		end = next;
	}
	v->first = first;
	v->end = end;
	v->left_marker = lm;
	v->right_marker = rm;
	v->cursor_col = lm + text_cells(e->buf + first, e->pos - first);
}

size_t
edit_utf8(const struct edit *e, char *out, size_t cap)
{
	return text_to_utf8(e->buf, e->len, out, cap);
}

void
edit_hist_add(struct edit *e, const wchar_t *s, size_t n)
{
	wchar_t *d;

	not_kill(e);
	drop_draft(e);
	if (n == 0)
		return;
	if (n > EDIT_MAX)
		n = EDIT_MAX;
	if (e->hist_n > 0 && wcslen(e->hist[0]) == n && wmemcmp(e->hist[0], s, n) == 0)
		return;
	if ((d = wdup(s, n)) == NULL)
		return;
	if (e->hist_n == EDIT_HIST)
		free(e->hist[--e->hist_n]);
	memmove(e->hist + 1, e->hist, (size_t)e->hist_n * sizeof(e->hist[0]));
	e->hist[0] = d;
	e->hist_n++;
}

int
edit_hist_up(struct edit *e)
{
	not_kill(e);
	if (e->searching || e->hist_at + 1 >= e->hist_n)
		return 0;
	if (e->hist_at < 0) {
		free(e->draft);
		e->draft = wdup(e->buf, e->len);
	}
	e->hist_at++;
	set_line(e, e->hist[e->hist_at]);
	return 1;
}

int
edit_hist_down(struct edit *e)
{
	not_kill(e);
	if (e->searching || e->hist_at < 0)
		return 0;
	e->hist_at--;
	if (e->hist_at < 0) {
		set_line(e, e->draft);
		drop_draft(e);
	} else {
		set_line(e, e->hist[e->hist_at]);
	}
	return 1;
}

/* Show the newest entry from index `from` on that contains the query. */
static int
search_from(struct edit *e, int from)
{
	for (int i = from < 0 ? 0 : from; i < e->hist_n; i++) {
		const wchar_t *p = wcsstr(e->hist[i], e->query);
		if (p == NULL)
			continue;
		e->search_at = i;
		set_line(e, e->hist[i]);
		e->pos = (size_t)(p - e->hist[i]);
		if (e->pos > e->len)
			e->pos = e->len;
		if (e->pos > 0 && e->pos < e->len && joins(e->buf[e->pos]))
			e->pos = prev_group(e, e->pos);
		return 1;
	}
	return 0;
}

void
edit_search_start(struct edit *e)
{
	not_kill(e);
	if (e->searching) {
		edit_search_next(e);
		return;
	}
	e->searching = 1;
	e->query_len = 0;
	e->query[0] = 0;
	e->search_at = -1;
	e->search_orig = wdup(e->buf, e->len);
	e->search_orig_pos = e->pos;
}

int
edit_search_input(struct edit *e, wchar_t c)
{
	if (!e->searching || c < 0x20 || (c >= 0x7F && c <= 0x9F) || e->query_len >= EDIT_QUERY)
		return 0;
	e->query[e->query_len++] = c;
	e->query[e->query_len] = 0;
	return search_from(e, e->search_at);
}

static void
restore_orig(struct edit *e)
{
	set_line(e, e->search_orig);
	e->pos = e->search_orig_pos <= e->len ? e->search_orig_pos : e->len;
}

int
edit_search_backspace(struct edit *e)
{
	if (!e->searching || e->query_len == 0)
		return 0;
	e->query[--e->query_len] = 0;
	e->search_at = -1;
	if (e->query_len == 0) {
		restore_orig(e);
		return 1;
	}
	return search_from(e, 0);
}

int
edit_search_next(struct edit *e)
{
	if (!e->searching || e->query_len == 0)
		return 0;
	return search_from(e, e->search_at + 1);
}

static void
search_end(struct edit *e)
{
	free(e->search_orig);
	e->search_orig = NULL;
	e->searching = 0;
	e->search_at = -1;
	drop_draft(e);
}

void
edit_search_accept(struct edit *e)
{
	if (e->searching)
		search_end(e);
}

void
edit_search_cancel(struct edit *e)
{
	if (!e->searching)
		return;
	restore_orig(e);
	search_end(e);
}
