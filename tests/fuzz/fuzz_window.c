/* fuzz_window.c: peer text through the window model: sanitising, composing, wrapping by cells, rows and scrolling at any width. */
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "window.h"

static void
check_line(struct win *w, size_t i)
{
	struct wline *l = win_line(w, i);
	size_t cap = l->len + WIN_PREFIX_MAX;
	wchar_t *buf = malloc(cap * sizeof(*buf));
	struct wcompose c;
	struct wrap_line *wl;
	int n, rows = win_rows(w, i), extra = win_extra_rows(w, i, NULL, NULL);

	if (buf == NULL)
		abort();
	win_compose(w, l, buf, cap, &c);
	if (c.n >= cap || c.text_at > c.suffix_at || c.suffix_at > c.n || c.room < 1)
		abort();
	n = win_wrap(buf, &c, NULL, 0);
	if (n != rows - extra)	/* the cached count is the real one */
		abort();
	wl = malloc((size_t)n * sizeof(*wl));
	if (wl == NULL)
		abort();
	win_wrap(buf, &c, wl, n);
	for (int k = 0; k < n; k++) {
		size_t end = c.wrap_from + wl[k].start + wl[k].len;
		if (end > c.n)
			abort();
		/* only a wide character alone may be wider than the room */
		if (wl[k].cells > c.room && !(wl[k].cells == 2 && c.room == 1))
			abort();
		for (size_t j = c.wrap_from + wl[k].start; j < end; j++)
			if (j >= c.text_at && j < c.suffix_at && buf[j] < 0x20 && buf[j] != '\n')
				abort();	/* no control character reaches the screen */
	}
	free(wl);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct win_fmt f;
	struct win *w;
	size_t at = 4;

	if (!ready) {
		setlocale(LC_ALL, "C.UTF-8");
		ready = 1;
	}
	if (size < 4)
		return 0;
	memset(&f, 0, sizeof(f));
	f.width = data[0];
	f.bare = data[1] & 1;
	f.timestamps = (data[1] & 2) != 0;
	f.peer_offline = (data[1] & 4) != 0;
	text_set_ambiguous_wide(data[1] & 8);
	wcscpy(f.me, data[1] & 16 ? L"一个很长的名字一个很长的名字一个很长的名字" : L"me");
	w = win_new(2, "tcid", data[1] & 32 ? L"\x0301\x200b" : L"peer");
	win_set_fmt(w, &f);
	/* messages separated by 0xff; a byte before each gives kind, state and msgid */
	while (at < size) {
		const uint8_t *end = memchr(data + at, 0xff, size - at);
		size_t len = end ? (size_t)(end - data) - at : size - at;
		uint8_t meta = data[at - 1];
		win_add(w, meta % 6, (uint64_t)meta * 86400000u, meta >> 3, (const char *)data + at,
			len, meta & 64 ? LS_PENDING : LS_DELIVERED);
		at += len + 1;
	}
	for (size_t i = 0; i < w->n; i++)
		check_line(w, i);
	/* scrolling never leaves the lines */
	int height = data[2] % 40 + 1;
	win_scroll(w, data[3], height);
	win_fix_view(w);
	if (!w->at_bottom && (w->anchor >= w->n || w->skip < 0 || w->skip >= win_rows(w, w->anchor)))
		abort();
	win_scroll(w, -(int)data[2], height);
	win_show(w, data[3] % (w->n + 1), height);
	win_top(w, height);
	win_mark_read(w);
	/* a narrower window again */
	f.width = data[3];
	win_set_fmt(w, &f);
	for (size_t i = 0; i < w->n; i++)
		check_line(w, i);
	win_free(w);
	text_set_ambiguous_wide(0);
	return 0;
}
