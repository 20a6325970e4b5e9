/* test_text.c: widths, strict UTF-8 decoding and sanitising of peer text. */
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "check.h"
#include "text.h"

static wchar_t got[1024];

/* Sanitise a byte string (with explicit length) and compare with the expected wide string. */
static int
san_is(const char *in, size_t len, int flags, const wchar_t *want)
{
	size_t n = text_sanitize(in, len, got, sizeof(got) / sizeof(got[0]), flags);

	if (n != wcslen(want) || wcscmp(got, want) != 0) {
		fprintf(stderr, "  sanitize gave %zu chars:", n);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %04X", (unsigned)got[i]);
		fprintf(stderr, "\n");
		return 0;
	}
	return 1;
}
#define SAN(lit, flags, want) san_is(lit, sizeof(lit) - 1, flags, want)

static void
test_widths(void)
{
	static const wchar_t wide[] = { 0x4E2D, 0xFF0C, 0x3002, 0x3000, 0xD55C, 0x1F600, 0x1100 };
	static const wchar_t zero[] = { 0x200B, 0x200C, 0x200D, 0xFEFF, 0x00AD, 0x0301, 0x3099,
		0x20DD, 0xFE0F };

	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
		CHECK(text_width(wide[i]) == 2);
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		CHECK(text_width(zero[i]) == 0);
	CHECK(text_width(0x2764) == 1);	/* ❤ */
	CHECK(text_width(0x2026) == 1);	/* … */
	CHECK(text_width('a') == 1);
	CHECK(text_width(0x0378) == 1);	/* unassigned: one replacement cell */
	CHECK(text_width(0x1B) == 1);
	CHECK(text_width(0xE000) == 1);
	CHECK(text_cells(L"\x4F60\x597D\xFF0C\x4E16\x754C abc", 9) == 14);	/* 你好，世界 abc */
	CHECK(text_cells(L"e\x0301", 2) == 1);
	CHECK(text_cells(L"", 0) == 0);

	CHECK(text_ambiguous_wide() == 0);
	text_set_ambiguous_wide(1);
	CHECK(text_ambiguous_wide() == 1);
	CHECK(text_width(0x2026) == 2);	/* … */
	CHECK(text_width(0x00B0) == 2);	/* ° */
	CHECK(text_width(0x2500) == 2);	/* ─ */
	CHECK(text_width(0x2022) == 2);	/* • */
	CHECK(text_width(0x03B1) == 2);	/* α */
	CHECK(text_width(0x4E2D) == 2);
	CHECK(text_width('a') == 1);
	CHECK(text_width(0x2764) == 1);	/* neutral stays narrow */
	CHECK(text_width(0x2713) == 1);	/* ✓ is neutral */
	CHECK(text_width(0x0301) == 0);	/* marks stay zero */
	CHECK(text_width(0x00AD) == 0);
	CHECK(text_width(0xFFFD) == 2);
	text_set_ambiguous_wide(0);
	CHECK(text_width(0x2026) == 1);
	CHECK(text_width(0x00B0) == 1);
}

static void
test_controls(void)
{
	CHECK(SAN("\x1b[31mred\x1b[0m", 0, L"^[[31mred^[[0m"));
	CHECK(SAN("\x1b]0;title\x07", 0, L"^[]0;title^G"));
	CHECK(SAN("a\rb", 0, L"a^Mb"));
	CHECK(SAN("a\r\nb", TEXT_KEEP_NL, L"a\nb"));
	CHECK(SAN("a\r\nb", 0, L"a^Jb"));
	CHECK(SAN("a\nb", TEXT_KEEP_NL, L"a\nb"));
	CHECK(SAN("a\nb", 0, L"a^Jb"));
	CHECK(SAN("a\r", 0, L"a^M"));
	CHECK(SAN("\r\r\n", TEXT_KEEP_NL, L"^M\n"));
	CHECK(SAN("a\tb", 0, L"a b"));
	CHECK(SAN("\x7f", 0, L"^?"));
	CHECK(SAN("\x00x", 0, L"^@x"));
	CHECK(SAN("\x08\x1f", 0, L"^H^_"));
	CHECK(SAN("\xc2\x85\xc2\x9b\xc2\x9f", 0, L"\xFFFD\xFFFD\xFFFD"));	/* C1: NEL, CSI, APC */
	CHECK(SAN("\xc2\xa0", 0, L"\x00A0"));	/* NBSP is fine */
	CHECK(SAN("a\xe2\x80\xae" "b", 0, L"ab"));	/* RLO */
	CHECK(SAN("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", 0, L""));
	CHECK(SAN("x\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9y", 0, L"xy"));	/* isolates */
	CHECK(SAN("\xe2\x80\x8f", 0, L"\x200F"));	/* RLM is kept, zero width */
	CHECK(SAN("a\xe2\x80\xa8" "b", 0, L"a b"));
	CHECK(SAN("a\xe2\x80\xa9" "b", TEXT_KEEP_NL, L"a\nb"));
	CHECK(SAN("\xe4\xbd\xa0\xe5\xa5\xbd", 0, L"\x4F60\x597D"));
}

