/* keys.h: turning the wget_wch() event stream into key actions, without curses. */
#ifndef TINCAN_KEYS_H
#define TINCAN_KEYS_H

#include <stddef.h>
#include <wchar.h>

/* Function keys as fed by the UI (is_keycode = 1); it maps ncurses' KEY_UP etc. to these and
 * may OR in modifier bits (keys_from_name does it for ncurses' extended names like "kLFT3"). */
enum key_code {
	KC_NONE,
	KC_UP, KC_DOWN, KC_LEFT, KC_RIGHT,
	KC_HOME, KC_END, KC_PGUP, KC_PGDN,
	KC_INSERT, KC_DELETE, KC_BACKSPACE, KC_ENTER, KC_BTAB,
	KC_RESIZE, KC_FOCUS_IN, KC_FOCUS_OUT, KC_PASTE_START, KC_PASTE_END,
	KC_F1 = 0x100,	/* KC_F1 + n - 1 is Fn, n = 1..24 */
	KC_MASK = 0xfff,
	KC_SHIFT = 0x1000,
	KC_ALT = 0x2000,
	KC_CTRL = 0x4000,
};
#define KC_F(n) (KC_F1 + (n) - 1)

enum key_kind {
	KEY_NONE,
	KEY_CHAR,	/* text for the input line: typed, or inside a paste ('\n' for line ends) */
	KEY_ACTION,
	KEY_PASTE_START,
	KEY_PASTE_END,
	KEY_FOCUS_IN,
	KEY_FOCUS_OUT,
};

enum key_action {
	ACT_NONE,
	ACT_WIN_1, ACT_WIN_2, ACT_WIN_3, ACT_WIN_4, ACT_WIN_5,
	ACT_WIN_6, ACT_WIN_7, ACT_WIN_8, ACT_WIN_9, ACT_WIN_10,	/* Alt+1..9, Alt+0 */
	ACT_NEXT_WIN,	/* Ctrl+N, Alt+Right */
	ACT_PREV_WIN,	/* Ctrl+P, Alt+Left */
	ACT_ACTIVITY,	/* Alt+A */
	ACT_PGUP, ACT_PGDN,	/* PgUp, PgDn */
	ACT_SCROLL_UP_FEW, ACT_SCROLL_DOWN_FEW,	/* Alt+PgUp, Alt+PgDn */
	ACT_TOP, ACT_BOTTOM,	/* Alt/Ctrl+Home, Alt/Ctrl+End */
	ACT_FIRST_UNREAD,	/* Alt+U */
	ACT_COMPLETE, ACT_COMPLETE_PREV,	/* Tab, Shift+Tab */
	ACT_HIST_UP, ACT_HIST_DOWN,	/* Up, Down */
	ACT_HIST_SEARCH,	/* Ctrl+R */
	ACT_LEFT, ACT_RIGHT,	/* Left/Ctrl+B, Right/Ctrl+F */
	ACT_WORD_LEFT, ACT_WORD_RIGHT,	/* Alt+B/Ctrl+Left, Alt+F/Ctrl+Right */
	ACT_HOME, ACT_END,	/* Home/Ctrl+A, End/Ctrl+E */
	ACT_BACKSPACE,	/* Backspace, Ctrl+H */
	ACT_DELETE,	/* Delete, Ctrl+D */
	ACT_KILL_WORD_BACK,	/* Ctrl+W, Alt+Backspace */
	ACT_KILL_WORD_FWD,	/* Alt+D */
	ACT_KILL_END,	/* Ctrl+K */
	ACT_KILL_START,	/* Ctrl+U */
	ACT_YANK,	/* Ctrl+Y */
	ACT_TRANSPOSE,	/* Ctrl+T */
	ACT_ENTER,	/* Enter */
	ACT_NEWLINE,	/* Alt+Enter, Ctrl+J */
	ACT_REDRAW,	/* Ctrl+L */
	ACT_BARE,	/* Alt+L */
	ACT_TOGGLE_PANE,	/* F7 */
	ACT_CLEAR_INPUT,	/* Ctrl+C */
	ACT_SUSPEND,	/* Ctrl+Z */
	ACT_RESIZE,	/* KEY_RESIZE */
	ACT_CANCEL,	/* a lone Esc, Ctrl+G: leave search or a prompt */
	ACT_COUNT
};

struct key {
	enum key_kind kind;
	enum key_action action;	/* KEY_ACTION */
	wchar_t ch;	/* KEY_CHAR */
};

enum { KEYS_SEQ_MAX = 16 };

struct key_decoder {
	int state;	/* internal */
	int alt;	/* a second ESC came first: ESC ESC [ D is Alt+Left */
	int paste;	/* inside a bracketed paste */
	int paste_cr;	/* the last paste character was CR (CR LF is one line end) */
	unsigned params[2];
	int nparams;
	int nchars;	/* characters of the sequence so far; a runaway one is ignored */
};

void keys_init(struct key_decoder *d);
/* Feed one wget_wch() event: a character (is_keycode = 0) or a key code (1, enum key_code with
 * modifier bits). Returns 1 and fills *out when a key is complete, else 0. ESC followed by a
 * character within the same read is Alt+character; CSI and SS3 sequences that ncurses passes
 * through as characters are decoded: cursor and editing keys with xterm modifiers (ESC [ 1 ; 3 C
 * is Alt+Right, ESC [ 5 ; 3 ~ Alt+PgUp), F-keys, Shift+Tab (ESC [ Z), focus (ESC [ I, ESC [ O)
 * and bracketed paste (ESC [ 200 ~ ... ESC [ 201 ~): between those, every character comes out
 * as KEY_CHAR with no binding applied (CR and CR LF as '\n'; other controls and escape
 * sequences are dropped). Unbound keys and malformed sequences are dropped. */
int keys_feed(struct key_decoder *d, int is_keycode, unsigned keycode_or_char, struct key *out);
/* Call when a read found no more input: a pending lone ESC becomes ACT_CANCEL, a pending
 * "ESC [" or "ESC O" becomes Alt+[ / Alt+O. Returns 1 and fills *out when that gives a key. */
int keys_timeout(struct key_decoder *d, struct key *out);
/* Map a key name as ncurses' keyname() gives it for extended keys (kLFT3, kRIT5, kHOM3, kEND5,
 * kNXT3, kPRV3, kDC3, kUP5, kxIN, kxOUT...) to a key code with modifier bits; KC_NONE if
 * unknown. */
unsigned keys_from_name(const char *name);
/* A short stable name for an action ("next-win"), for help text and logs. */
const char *keys_action_name(enum key_action a);

#endif
