/* test_keys.c: key decoding: every binding, Alt via ESC, CSI/SS3 sequences, paste, focus, timeouts. */
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "check.h"
#include "keys.h"

static struct key_decoder dec;
static struct key got[256];
static int ngot;

static void
reset(void)
{
	keys_init(&dec);
	ngot = 0;
}

/* Feed characters as one read (no timeout in between). */
static void
chars(const wchar_t *s)
{
	struct key k;

	for (; *s; s++)
		if (keys_feed(&dec, 0, (unsigned)*s, &k) && ngot < 256)
			got[ngot++] = k;
}

static void
code(unsigned c)
{
	struct key k;

	if (keys_feed(&dec, 1, c, &k) && ngot < 256)
		got[ngot++] = k;
}

/* The read is over. */
static void
idle(void)
{
	struct key k;

	if (keys_timeout(&dec, &k) && ngot < 256)
		got[ngot++] = k;
}

static int
is_action(int i, enum key_action a)
{
	if (i < ngot && got[i].kind == KEY_ACTION && got[i].action == a)
		return 1;
	fprintf(stderr, "  key %d: %d keys, kind %d action %s, want %s\n", i, ngot,
	    i < ngot ? (int)got[i].kind : -1, i < ngot ? keys_action_name(got[i].action) : "-",
	    keys_action_name(a));
	return 0;
}

/* A sequence of characters read at once gives exactly this one action. */
static int
seq_is(const wchar_t *s, enum key_action a)
{
	reset();
	chars(s);
	idle();
	return ngot == 1 && is_action(0, a);
}

static int
code_is(unsigned c, enum key_action a)
{
	reset();
	code(c);
	idle();
	return ngot == 1 && is_action(0, a);
}

static int
nothing(const wchar_t *s)
{
	reset();
	chars(s);
	idle();
	return ngot == 0;
}

static void
test_ctrl(void)
{
	static const struct { wchar_t c; enum key_action a; } t[] = {
		{0x01, ACT_HOME}, {0x02, ACT_LEFT}, {0x03, ACT_CLEAR_INPUT}, {0x04, ACT_DELETE},
		{0x05, ACT_END}, {0x06, ACT_RIGHT}, {0x07, ACT_CANCEL}, {0x08, ACT_BACKSPACE},
		{0x09, ACT_COMPLETE}, {0x0A, ACT_NEWLINE}, {0x0B, ACT_KILL_END},
		{0x0C, ACT_REDRAW}, {0x0D, ACT_ENTER}, {0x0E, ACT_NEXT_WIN}, {0x10, ACT_PREV_WIN},
		{0x12, ACT_HIST_SEARCH}, {0x14, ACT_TRANSPOSE}, {0x15, ACT_KILL_START},
		{0x17, ACT_KILL_WORD_BACK}, {0x19, ACT_YANK}, {0x1A, ACT_SUSPEND},
		{0x7F, ACT_BACKSPACE},
	};
	wchar_t s[2] = {0, 0};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s[0] = t[i].c;
		if (!seq_is(s, t[i].a))
			fprintf(stderr, "  for control 0x%02X\n", (unsigned)t[i].c), failures++;
	}
	/* flow control and other unbound controls do nothing */
	CHECK(nothing(L"\x0F\x11\x13\x16\x18\x1C\x1D\x1E\x1F"));
	CHECK(nothing(L"\x85\x9B"));	/* C1 */
}

static void
test_chars(void)
{
	reset();
	chars(L"a\x4E2D\x1F600 ");
	idle();
	CHECK(ngot == 4);
	CHECK(got[0].kind == KEY_CHAR && got[0].ch == 'a');
	CHECK(got[1].kind == KEY_CHAR && got[1].ch == 0x4E2D);
	CHECK(got[2].kind == KEY_CHAR && got[2].ch == 0x1F600);
	CHECK(got[3].kind == KEY_CHAR && got[3].ch == ' ');
}

