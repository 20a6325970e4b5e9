/* text.c: character widths, strict UTF-8 decoding and making peer text safe for a terminal. */
#include <limits.h>
#include <stdint.h>
#include <wchar.h>

#include "text.h"

/* East Asian Width "A" ranges (Unicode 14), without combining marks and format characters,
 * which are zero-width whatever the terminal does. Generated from the Unicode database. */
static const struct { uint32_t lo, hi; } ambiguous[] = {
	{0x00A1, 0x00A1}, {0x00A4, 0x00A4}, {0x00A7, 0x00A8}, {0x00AA, 0x00AA}, {0x00AE, 0x00AE},
	{0x00B0, 0x00B4}, {0x00B6, 0x00BA}, {0x00BC, 0x00BF}, {0x00C6, 0x00C6}, {0x00D0, 0x00D0},
	{0x00D7, 0x00D8}, {0x00DE, 0x00E1}, {0x00E6, 0x00E6}, {0x00E8, 0x00EA}, {0x00EC, 0x00ED},
	{0x00F0, 0x00F0}, {0x00F2, 0x00F3}, {0x00F7, 0x00FA}, {0x00FC, 0x00FC}, {0x00FE, 0x00FE},
	{0x0101, 0x0101}, {0x0111, 0x0111}, {0x0113, 0x0113}, {0x011B, 0x011B}, {0x0126, 0x0127},
	{0x012B, 0x012B}, {0x0131, 0x0133}, {0x0138, 0x0138}, {0x013F, 0x0142}, {0x0144, 0x0144},
	{0x0148, 0x014B}, {0x014D, 0x014D}, {0x0152, 0x0153}, {0x0166, 0x0167}, {0x016B, 0x016B},
	{0x01CE, 0x01CE}, {0x01D0, 0x01D0}, {0x01D2, 0x01D2}, {0x01D4, 0x01D4}, {0x01D6, 0x01D6},
	{0x01D8, 0x01D8}, {0x01DA, 0x01DA}, {0x01DC, 0x01DC}, {0x0251, 0x0251}, {0x0261, 0x0261},
	{0x02C4, 0x02C4}, {0x02C7, 0x02C7}, {0x02C9, 0x02CB}, {0x02CD, 0x02CD}, {0x02D0, 0x02D0},
	{0x02D8, 0x02DB}, {0x02DD, 0x02DD}, {0x02DF, 0x02DF}, {0x0391, 0x03A1}, {0x03A3, 0x03A9},
	{0x03B1, 0x03C1}, {0x03C3, 0x03C9}, {0x0401, 0x0401}, {0x0410, 0x044F}, {0x0451, 0x0451},
	{0x2010, 0x2010}, {0x2013, 0x2016}, {0x2018, 0x2019}, {0x201C, 0x201D}, {0x2020, 0x2022},
	{0x2024, 0x2027}, {0x2030, 0x2030}, {0x2032, 0x2033}, {0x2035, 0x2035}, {0x203B, 0x203B},
	{0x203E, 0x203E}, {0x2074, 0x2074}, {0x207F, 0x207F}, {0x2081, 0x2084}, {0x20AC, 0x20AC},
	{0x2103, 0x2103}, {0x2105, 0x2105}, {0x2109, 0x2109}, {0x2113, 0x2113}, {0x2116, 0x2116},
	{0x2121, 0x2122}, {0x2126, 0x2126}, {0x212B, 0x212B}, {0x2153, 0x2154}, {0x215B, 0x215E},
	{0x2160, 0x216B}, {0x2170, 0x2179}, {0x2189, 0x2189}, {0x2190, 0x2199}, {0x21B8, 0x21B9},
	{0x21D2, 0x21D2}, {0x21D4, 0x21D4}, {0x21E7, 0x21E7}, {0x2200, 0x2200}, {0x2202, 0x2203},
	{0x2207, 0x2208}, {0x220B, 0x220B}, {0x220F, 0x220F}, {0x2211, 0x2211}, {0x2215, 0x2215},
	{0x221A, 0x221A}, {0x221D, 0x2220}, {0x2223, 0x2223}, {0x2225, 0x2225}, {0x2227, 0x222C},
	{0x222E, 0x222E}, {0x2234, 0x2237}, {0x223C, 0x223D}, {0x2248, 0x2248}, {0x224C, 0x224C},
	{0x2252, 0x2252}, {0x2260, 0x2261}, {0x2264, 0x2267}, {0x226A, 0x226B}, {0x226E, 0x226F},
	{0x2282, 0x2283}, {0x2286, 0x2287}, {0x2295, 0x2295}, {0x2299, 0x2299}, {0x22A5, 0x22A5},
	{0x22BF, 0x22BF}, {0x2312, 0x2312}, {0x2460, 0x24E9}, {0x24EB, 0x254B}, {0x2550, 0x2573},
	{0x2580, 0x258F}, {0x2592, 0x2595}, {0x25A0, 0x25A1}, {0x25A3, 0x25A9}, {0x25B2, 0x25B3},
	{0x25B6, 0x25B7}, {0x25BC, 0x25BD}, {0x25C0, 0x25C1}, {0x25C6, 0x25C8}, {0x25CB, 0x25CB},
	{0x25CE, 0x25D1}, {0x25E2, 0x25E5}, {0x25EF, 0x25EF}, {0x2605, 0x2606}, {0x2609, 0x2609},
	{0x260E, 0x260F}, {0x261C, 0x261C}, {0x261E, 0x261E}, {0x2640, 0x2640}, {0x2642, 0x2642},
	{0x2660, 0x2661}, {0x2663, 0x2665}, {0x2667, 0x266A}, {0x266C, 0x266D}, {0x266F, 0x266F},
	{0x269E, 0x269F}, {0x26BF, 0x26BF}, {0x26C6, 0x26CD}, {0x26CF, 0x26D3}, {0x26D5, 0x26E1},
	{0x26E3, 0x26E3}, {0x26E8, 0x26E9}, {0x26EB, 0x26F1}, {0x26F4, 0x26F4}, {0x26F6, 0x26F9},
	{0x26FB, 0x26FC}, {0x26FE, 0x26FF}, {0x273D, 0x273D}, {0x2776, 0x277F}, {0x2B56, 0x2B59},
	{0x3248, 0x324F}, {0xE000, 0xF8FF}, {0xFFFD, 0xFFFD}, {0x1F100, 0x1F10A}, {0x1F110, 0x1F12D},
	{0x1F130, 0x1F169}, {0x1F170, 0x1F18D}, {0x1F18F, 0x1F190}, {0x1F19B, 0x1F1AC}, {0xF0000, 0xFFFFD},
	{0x100000, 0x10FFFD},
};

