/* test_wrap.c: wrapping by cells (CJK, Latin, mixed, kinsoku, marks) and fitting names. */
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "check.h"
#include "text.h"
#include "wrap.h"

enum { MAXL = 256 };
static struct wrap_line lines[MAXL];
static wchar_t joined[4096];

/* Wrap and join the lines with '|' so that a whole result compares as one string. */
static const wchar_t *
wrapped(const wchar_t *s, int width, int indent)
{
	size_t n = wcslen(s), o = 0;
	int count = wrap_text(s, n, width, indent, lines, MAXL);

	for (int i = 0; i < count && i < MAXL; i++) {
		if (i > 0)
			joined[o++] = '|';
		wmemcpy(joined + o, s + lines[i].start, lines[i].len);
		o += lines[i].len;
	}
	joined[o] = 0;
	return joined;
}

static int
same(const wchar_t *got, const wchar_t *want)
{
	if (wcscmp(got, want) == 0)
		return 1;
	fprintf(stderr, "  got  \"%ls\"\n  want \"%ls\"\n", got, want);
	return 0;
}
#define WRAP_IS(s, w, ind, want) same(wrapped(s, w, ind), want)

/* 你好，今晚一起吃饭吗？ */
static const wchar_t cjk[] = L"\x4F60\x597D\xFF0C\x4ECA\x665A\x4E00\x8D77\x5403\x996D\x5417\xFF1F";

static void
test_cjk(void)
{
	int n;

	CHECK(WRAP_IS(cjk, 40, 0, cjk));
	CHECK(WRAP_IS(cjk, 100, 0, cjk));
	CHECK(wrap_text(cjk, 11, 22, 0, lines, MAXL) == 1 && lines[0].cells == 22);
	/* 20 cells: 吗 would end the line and ？ start the next; kinsoku pulls 吗 down */
	CHECK(WRAP_IS(cjk, 20, 0, L"\x4F60\x597D\xFF0C\x4ECA\x665A\x4E00\x8D77\x5403\x996D|\x5417\xFF1F"));
	CHECK(lines[0].cells == 18 && lines[1].cells == 4);
	/* 6 cells with a 2-cell indent: 3 then 2 characters a line */
	CHECK(WRAP_IS(cjk, 6, 2, L"\x4F60\x597D\xFF0C|\x4ECA\x665A|\x4E00\x8D77|\x5403\x996D|\x5417\xFF1F"));
	for (int w = 1; w <= 3; w++) {
		n = wrap_text(cjk, 11, w, 0, lines, MAXL);
		CHECK(n == 11);
		for (int i = 0; i < n; i++)
			CHECK(lines[i].len == 1 && lines[i].cells == 2 && lines[i].start == (size_t)i);
	}
	/* a 2-cell char never goes into the last single cell: "a" + 中 at 2 */
	CHECK(WRAP_IS(L"a\x4E2D" L"b", 2, 0, L"a|\x4E2D|b"));
	CHECK(WRAP_IS(L"ab\x4E2D", 3, 0, L"ab|\x4E2D"));
	/* 한국어 (Hangul) breaks like CJK */
	CHECK(WRAP_IS(L"\xD55C\xAD6D\xC5B4", 4, 0, L"\xD55C\xAD6D|\xC5B4"));
}

static void
test_latin(void)
{
	CHECK(WRAP_IS(L"the quick brown fox jumps over the lazy dog", 10, 0,
	    L"the quick|brown fox|jumps over|the lazy|dog"));
	CHECK(WRAP_IS(L"the quick brown fox", 80, 0, L"the quick brown fox"));
	CHECK(WRAP_IS(L"hello world", 5, 0, L"hello|world"));
	CHECK(WRAP_IS(L"hello world", 11, 0, L"hello world"));
	CHECK(WRAP_IS(L"hello   world", 7, 0, L"hello|world"));	/* a run of spaces is one break */
	CHECK(WRAP_IS(L"a verylongwordthatexceeds end", 8, 0, L"a|verylong|wordthat|exceeds|end"));
	CHECK(WRAP_IS(L"abcdefghij", 4, 0, L"abcd|efgh|ij"));
	CHECK(WRAP_IS(L"abcde   ", 5, 0, L"abcde"));	/* trailing spaces make no line */
	CHECK(WRAP_IS(L"abcde \nx", 5, 0, L"abcde|x"));	/* nor an empty one before '\n' */
	CHECK(WRAP_IS(L"  indented", 20, 0, L"  indented"));	/* leading spaces are kept */
	/* continuation lines have indent cells less */
	CHECK(WRAP_IS(L"aaa bbb ccc ddd", 8, 4, L"aaa bbb|ccc|ddd"));
	/* forced split respects ASCII kinsoku too: '.' is pulled with its letter */
	CHECK(WRAP_IS(L"abc.def", 3, 0, L"ab|c.d|ef"));
}