static void
test_alt(void)
{
	wchar_t s[3] = {0x1B, 0, 0};

	for (int i = 0; i < 10; i++) {
		s[1] = i == 9 ? '0' : '1' + i;
		CHECK(seq_is(s, ACT_WIN_1 + i));
	}
	CHECK(seq_is(L"\x1B" L"a", ACT_ACTIVITY));
	CHECK(seq_is(L"\x1B" L"A", ACT_ACTIVITY));
	CHECK(seq_is(L"\x1B" L"b", ACT_WORD_LEFT));
	CHECK(seq_is(L"\x1B" L"f", ACT_WORD_RIGHT));
	CHECK(seq_is(L"\x1B" L"d", ACT_KILL_WORD_FWD));
	CHECK(seq_is(L"\x1B" L"u", ACT_FIRST_UNREAD));
	CHECK(seq_is(L"\x1B" L"l", ACT_BARE));
	CHECK(seq_is(L"\x1B\x7F", ACT_KILL_WORD_BACK));
	CHECK(seq_is(L"\x1B\x08", ACT_KILL_WORD_BACK));
	CHECK(seq_is(L"\x1B\r", ACT_NEWLINE));
	CHECK(nothing(L"\x1B" L"x"));
	CHECK(nothing(L"\x1B\x4E2D"));
	/* Alt via ESC before a key code (ncurses decoded the rest) */
	reset();
	chars(L"\x1B");
	code(KC_LEFT);
	CHECK(ngot == 1 && is_action(0, ACT_PREV_WIN));
	reset();
	chars(L"\x1B");
	code(KC_PGDN);
	CHECK(ngot == 1 && is_action(0, ACT_SCROLL_DOWN_FEW));
	/* ESC ESC [ D: rxvt's Alt+Left */
	CHECK(seq_is(L"\x1B\x1B[D", ACT_PREV_WIN));
	CHECK(seq_is(L"\x1B\x1B" L"b", ACT_WORD_LEFT));
	/* the Alt of one key does not leak into the next */
	reset();
	chars(L"\x1B[1;3Cb\x1B\x1B[Cb");
	CHECK(ngot == 4 && is_action(0, ACT_NEXT_WIN) && got[1].kind == KEY_CHAR &&
	    is_action(2, ACT_NEXT_WIN) && got[3].kind == KEY_CHAR);
}

static void
test_timeout(void)
{
	/* a lone ESC is held until the read ends */
	reset();
	chars(L"\x1B");
	CHECK(ngot == 0);
	idle();
	CHECK(ngot == 1 && is_action(0, ACT_CANCEL));
	idle();
	CHECK(ngot == 1);
	/* ESC, pause, 'b' is Esc then b, not Alt+B */
	chars(L"b");
	CHECK(ngot == 2 && got[1].kind == KEY_CHAR && got[1].ch == 'b');
	CHECK(seq_is(L"\x1B\x1B", ACT_CANCEL));
	/* ESC [ and ESC O cut off by the end of a read: Alt+[ and Alt+O, unbound */
	reset();
	chars(L"\x1B[");
	idle();
	chars(L"A");
	CHECK(ngot == 1 && got[0].kind == KEY_CHAR && got[0].ch == 'A');
	reset();
	chars(L"\x1BO");
	idle();
	chars(L"A");
	CHECK(ngot == 1 && got[0].kind == KEY_CHAR && got[0].ch == 'A');
	/* a partial sequence is dropped at the end of a read */
	reset();
	chars(L"\x1B[1;");
	idle();
	chars(L"C");
	CHECK(ngot == 1 && got[0].kind == KEY_CHAR && got[0].ch == 'C');
}

