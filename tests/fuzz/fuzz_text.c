/* fuzz_text.c: sanitise arbitrary bytes, then wrap and fit them at several widths, checking invariants. */
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "text.h"
#include "wrap.h"

enum { MAXW = 4096, MAXL = 512 };

static wchar_t ws[MAXW];
static struct wrap_line lines[MAXL];

#define ASSERT(c) do { if (!(c)) abort(); } while (0)

static int
harmless(wchar_t c, int keep_nl)
{
	if (c == '\n')
		return keep_nl;
	return !(c < 0x20 || (c >= 0x7F && c <= 0x9F) || (c >= 0xD800 && c <= 0xDFFF) ||
	    c > 0x10FFFF || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069));
}

static void
check_wrap(const wchar_t *s, size_t n, int width, int indent)
{
	int count = wrap_text(s, n, width, indent, lines, MAXL);
	size_t prev_end = 0;

	ASSERT(count >= 1);
	ASSERT(wrap_text(s, n, width, indent, NULL, 0) == count);
	for (int k = 0; k < count && k < MAXL; k++) {
		size_t st = lines[k].start, en = st + lines[k].len;
		int room = k == 0 ? width : width - indent;
		int nl = 0;

		if (room < 1)
			room = 1;
		ASSERT(en <= n && st >= prev_end);
		ASSERT(k > 0 || st == 0);
		/* between lines: spaces (with their marks) and at most one '\n' */
		for (size_t j = prev_end; j < st; j++) {
			if (s[j] == '\n')
				nl++;
			else
				ASSERT(s[j] == ' ' || (text_width(s[j]) == 0 && nl == 0));
		}
		ASSERT(nl <= 1);
		ASSERT(lines[k].cells == text_cells(s + st, lines[k].len));
		ASSERT(lines[k].cells <= room || (room < 2 && lines[k].cells == 2 &&
		    text_cells(s + st + 1, lines[k].len - 1) == 0));
		for (size_t j = st; j < en; j++)
			ASSERT(s[j] != '\n');
		ASSERT(st == 0 || st >= n || text_width(s[st]) != 0 || s[st - 1] == '\n');
		ASSERT(lines[k].len > 0 || st >= n || s[st] == '\n');
		prev_end = en;
	}
	if (count <= MAXL)
		for (size_t j = prev_end; j < n; j++)
			ASSERT(s[j] == ' ' || text_width(s[j]) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int widths[] = { 1, 2, 3, 7, 20, 80 };
	static int ready;
	char u8[MAXW * 2];
	wchar_t fit[64];
	int keep_nl, k;
	size_t n;

	if (!ready) {
		setlocale(LC_ALL, "C.UTF-8");
		ready = 1;
	}
	if (size < 1)
		return 0;
	keep_nl = data[0] & 1;
	text_set_ambiguous_wide(data[0] >> 1 & 1);
	data++;
	size--;
	n = text_sanitize((const char *)data, size, ws, MAXW, keep_nl ? TEXT_KEEP_NL : 0);
	ASSERT(n < MAXW && ws[n] == 0);
	for (size_t i = 0; i < n; i++)
		ASSERT(harmless(ws[i], keep_nl));
	k = text_utf8_sanitize((const char *)data, size, u8, sizeof(u8), keep_nl ? TEXT_KEEP_NL : 0);
	ASSERT(k >= 0 && (size_t)k < sizeof(u8) && u8[k] == 0);
	if (size < 1000) {	/* no truncation: both flavours say the same */
		static char u8b[MAXW * 2];
		ASSERT(text_to_utf8(ws, n, u8b, sizeof(u8b)) == (size_t)k);
		ASSERT(memcmp(u8, u8b, (size_t)k) == 0);
	}
	for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
		check_wrap(ws, n, widths[w], 0);
		check_wrap(ws, n, widths[w], 4);
	}
	for (int cells = 0; cells < 12; cells += 5) {
		size_t m = wrap_fit(ws, n, cells, fit, 64);
		ASSERT(m < 64 && fit[m] == 0);
		if (n + (size_t)cells + 2 <= 64)
			ASSERT(text_cells(fit, m) == cells);
	}
	text_set_ambiguous_wide(0);
	return 0;
}