static void
test_invalid(void)
{
	CHECK(SAN("\x80", 0, L"\xFFFD"));
	CHECK(SAN("a\xbf" "b", 0, L"a\xFFFD" L"b"));
	CHECK(SAN("\xc0\xaf", 0, L"\xFFFD\xFFFD"));	/* overlong '/' */
	CHECK(SAN("\xc1\xbf", 0, L"\xFFFD\xFFFD"));
	CHECK(SAN("\xe0\x80\xaf", 0, L"\xFFFD\xFFFD\xFFFD"));	/* overlong, 3 bytes */
	CHECK(SAN("\xe0\x9f\xbf", 0, L"\xFFFD\xFFFD\xFFFD"));
	CHECK(SAN("\xf0\x80\x80\xaf", 0, L"\xFFFD\xFFFD\xFFFD\xFFFD"));	/* overlong, 4 bytes */
	CHECK(SAN("\xf0\x8f\xbf\xbf", 0, L"\xFFFD\xFFFD\xFFFD\xFFFD"));
	CHECK(SAN("\xed\xa0\x80", 0, L"\xFFFD\xFFFD\xFFFD"));	/* surrogate D800 */
	CHECK(SAN("\xed\xbf\xbf", 0, L"\xFFFD\xFFFD\xFFFD"));	/* surrogate DFFF */
	CHECK(SAN("\xed\x9f\xbf", 0, L"\xD7FF"));
	CHECK(SAN("\xf4\x90\x80\x80", 0, L"\xFFFD\xFFFD\xFFFD\xFFFD"));	/* > U+10FFFF */
	CHECK(SAN("\xf4\x8f\xbf\xbf", 0, L"\x10FFFF"));
	CHECK(SAN("\xf5\x80\x80\x80", 0, L"\xFFFD\xFFFD\xFFFD\xFFFD"));
	CHECK(SAN("\xfe\xff", 0, L"\xFFFD\xFFFD"));
	CHECK(SAN("\xe4\xb8" "a", 0, L"\xFFFD" L"a"));	/* truncated: one U+FFFD */
	CHECK(SAN("\xf0\x9f\x98" "a", 0, L"\xFFFD" L"a"));
	CHECK(SAN("\xf0\x9f\x98", 0, L"\xFFFD"));	/* truncated by the end */
	CHECK(SAN("\xe4", 0, L"\xFFFD"));
	CHECK(SAN("\xe4\xb8\x1b", 0, L"\xFFFD^["));	/* ESC is not swallowed */
	CHECK(SAN("\xf0\x9f\x98\x80", 0, L"\x1F600"));
	CHECK(SAN("\xef\xbb\xbf", 0, L"\xFEFF"));
}