static void
test_codes(void)
{
	static const struct { unsigned c; enum key_action a; } t[] = {
		{KC_UP, ACT_HIST_UP}, {KC_DOWN, ACT_HIST_DOWN}, {KC_LEFT, ACT_LEFT},
		{KC_RIGHT, ACT_RIGHT}, {KC_LEFT | KC_ALT, ACT_PREV_WIN},
		{KC_RIGHT | KC_ALT, ACT_NEXT_WIN}, {KC_LEFT | KC_CTRL, ACT_WORD_LEFT},
		{KC_RIGHT | KC_CTRL, ACT_WORD_RIGHT}, {KC_HOME, ACT_HOME}, {KC_END, ACT_END},
		{KC_HOME | KC_ALT, ACT_TOP}, {KC_HOME | KC_CTRL, ACT_TOP},
		{KC_END | KC_ALT, ACT_BOTTOM}, {KC_END | KC_CTRL, ACT_BOTTOM},
		{KC_PGUP, ACT_PGUP}, {KC_PGDN, ACT_PGDN}, {KC_PGUP | KC_SHIFT, ACT_PGUP},
		{KC_PGUP | KC_ALT, ACT_SCROLL_UP_FEW}, {KC_PGDN | KC_ALT, ACT_SCROLL_DOWN_FEW},
		{KC_DELETE, ACT_DELETE}, {KC_BACKSPACE, ACT_BACKSPACE},
		{KC_BACKSPACE | KC_ALT, ACT_KILL_WORD_BACK}, {KC_ENTER, ACT_ENTER},
		{KC_ENTER | KC_ALT, ACT_NEWLINE}, {KC_BTAB, ACT_COMPLETE_PREV},
		{KC_F(7), ACT_TOGGLE_PANE}, {KC_RESIZE, ACT_RESIZE},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!code_is(t[i].c, t[i].a))
			fprintf(stderr, "  for code 0x%X\n", t[i].c), failures++;
	reset();
	code(KC_F(1));
	code(KC_INSERT);
	code(KC_UP | KC_ALT);
	CHECK(ngot == 0);
	reset();
	code(KC_FOCUS_IN);
	code(KC_FOCUS_OUT);
	CHECK(ngot == 2 && got[0].kind == KEY_FOCUS_IN && got[1].kind == KEY_FOCUS_OUT);

	CHECK(keys_from_name("kLFT3") == (KC_LEFT | KC_ALT));
	CHECK(keys_from_name("kRIT5") == (KC_RIGHT | KC_CTRL));
	CHECK(keys_from_name("kHOM3") == (KC_HOME | KC_ALT));
	CHECK(keys_from_name("kEND5") == (KC_END | KC_CTRL));
	CHECK(keys_from_name("kPRV3") == (KC_PGUP | KC_ALT));
	CHECK(keys_from_name("kNXT3") == (KC_PGDN | KC_ALT));
	CHECK(keys_from_name("kDC5") == (KC_DELETE | KC_CTRL));
	CHECK(keys_from_name("kUP2") == (KC_UP | KC_SHIFT));
	CHECK(keys_from_name("kDN8") == (KC_DOWN | KC_SHIFT | KC_ALT | KC_CTRL));
	CHECK(keys_from_name("kxIN") == KC_FOCUS_IN && keys_from_name("kxOUT") == KC_FOCUS_OUT);
	CHECK(keys_from_name("kUP9") == KC_NONE && keys_from_name("kLFT33") == KC_NONE);
	CHECK(keys_from_name("KEY_LEFT") == KC_NONE && keys_from_name(NULL) == KC_NONE);
	CHECK(code_is(keys_from_name("kRIT3"), ACT_NEXT_WIN));
}

