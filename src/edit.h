/* edit.h: the input line editor: emacs keys over wide and combining characters, history, search. */
#ifndef TINCAN_EDIT_H
#define TINCAN_EDIT_H

#include <stddef.h>
#include <wchar.h>

enum {
	EDIT_MAX = 4096,	/* characters in the line (a paste of many lines fits) */
	EDIT_HIST = 100,	/* history entries kept per window */
	EDIT_QUERY = 64,	/* characters in a Ctrl+R query */
};

/* One window's input line. The cursor `pos` is a character index and always sits at the start
 * of a cell group (a character plus the zero-width marks after it). Fields are read-only for
 * callers; change them through the functions below. */
struct edit {
	wchar_t buf[EDIT_MAX + 1];	/* buf[len] == 0 */
	size_t len, pos;
	wchar_t kill[EDIT_MAX + 1];	/* the kill ring, one entry deep */
	size_t kill_len;
	int kill_append;	/* the last operation was a kill: the next one appends */
	size_t view_first;	/* horizontal scroll: first character drawn */
	wchar_t *hist[EDIT_HIST];	/* hist[0] newest; entries are malloc'd, NUL-terminated */
	int hist_n;
	int hist_at;	/* -1: editing the draft, else the recalled entry */
	wchar_t *draft;	/* the line being typed when Up was first pressed */
	int searching;	/* Ctrl+R mode */
	wchar_t query[EDIT_QUERY + 1];
	size_t query_len;
	int search_at;	/* entry shown by the search, -1 for none */
	wchar_t *search_orig;	/* the line before Ctrl+R, restored on cancel */
	size_t search_orig_pos;
};

/* What to draw of the line in `width` cells: characters [first, end), with '<' in the first
 * cell when left_marker and '>' in the last cell when right_marker; cursor_col is the screen
 * column of the cursor, counting the '<'. */
struct edit_view {
	size_t first, end;
	int left_marker, right_marker;
	int cursor_col;
};

void edit_init(struct edit *e);
void edit_free(struct edit *e);	/* frees the history; the struct can be edit_init'ed again */

/* Insert at the cursor. TAB becomes a space, CR becomes '\n', other control characters are
 * dropped. Return -1 when the line is full (what fits is inserted), else 0. */
int edit_insert(struct edit *e, wchar_t c);
int edit_insert_str(struct edit *e, const wchar_t *s, size_t n);	/* paste; CR LF -> '\n' */
void edit_set(struct edit *e, const wchar_t *s, size_t n);	/* replace the line, cursor at end */
void edit_clear(struct edit *e);	/* empty line; leaves history browsing */

/* Movement, by cell group: never half a wide character, never between a base and its marks. */
void edit_left(struct edit *e);
void edit_right(struct edit *e);
void edit_word_left(struct edit *e);	/* Alt+B */
void edit_word_right(struct edit *e);	/* Alt+F */
void edit_home(struct edit *e);
void edit_end(struct edit *e);

/* Deleting. The kill_* functions save the text for edit_yank; consecutive kills join up. */
void edit_backspace(struct edit *e);
void edit_delete(struct edit *e);	/* Ctrl+D, Delete */
void edit_kill_end(struct edit *e);	/* Ctrl+K */
void edit_kill_start(struct edit *e);	/* Ctrl+U */
void edit_kill_word_back(struct edit *e);	/* Ctrl+W, Alt+Backspace */
void edit_kill_word_fwd(struct edit *e);	/* Alt+D */
void edit_yank(struct edit *e);	/* Ctrl+Y */
void edit_transpose(struct edit *e);	/* Ctrl+T: swap the groups around the cursor */

/* Cells before the cursor (its column when the line is drawn from index 0). */
int edit_cursor_cells(const struct edit *e);
/* Horizontal scrolling for a line of `width` cells, keeping the cursor visible; the window
 * moves as little as possible from the last call. */
void edit_view(struct edit *e, int width, struct edit_view *v);
/* The line as UTF-8: at most cap - 1 bytes of whole characters and a NUL; returns the length. */
size_t edit_utf8(const struct edit *e, char *out, size_t cap);

/* History. edit_hist_add stores a sent line (not empty, not a repeat of the newest) and leaves
 * browsing. Up/Down replace the line with older/newer entries and finally the draft; editing a
 * recalled line changes only the line. Return 0 when there is nowhere to go. */
void edit_hist_add(struct edit *e, const wchar_t *s, size_t n);
int edit_hist_up(struct edit *e);
int edit_hist_down(struct edit *e);

/* Ctrl+R: incremental reverse search. While e->searching, typed characters go to
 * edit_search_input, Backspace to edit_search_backspace, Ctrl+R again to edit_search_next; the
 * line shows the newest matching entry with the cursor on the match. Accept keeps that line,
 * cancel restores the line from before the search. Return 0 when nothing matches. */
void edit_search_start(struct edit *e);
int edit_search_input(struct edit *e, wchar_t c);
int edit_search_backspace(struct edit *e);
int edit_search_next(struct edit *e);
void edit_search_accept(struct edit *e);
void edit_search_cancel(struct edit *e);

#endif