static void
test_bounds(void)
{
	wchar_t w[8];
	char u[16];
	size_t n;
	int k;

	n = text_sanitize("\x1b\x1b", 2, w, 4, 0);	/* room for 3: one pair, never half */
	CHECK(n == 2 && w[0] == '^' && w[1] == '[' && w[2] == 0);
	n = text_sanitize("\x1b", 1, w, 2, 0);
	CHECK(n == 0 && w[0] == 0);
	n = text_sanitize("abc", 3, w, 0, 0);
	CHECK(n == 0);
	n = text_sanitize("abcdefghij", 10, w, 8, 0);
	CHECK(n == 7 && w[7] == 0);

	k = text_utf8_sanitize("a\x1b[2Jb", 6, u, sizeof(u), 0);
	CHECK(k == 7 && strcmp(u, "a^[[2Jb") == 0);
	k = text_utf8_sanitize("\xe4\xb8\xad\xe6\x96\x87", 6, u, 5, 0);	/* 中文, room for 4 bytes */
	CHECK(k == 3 && strcmp(u, "\xe4\xb8\xad") == 0);
	k = text_utf8_sanitize("\xff", 1, u, sizeof(u), 0);
	CHECK(k == 3 && strcmp(u, "\xef\xbf\xbd") == 0);
	k = text_utf8_sanitize("x\ny", 3, u, sizeof(u), TEXT_KEEP_NL);
	CHECK(k == 3 && strcmp(u, "x\ny") == 0);
	k = text_utf8_sanitize("\xe2\x80\xae", 3, u, sizeof(u), 0);
	CHECK(k == 0 && u[0] == 0);

	CHECK(text_utf8_encode('A', u) == 1 && u[0] == 'A');
	CHECK(text_utf8_encode(0xE9, u) == 2 && memcmp(u, "\xc3\xa9", 2) == 0);
	CHECK(text_utf8_encode(0x4E2D, u) == 3 && memcmp(u, "\xe4\xb8\xad", 3) == 0);
	CHECK(text_utf8_encode(0x1F600, u) == 4 && memcmp(u, "\xf0\x9f\x98\x80", 4) == 0);
	CHECK(text_utf8_encode(0xD800, u) == 3 && memcmp(u, "\xef\xbf\xbd", 3) == 0);
	CHECK(text_utf8_encode(0x110000, u) == 3 && memcmp(u, "\xef\xbf\xbd", 3) == 0);

	n = text_to_utf8(L"\x4E2D" L"a\x1F600", 3, u, sizeof(u));
	CHECK(n == 8 && strcmp(u, "\xe4\xb8\xad" "a\xf0\x9f\x98\x80") == 0);
	n = text_to_utf8(L"\x4E2D\x4E2D", 2, u, 6);	/* second does not fit whole */
	CHECK(n == 3 && u[3] == 0);
	n = text_from_utf8("a\x1b\xe4\xb8\xad\x80", 6, w, 8);	/* decoding only: ESC kept */
	CHECK(n == 4 && w[0] == 'a' && w[1] == 0x1B && w[2] == 0x4E2D && w[3] == 0xFFFD && w[4] == 0);
	n = text_from_utf8("abcdef", 6, w, 3);
	CHECK(n == 2 && w[2] == 0);
}

static uint32_t rng = 0x9E3779B9u;

/* Whatever bytes come in, nothing a terminal interprets comes out, and valid UTF-8 round-trips. */
static void
test_random(void)
{
	static const unsigned char pieces[] = { 0x1b, '[', '\r', '\n', '\t', 0x7f, 0x80, 0x9b, 0xc2,
		0xe2, 0x80, 0xae, 0xed, 0xa0, 0xf4, 0x90, 0xff, 'a', ' ', 0xe4, 0xb8, 0xad, 0xf0, 0x9f };
	unsigned char in[64];
	char u8[512];
	wchar_t back[256];

	for (int round = 0; round < 20000; round++) {
		size_t len = check_rand32(&rng) % sizeof(in), n;
		int flags = round & 1 ? TEXT_KEEP_NL : 0, bad = 0;

		for (size_t i = 0; i < len; i++)
			in[i] = round & 2 ? (unsigned char)check_rand32(&rng) : pieces[check_rand32(&rng) % sizeof(pieces)];
		n = text_sanitize((const char *)in, len, got, sizeof(got) / sizeof(got[0]), flags);
		for (size_t i = 0; i < n; i++) {
			wchar_t c = got[i];
			if ((c < 0x20 && !(c == '\n' && flags)) || (c >= 0x7F && c <= 0x9F) ||
			    (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF ||
			    (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069))
				bad = 1;
		}
		CHECK(!bad);
		/* the UTF-8 flavour says the same thing */
		text_to_utf8(got, n, u8, sizeof(u8));
		{
			char u8b[512];
			text_utf8_sanitize((const char *)in, len, u8b, sizeof(u8b), flags);
			CHECK(strcmp(u8, u8b) == 0);
		}
		/* sanitised text is valid UTF-8 and decodes back to itself */
		CHECK(text_from_utf8(u8, strlen(u8), back, 256) == n && wmemcmp(back, got, n) == 0);
		if (failures > 20)
			return;
	}
}

int
main(void)
{
	if (setlocale(LC_ALL, "C.UTF-8") == NULL) {
		fprintf(stderr, "test_text: no C.UTF-8 locale\n");
		return 1;
	}
	test_widths();
	test_controls();
	test_invalid();
	test_bounds();
	test_random();
	return check_end("test_text");
}