static void
test_sequences(void)
{
	CHECK(seq_is(L"\x1B[A", ACT_HIST_UP));
	CHECK(seq_is(L"\x1B[B", ACT_HIST_DOWN));
	CHECK(seq_is(L"\x1B[C", ACT_RIGHT));
	CHECK(seq_is(L"\x1B[D", ACT_LEFT));
	CHECK(seq_is(L"\x1B[H", ACT_HOME));
	CHECK(seq_is(L"\x1B[F", ACT_END));
	CHECK(seq_is(L"\x1BOA", ACT_HIST_UP));
	CHECK(seq_is(L"\x1BOD", ACT_LEFT));
	CHECK(seq_is(L"\x1BOH", ACT_HOME));
	CHECK(seq_is(L"\x1BOF", ACT_END));
	CHECK(seq_is(L"\x1BOM", ACT_ENTER));
	CHECK(seq_is(L"\x1B[1~", ACT_HOME));
	CHECK(seq_is(L"\x1B[7~", ACT_HOME));
	CHECK(seq_is(L"\x1B[4~", ACT_END));
	CHECK(seq_is(L"\x1B[8~", ACT_END));
	CHECK(seq_is(L"\x1B[3~", ACT_DELETE));
	CHECK(seq_is(L"\x1B[5~", ACT_PGUP));
	CHECK(seq_is(L"\x1B[6~", ACT_PGDN));
	CHECK(seq_is(L"\x1B[1;3C", ACT_NEXT_WIN));
	CHECK(seq_is(L"\x1B[1;3D", ACT_PREV_WIN));
	CHECK(seq_is(L"\x1B[1;9D", ACT_PREV_WIN));	/* Meta counts as Alt */
	CHECK(seq_is(L"\x1B[1;5C", ACT_WORD_RIGHT));
	CHECK(seq_is(L"\x1B[1;5D", ACT_WORD_LEFT));
	CHECK(seq_is(L"\x1B[5;3~", ACT_SCROLL_UP_FEW));
	CHECK(seq_is(L"\x1B[6;3~", ACT_SCROLL_DOWN_FEW));
	CHECK(seq_is(L"\x1B[5;2~", ACT_PGUP));
	CHECK(seq_is(L"\x1B[1;3H", ACT_TOP));
	CHECK(seq_is(L"\x1B[1;5H", ACT_TOP));
	CHECK(seq_is(L"\x1B[1;3F", ACT_BOTTOM));
	CHECK(seq_is(L"\x1B[1;5F", ACT_BOTTOM));
	CHECK(seq_is(L"\x1B[7;5~", ACT_TOP));
	CHECK(seq_is(L"\x1B[Z", ACT_COMPLETE_PREV));
	CHECK(seq_is(L"\x1B[18~", ACT_TOGGLE_PANE));	/* F7 */
	CHECK(seq_is(L"\x1B[97;3u", ACT_ACTIVITY));	/* CSI u: Alt+a */
	CHECK(seq_is(L"\x1B[13;3u", ACT_NEWLINE));	/* Alt+Enter */
	CHECK(seq_is(L"\x1B[108;5u", ACT_REDRAW));	/* Ctrl+L */
	CHECK(seq_is(L"\x1B[27u", ACT_CANCEL));	/* Esc */
	CHECK(nothing(L"\x1B[17~\x1BOP\x1B[1;5P\x1B[[A\x1B[2~"));	/* F6, F1, Ctrl+F1, F1, Insert */
	CHECK(nothing(L"\x1B[?1;2c\x1B[>0;1;2c\x1B[<0;10;5M"));	/* replies, mouse */
	CHECK(nothing(L"\x1B[99~\x1B[1;3A"));	/* unknown, unbound */
	/* focus reports */
	reset();
	chars(L"\x1B[I\x1B[O");
	CHECK(ngot == 2 && got[0].kind == KEY_FOCUS_IN && got[1].kind == KEY_FOCUS_OUT);
	/* a sequence broken by a non-sequence character: the character survives */
	reset();
	chars(L"\x1B[1\x4E2D");
	CHECK(ngot == 1 && got[0].kind == KEY_CHAR && got[0].ch == 0x4E2D);
	reset();
	chars(L"\x1B[1\x1B[A");
	CHECK(ngot == 1 && is_action(0, ACT_HIST_UP));
	/* a runaway sequence is dropped and decoding goes on */
	reset();
	chars(L"\x1B[11111111111111111111111111111111111111111111~x");
	CHECK(ngot == 1 && got[0].kind == KEY_CHAR && got[0].ch == 'x');
	CHECK(seq_is(L"\x1B[4294967296;4294967296~", ACT_NONE) == 0);
}