static int ambiguous_wide;

void
text_set_ambiguous_wide(int on)
{
	ambiguous_wide = on != 0;
}

int
text_ambiguous_wide(void)
{
	return ambiguous_wide;
}

static int
is_ambiguous(uint32_t c)
{
	size_t lo = 0, hi = sizeof(ambiguous) / sizeof(ambiguous[0]);

	if (c < ambiguous[0].lo)
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c < ambiguous[mid].lo)
			hi = mid;
		else if (c > ambiguous[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

int
text_width(wchar_t c)
{
	int w;

	switch (c) {
	case 0x200B: case 0x200C: case 0x200D: case 0xFEFF: case 0x00AD:
		return 0;
	default:
		break;
	}
	w = wcwidth(c);
	if (w < 0)
		return 1;
	if (w == 1 && ambiguous_wide && is_ambiguous((uint32_t)c))
		return 2;
	return w > 2 ? 2 : w;
}

int
text_cells(const wchar_t *s, size_t n)
{
	int cells = 0;

	for (size_t i = 0; i < n && cells < INT_MAX - 2; i++)
		cells += text_width(s[i]);
	return cells;
}

/* Decode one character from s[0..len) (len > 0). An invalid sequence yields U+FFFD and *used
 * covers its maximal subpart: the longest prefix that could still have begun a valid sequence,
 * or one byte. */
static wchar_t
decode_one(const unsigned char *s, size_t len, size_t *used)
{
	unsigned char b = s[0], lo = 0x80, hi = 0xBF;
	uint32_t cp;
	size_t need, k;

	*used = 1;
	if (b < 0x80)
		return b;
	if (b < 0xC2 || b > 0xF4)
		return 0xFFFD;
	if (b < 0xE0) {
		need = 1;
		cp = b & 0x1F;
	} else if (b < 0xF0) {
		need = 2;
		cp = b & 0x0F;
		if (b == 0xE0)
			lo = 0xA0;	/* overlong */
		else if (b == 0xED)
			hi = 0x9F;	/* surrogates */
	} else {
		need = 3;
		cp = b & 0x07;
		if (b == 0xF0)
			lo = 0x90;	/* overlong */
		else if (b == 0xF4)
			hi = 0x8F;	/* > U+10FFFF */
	}
	for (k = 1; k <= need; k++) {
		if (k >= len || s[k] < lo || s[k] > hi) {
			*used = k;
			return 0xFFFD;
		}
		cp = cp << 6 | (s[k] & 0x3F);
		lo = 0x80;
		hi = 0xBF;
	}
	*used = k;
	return (wchar_t)cp;
}

/* What to show for c: 0, 1 or 2 characters in rep. */
static int
clean(wchar_t c, int next_is_lf, int flags, wchar_t rep[2])
{
	if (c == '\t') {
		rep[0] = ' ';
		return 1;
	}
	if (c == '\n' && (flags & TEXT_KEEP_NL)) {
		rep[0] = '\n';
		return 1;
	}
	if (c == '\r' && next_is_lf)
		return 0;
	if (c < 0x20 || c == 0x7F) {
		rep[0] = '^';
		rep[1] = c == 0x7F ? '?' : c + 0x40;
		return 2;
	}
	if (c >= 0x80 && c <= 0x9F) {
		rep[0] = 0xFFFD;
		return 1;
	}
	if (c == 0x2028 || c == 0x2029) {
		rep[0] = (flags & TEXT_KEEP_NL) ? '\n' : ' ';
		return 1;
	}
	if ((c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069))
		return 0;
	rep[0] = c;
	return 1;
}

size_t
text_sanitize(const char *utf8, size_t len, wchar_t *out, size_t cap, int flags)
{
	const unsigned char *s = (const unsigned char *)utf8;
	size_t i = 0, o = 0, used;
	wchar_t rep[2];

	if (cap == 0)
		return 0;
	while (i < len) {
		wchar_t c = decode_one(s + i, len - i, &used);
		int k;

		i += used;
		k = clean(c, i < len && s[i] == '\n', flags, rep);
		if ((size_t)k > cap - 1 - o)
			break;
		for (int j = 0; j < k; j++)
			out[o++] = rep[j];
	}
	out[o] = 0;
	return o;
}

int
text_utf8_encode(wchar_t wc, char buf[4])
{
	uint32_t c = (uint32_t)wc;

	if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		c = 0xFFFD;
	if (c < 0x80) {
		buf[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		buf[0] = (char)(0xC0 | c >> 6);
		buf[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		buf[0] = (char)(0xE0 | c >> 12);
		buf[1] = (char)(0x80 | (c >> 6 & 0x3F));
		buf[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	buf[0] = (char)(0xF0 | c >> 18);
	buf[1] = (char)(0x80 | (c >> 12 & 0x3F));
	buf[2] = (char)(0x80 | (c >> 6 & 0x3F));
	buf[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

int
text_utf8_sanitize(const char *in, size_t len, char *out, size_t cap, int flags)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0, used;
	wchar_t rep[2];
	char enc[8];

	if (cap == 0)
		return 0;
	if (cap > INT_MAX)
		cap = INT_MAX;
	while (i < len) {
		wchar_t c = decode_one(s + i, len - i, &used);
		int k, n = 0;

		i += used;
		k = clean(c, i < len && s[i] == '\n', flags, rep);
		for (int j = 0; j < k; j++)
			n += text_utf8_encode(rep[j], enc + n);
		if ((size_t)n > cap - 1 - o)
			break;
		for (int j = 0; j < n; j++)
			out[o++] = enc[j];
	}
	out[o] = 0;
	return (int)o;
}

size_t
text_from_utf8(const char *utf8, size_t len, wchar_t *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)utf8;
	size_t i = 0, o = 0, used;

	if (cap == 0)
		return 0;
	while (i < len && o < cap - 1) {
		out[o++] = decode_one(s + i, len - i, &used);
		i += used;
	}
	out[o] = 0;
	return o;
}

size_t
text_to_utf8(const wchar_t *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	char enc[4];

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int k = text_utf8_encode(s[i], enc);
		if ((size_t)k > cap - 1 - o)
			break;
		for (int j = 0; j < k; j++)
			out[o++] = enc[j];
	}
	out[o] = 0;
	return o;
}