static void
test_mixed(void)
{
	/* 我用Linux系统 hello世界 */
	CHECK(WRAP_IS(L"\x6211\x7528Linux\x7CFB\x7EDF hello\x4E16\x754C", 10, 0,
	    L"\x6211\x7528Linux|\x7CFB\x7EDF hello|\x4E16\x754C"));
	/* 中文, : a narrow ',' after CJK is not put at a line start either */
	CHECK(WRAP_IS(L"\x4E2D\x6587,", 4, 0, L"\x4E2D|\x6587,"));
	/* opening brackets stay with what follows: 一二「三 */
	CHECK(WRAP_IS(L"\x4E00\x4E8C\x300C\x4E09", 6, 0, L"\x4E00\x4E8C|\x300C\x4E09"));
	/* a run of closing punctuation: 一二三。」 */
	CHECK(WRAP_IS(L"\x4E00\x4E8C\x4E09\x3002\x300D", 6, 0, L"\x4E00\x4E8C|\x4E09\x3002\x300D"));
}

static void
test_marks_emoji_zw(void)
{
	/* é as e + U+0301, four times, 2 cells a line */
	CHECK(WRAP_IS(L"e\x0301" L"e\x0301" L"e\x0301" L"e\x0301", 2, 0,
	    L"e\x0301" L"e\x0301|e\x0301" L"e\x0301"));
	CHECK(lines[0].len == 4 && lines[0].cells == 2);
	/* a combining mark after a wide char stays with it */
	CHECK(WRAP_IS(L"\x304B\x3099\x304B\x3099", 2, 0, L"\x304B\x3099|\x304B\x3099"));
	CHECK(WRAP_IS(L"\x1F600\x1F600\x1F600", 5, 0, L"\x1F600\x1F600|\x1F600"));
	CHECK(WRAP_IS(L"\x1F600\x1F600", 1, 0, L"\x1F600|\x1F600"));
	CHECK(WRAP_IS(L"\x2764\x2764\x2764", 2, 0, L"\x2764\x2764|\x2764"));
	/* zero-width characters take no cell and stick to the character before */
	CHECK(WRAP_IS(L"a\x200B" L"b\x200B" L"c", 2, 0, L"a\x200B" L"b\x200B|c"));
	CHECK(WRAP_IS(L"\x200B" L"ab", 1, 0, L"\x200B" L"a|b"));
	CHECK(WRAP_IS(L"\xFEFF", 1, 0, L"\xFEFF"));
	CHECK(lines[0].cells == 0);
	/* a ZWJ sequence is not broken between its parts when there is another choice */
	CHECK(WRAP_IS(L"\x4E2D\x1F468\x200D\x1F469", 4, 0, L"\x4E2D|\x1F468\x200D\x1F469"));
}

static void
test_edges(void)
{
	struct wrap_line guard[3];
	int n;

	CHECK(wrap_text(L"", 0, 10, 0, lines, MAXL) == 1 && lines[0].len == 0);
	CHECK(WRAP_IS(L"ab\ncd", 10, 0, L"ab|cd"));
	CHECK(wrap_text(L"ab\n", 3, 10, 0, lines, MAXL) == 2 && lines[1].start == 3 && lines[1].len == 0);
	CHECK(wrap_text(L"\n\n", 2, 10, 0, lines, MAXL) == 3);
	CHECK(WRAP_IS(L"a\n\nb", 10, 0, L"a||b"));
	/* indent >= width: one cell of room, progress all the same */
	CHECK(WRAP_IS(L"abcdef", 4, 4, L"abcd|e|f"));
	CHECK(WRAP_IS(L"abcdef", 4, 9, L"abcd|e|f"));
	CHECK(WRAP_IS(L"\x4E2D\x6587\x5B57", 4, 4, L"\x4E2D\x6587|\x5B57"));
	CHECK(WRAP_IS(L"abc", 0, 0, L"a|b|c"));
	CHECK(WRAP_IS(L"abc", -5, -1, L"a|b|c"));
	CHECK(WRAP_IS(L"ab cd", 2147483647, 0, L"ab cd"));
	/* lines beyond max are counted, not stored */
	memset(guard, 0x5A, sizeof(guard));
	n = wrap_text(L"a b c d e", 9, 1, 0, guard, 2);
	CHECK(n == 5);
	CHECK(guard[1].start == 2 && guard[2].start == 0x5A5A5A5A5A5A5A5Aull);
	CHECK(wrap_text(L"a b c d e", 9, 1, 0, NULL, 0) == 5);
}

static int
no_start_test(wchar_t c)
{
	return wcschr(L"\xFF0C\x3002\x300D\xFF01", c) != NULL;
}

static uint32_t rng = 12345;