static void
test_paste(void)
{
	static const wchar_t body[] = L"line one\r\x884C\x4E8C\r\nthree\tend";
	static const wchar_t want[] = L"line one\n\x884C\x4E8C\nthree\tend";
	size_t n = wcslen(want);

	reset();
	chars(L"\x1B[200~");
	chars(body);
	chars(L"\x1B[201~\r");
	CHECK(ngot == (int)n + 3);
	CHECK(got[0].kind == KEY_PASTE_START);
	for (size_t i = 0; i < n && (int)i + 1 < ngot; i++)
		if (got[i + 1].kind != KEY_CHAR || got[i + 1].ch != want[i])
			fprintf(stderr, "  paste char %zu\n", i), failures++;
	CHECK(ngot >= 2 && got[ngot - 2].kind == KEY_PASTE_END);
	CHECK(is_action(ngot - 1, ACT_ENTER));	/* after the paste, Enter sends again */

	/* inside a paste: controls and escape sequences are dropped, Enter is never sent */
	reset();
	chars(L"\x1B[200~a\x03\x1B[Ab\x1B" L"c\x0D\x0A\x0A");
	idle();	/* the read ends in the middle: still pasting */
	chars(L"d\x1B[2");
	idle();
	chars(L"01~");
	CHECK(ngot == 8);
	CHECK(got[1].ch == 'a' && got[2].ch == 'b' && got[3].ch == 'c' && got[4].ch == '\n' &&
	    got[5].ch == '\n' && got[6].ch == 'd');
	CHECK(got[7].kind == KEY_PASTE_END);
	for (int i = 1; i < 7; i++)
		CHECK(got[i].kind == KEY_CHAR);

	/* paste markers as key codes (terminfo that knows them) */
	reset();
	code(KC_PASTE_START);
	chars(L"x");
	code(KC_ENTER);
	code(KC_UP);
	code(KC_PASTE_END);
	CHECK(ngot == 4 && got[0].kind == KEY_PASTE_START && got[1].ch == 'x' && got[2].ch == '\n' &&
	    got[3].kind == KEY_PASTE_END);
	chars(L"\r");
	CHECK(ngot == 5 && is_action(4, ACT_ENTER));
}

static uint32_t rng = 4242;

/* Random streams: whatever comes, characters handed out are text and actions are valid. */
static void
test_random(void)
{
	static const wchar_t alpha[] = { 0x1B, '[', 'O', '1', '2', '0', ';', '~', '3', 'A', 'u',
		'I', '\r', '\n', 0x7F, 'a', 0x4E2D, 0x85, '?', 'Z' };
	struct key k;

	keys_init(&dec);
	for (int i = 0; i < 200000 && failures < 20; i++) {
		int r, paste_before = dec.paste;
		unsigned v = check_rand32(&rng);

		if (v % 50 == 0)
			r = keys_timeout(&dec, &k);
		else if (v % 23 == 0)
			r = keys_feed(&dec, 1, (v >> 8) % (KC_PASTE_END + 1) | (v & 0x7000), &k);
		else
			r = keys_feed(&dec, 0, (unsigned)alpha[(v >> 8) % (sizeof(alpha) / sizeof(alpha[0]))], &k);
		if (!r)
			continue;
		CHECK(k.kind != KEY_NONE);
		if (k.kind == KEY_CHAR)
			CHECK(k.ch >= 0x20 ? !(k.ch >= 0x7F && k.ch <= 0x9F) :
			    (paste_before && (k.ch == '\n' || k.ch == '\t')));
		if (k.kind == KEY_ACTION)
			CHECK(k.action > ACT_NONE && k.action < ACT_COUNT && !paste_before);
	}
}

static void
test_names(void)
{
	CHECK(strcmp(keys_action_name(ACT_NEXT_WIN), "next-win") == 0);
	for (int a = 0; a < ACT_COUNT; a++)
		CHECK(strcmp(keys_action_name(a), "unknown") != 0);
	CHECK(strcmp(keys_action_name(ACT_COUNT), "unknown") == 0);
}

int
main(void)
{
	test_ctrl();
	test_chars();
	test_alt();
	test_timeout();
	test_codes();
	test_sequences();
	test_paste();
	test_random();
	test_names();
	return check_end("test_keys");
}