/* The invariants, over random text from a mixed alphabet at many widths. */
static void
test_property(void)
{
	static const wchar_t alpha[] = { 'a', 'b', 'x', ' ', ' ', 0x4E2D, 0x6587, 0xFF0C, 0x3002,
		0x300C, 0x300D, 0x0301, 0x200B, 0x1F600, '\n', 0x2764, 0xFF01, '.', 0xD55C };
	wchar_t s[80];
	struct wrap_line l[200];

	for (int round = 0; round < 30000 && failures < 20; round++) {
		size_t n = check_rand32(&rng) % 80, prev_end = 0;
		int width = 1 + (int)(check_rand32(&rng) % 30), indent = (int)(check_rand32(&rng) % (width + 3));
		int count, bad = 0;

		for (size_t i = 0; i < n; i++)
			s[i] = alpha[check_rand32(&rng) % (sizeof(alpha) / sizeof(alpha[0]))];
		count = wrap_text(s, n, width, indent, l, 200);
		CHECK(count >= 1 && count <= 200);
		CHECK(wrap_text(s, n, width, indent, NULL, 0) == count);
		for (int k = 0; k < count && k < 200; k++) {
			size_t st = l[k].start, en = st + l[k].len, nl = 0;
			int room = k == 0 ? width : width - indent;

			if (room < 1)
				room = 1;
			/* the gap before a line holds only spaces (and their marks) and at most one '\n' */
			if (k == 0 && st != 0)
				bad = 1;
			for (size_t j = prev_end; k > 0 && j < st; j++) {
				if (s[j] == '\n')
					nl++;
				else if (s[j] != ' ' && !(text_width(s[j]) == 0 && nl == 0))
					bad = 2;
			}
			if (nl > 1 || en > n)
				bad = 3;
			if (l[k].cells != text_cells(s + st, l[k].len))
				bad = 4;
			/* no line wider than its room, except one wide character alone */
			if (l[k].cells > room && !(l[k].len >= 1 && room < 2 && l[k].cells == 2 &&
			    text_cells(s + st, 1) == 2 && text_cells(s + st + 1, l[k].len - 1) == 0))
				bad = 5;
			for (size_t j = st; j < en; j++)
				if (s[j] == '\n')
					bad = 6;
			/* never a base separated from its marks */
			if (st < n && st > 0 && text_width(s[st]) == 0 && s[st - 1] != '\n')
				bad = 7;
			/* empty lines only for empty paragraphs */
			if (l[k].len == 0 && st < n && s[st] != '\n')
				bad = 8;
			/* closing punctuation starts a line only after a one-group line */
			if (k > 0 && st == prev_end && st < n && no_start_test(s[st]) &&
			    text_cells(s + l[k - 1].start, l[k - 1].len) > 2 &&
			    l[k - 1].len > 1)
				bad = 9;
			prev_end = en;
		}
		/* after the last line only spaces remain */
		for (size_t j = prev_end; j < n; j++)
			if (s[j] != ' ' && text_width(s[j]) != 0)
				bad = 10;
		if (bad) {
			fprintf(stderr, "  invariant %d broken at width %d indent %d: \"%ls\"\n",
			    bad, width, indent, (wchar_t *)wmemcpy(joined, s, n));
			joined[n] = 0;
		}
		CHECK(!bad);
	}
}

static int
fit_is(const wchar_t *s, int cells, const wchar_t *want)
{
	wchar_t out[64];
	size_t n = wrap_fit(s, wcslen(s), cells, out, 64);

	if (n == wcslen(want) && wcscmp(out, want) == 0 && text_cells(out, n) == cells)
		return 1;
	fprintf(stderr, "  fit gave \"%ls\"\n", out);
	return 0;
}

static void
test_fit(void)
{
	wchar_t small[4];

	CHECK(fit_is(L"alice", 8, L"alice   "));
	CHECK(fit_is(L"alice", 5, L"alice"));
	CHECK(fit_is(L"alice", 4, L"ali+"));
	CHECK(fit_is(L"alice", 1, L"+"));
	CHECK(fit_is(L"alice", 0, L""));
	CHECK(fit_is(L"", 3, L"   "));
	CHECK(fit_is(L"\x4E2D\x6587\x540D\x5B57", 8, L"\x4E2D\x6587\x540D\x5B57"));
	CHECK(fit_is(L"\x4E2D\x6587\x540D\x5B57", 5, L"\x4E2D\x6587+"));
	CHECK(fit_is(L"\x4E2D\x6587\x540D\x5B57", 4, L"\x4E2D+ "));	/* no half of 文 */
	CHECK(fit_is(L"\x4E2D\x6587", 2, L"+ "));
	CHECK(fit_is(L"e\x0301", 1, L"e\x0301"));
	CHECK(fit_is(L"e\x0301x", 2, L"e\x0301x"));
	CHECK(fit_is(L"e\x0301xy", 2, L"e\x0301+"));
	/* a small buffer never overflows */
	CHECK(wrap_fit(L"abcdef", 6, 6, small, 4) == 3 && small[3] == 0);
	CHECK(wrap_fit(L"abc", 3, 3, small, 0) == 0);
}

int
main(void)
{
	if (setlocale(LC_ALL, "C.UTF-8") == NULL) {
		fprintf(stderr, "test_wrap: no C.UTF-8 locale\n");
		return 1;
	}
	test_cjk();
	test_latin();
	test_mixed();
	test_marks_emoji_zw();
	test_edges();
	test_property();
	test_fit();
	return check_end("test_wrap");
}
