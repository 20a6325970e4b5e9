/* keys.c: turning the wget_wch() event stream into key actions, without curses. */
#include <string.h>

#include "keys.h"

enum {
	ST_GROUND,
	ST_ESC,		/* ESC seen */
	ST_CSI,		/* ESC [ and maybe parameters */
	ST_SS3,		/* ESC O */
	ST_LINUX,	/* ESC [ [ : Linux console F1..F5 */
};

enum {
	CSI_PRIVATE = 4,	/* nparams flag: a private or intermediate byte was seen */
	PARAM_MAX = 65535,
};

static const struct {
	unsigned code;
	enum key_action act;
} code_binds[] = {
	{KC_UP, ACT_HIST_UP},
	{KC_DOWN, ACT_HIST_DOWN},
	{KC_LEFT, ACT_LEFT},
	{KC_RIGHT, ACT_RIGHT},
	{KC_LEFT | KC_ALT, ACT_PREV_WIN},
	{KC_RIGHT | KC_ALT, ACT_NEXT_WIN},
	{KC_LEFT | KC_CTRL, ACT_WORD_LEFT},
	{KC_RIGHT | KC_CTRL, ACT_WORD_RIGHT},
	{KC_HOME, ACT_HOME},
	{KC_END, ACT_END},
	{KC_HOME | KC_ALT, ACT_TOP},
	{KC_HOME | KC_CTRL, ACT_TOP},
	{KC_END | KC_ALT, ACT_BOTTOM},
	{KC_END | KC_CTRL, ACT_BOTTOM},
	{KC_PGUP, ACT_PGUP},
	{KC_PGDN, ACT_PGDN},
	{KC_PGUP | KC_ALT, ACT_SCROLL_UP_FEW},
	{KC_PGDN | KC_ALT, ACT_SCROLL_DOWN_FEW},
	{KC_DELETE, ACT_DELETE},
	{KC_BACKSPACE, ACT_BACKSPACE},
	{KC_BACKSPACE | KC_ALT, ACT_KILL_WORD_BACK},
	{KC_ENTER, ACT_ENTER},
	{KC_ENTER | KC_ALT, ACT_NEWLINE},
	{KC_BTAB, ACT_COMPLETE_PREV},
	{KC_F(7), ACT_TOGGLE_PANE},
	{KC_RESIZE, ACT_RESIZE},
};

/* Control characters, indexed by value. */
static const enum key_action ctrl_binds[0x20] = {
	[0x01] = ACT_HOME,		/* Ctrl+A */
	[0x02] = ACT_LEFT,		/* Ctrl+B */
	[0x03] = ACT_CLEAR_INPUT,	/* Ctrl+C */
	[0x04] = ACT_DELETE,		/* Ctrl+D */
	[0x05] = ACT_END,		/* Ctrl+E */
	[0x06] = ACT_RIGHT,		/* Ctrl+F */
	[0x07] = ACT_CANCEL,		/* Ctrl+G */
	[0x08] = ACT_BACKSPACE,		/* Ctrl+H */
	[0x09] = ACT_COMPLETE,		/* Tab */
	[0x0A] = ACT_NEWLINE,		/* Ctrl+J */
	[0x0B] = ACT_KILL_END,		/* Ctrl+K */
	[0x0C] = ACT_REDRAW,		/* Ctrl+L */
	[0x0D] = ACT_ENTER,		/* Enter (CR, the terminal is in nonl mode) */
	[0x0E] = ACT_NEXT_WIN,		/* Ctrl+N */
	[0x10] = ACT_PREV_WIN,		/* Ctrl+P */
	[0x12] = ACT_HIST_SEARCH,	/* Ctrl+R */
	[0x14] = ACT_TRANSPOSE,		/* Ctrl+T */
	[0x15] = ACT_KILL_START,	/* Ctrl+U */
	[0x17] = ACT_KILL_WORD_BACK,	/* Ctrl+W */
	[0x19] = ACT_YANK,		/* Ctrl+Y */
	[0x1A] = ACT_SUSPEND,		/* Ctrl+Z */
};

static const char *const action_names[ACT_COUNT] = {
	[ACT_NONE] = "none",
	[ACT_WIN_1] = "win-1", [ACT_WIN_2] = "win-2", [ACT_WIN_3] = "win-3",
	[ACT_WIN_4] = "win-4", [ACT_WIN_5] = "win-5", [ACT_WIN_6] = "win-6",
	[ACT_WIN_7] = "win-7", [ACT_WIN_8] = "win-8", [ACT_WIN_9] = "win-9",
	[ACT_WIN_10] = "win-10",
	[ACT_NEXT_WIN] = "next-win", [ACT_PREV_WIN] = "prev-win",
	[ACT_ACTIVITY] = "activity",
	[ACT_PGUP] = "page-up", [ACT_PGDN] = "page-down",
	[ACT_SCROLL_UP_FEW] = "scroll-up", [ACT_SCROLL_DOWN_FEW] = "scroll-down",
	[ACT_TOP] = "top", [ACT_BOTTOM] = "bottom",
	[ACT_FIRST_UNREAD] = "first-unread",
	[ACT_COMPLETE] = "complete", [ACT_COMPLETE_PREV] = "complete-prev",
	[ACT_HIST_UP] = "history-up", [ACT_HIST_DOWN] = "history-down",
	[ACT_HIST_SEARCH] = "history-search",
	[ACT_LEFT] = "left", [ACT_RIGHT] = "right",
	[ACT_WORD_LEFT] = "word-left", [ACT_WORD_RIGHT] = "word-right",
	[ACT_HOME] = "home", [ACT_END] = "end",
	[ACT_BACKSPACE] = "backspace", [ACT_DELETE] = "delete",
	[ACT_KILL_WORD_BACK] = "kill-word-back", [ACT_KILL_WORD_FWD] = "kill-word",
	[ACT_KILL_END] = "kill-end", [ACT_KILL_START] = "kill-start",
	[ACT_YANK] = "yank", [ACT_TRANSPOSE] = "transpose",
	[ACT_ENTER] = "enter", [ACT_NEWLINE] = "newline",
	[ACT_REDRAW] = "redraw", [ACT_BARE] = "bare",
	[ACT_TOGGLE_PANE] = "toggle-pane", [ACT_CLEAR_INPUT] = "clear-input",
	[ACT_SUSPEND] = "suspend", [ACT_RESIZE] = "resize", [ACT_CANCEL] = "cancel",
};

const char *
keys_action_name(enum key_action a)
{
	if ((unsigned)a >= ACT_COUNT || action_names[a] == NULL)
		return "unknown";
	return action_names[a];
}

void
keys_init(struct key_decoder *d)
{
	memset(d, 0, sizeof(*d));
}

static int
give(struct key *out, enum key_kind kind, enum key_action act, wchar_t ch)
{
	out->kind = kind;
	out->action = act;
	out->ch = ch;
	return 1;
}

static int
is_control(unsigned c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

static int
bind_code(struct key_decoder *d, unsigned code, struct key *out)
{
	switch (code & KC_MASK) {
	case KC_FOCUS_IN:
		return give(out, KEY_FOCUS_IN, ACT_NONE, 0);
	case KC_FOCUS_OUT:
		return give(out, KEY_FOCUS_OUT, ACT_NONE, 0);
	case KC_PASTE_START:
		d->paste = 1;
		d->paste_cr = 0;
		return give(out, KEY_PASTE_START, ACT_NONE, 0);
	case KC_PASTE_END:
		d->paste = 0;
		return give(out, KEY_PASTE_END, ACT_NONE, 0);
	default:
		break;
	}
	/* exact modifiers first, then without Shift (Shift+PgUp is PgUp) */
	for (int pass = 0; pass < 2; pass++) {
		unsigned want = pass ? code & ~(unsigned)KC_SHIFT : code;
		for (size_t i = 0; i < sizeof(code_binds) / sizeof(code_binds[0]); i++)
			if (code_binds[i].code == want)
				return give(out, KEY_ACTION, code_binds[i].act, 0);
	}
	return 0;
}

static int
bind_alt(unsigned c, struct key *out)
{
	enum key_action a = ACT_NONE;

	if (c >= '1' && c <= '9')
		a = ACT_WIN_1 + (c - '1');
	else if (c == '0')
		a = ACT_WIN_10;
	else if (c == 0x7F || c == 0x08)
		a = ACT_KILL_WORD_BACK;
	else if (c == '\r' || c == '\n')
		a = ACT_NEWLINE;
	else switch (c | 0x20) {	/* letters either case */
	case 'a': a = ACT_ACTIVITY; break;
	case 'b': a = ACT_WORD_LEFT; break;
	case 'd': a = ACT_KILL_WORD_FWD; break;
	case 'f': a = ACT_WORD_RIGHT; break;
	case 'l': a = ACT_BARE; break;
	case 'u': a = ACT_FIRST_UNREAD; break;
	default: break;
	}
	if (a == ACT_NONE || (c >= 0x80 && c != 0x7F))
		return 0;
	return give(out, KEY_ACTION, a, 0);
}

static int
bind_char(unsigned c, int alt, struct key *out)
{
	if (alt)
		return bind_alt(c, out);
	if (c == 0x7F)
		return give(out, KEY_ACTION, ACT_BACKSPACE, 0);
	if (c < 0x20)
		return ctrl_binds[c] != ACT_NONE ? give(out, KEY_ACTION, ctrl_binds[c], 0) : 0;
	if (is_control(c) || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	return give(out, KEY_CHAR, ACT_NONE, (wchar_t)c);
}

/* A character inside a bracketed paste: text only. */
static int
paste_char(struct key_decoder *d, unsigned c, struct key *out)
{
	int was_cr = d->paste_cr;

	d->paste_cr = c == '\r';
	if (c == '\r' || (c == '\n' && !was_cr))
		return give(out, KEY_CHAR, ACT_NONE, '\n');
	if (c == '\t')
		return give(out, KEY_CHAR, ACT_NONE, '\t');
	if (is_control(c) || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	return give(out, KEY_CHAR, ACT_NONE, (wchar_t)c);
}

static int
ground(struct key_decoder *d, unsigned c, struct key *out)
{
	if (c == 0x1B) {
		d->state = ST_ESC;
		return 0;
	}
	if (d->paste)
		return paste_char(d, c, out);
	return bind_char(c, 0, out);
}

/* xterm's modifier parameter: 1 + (1 Shift, 2 Alt, 4 Ctrl, 8 Meta). */
static unsigned
xterm_mods(unsigned p)
{
	unsigned m = p > 1 ? p - 1 : 0, mods = 0;

	if (m & 1)
		mods |= KC_SHIFT;
	if (m & (2 | 8))
		mods |= KC_ALT;
	if (m & 4)
		mods |= KC_CTRL;
	return mods;
}

static unsigned
tilde_code(unsigned p)
{
	static const unsigned fkeys[] = {
		[11] = 1, [12] = 2, [13] = 3, [14] = 4, [15] = 5, [17] = 6, [18] = 7,
		[19] = 8, [20] = 9, [21] = 10, [23] = 11, [24] = 12,
	};

	switch (p) {
	case 1: case 7: return KC_HOME;
	case 2: return KC_INSERT;
	case 3: return KC_DELETE;
	case 4: case 8: return KC_END;
	case 5: return KC_PGUP;
	case 6: return KC_PGDN;
	case 200: return KC_PASTE_START;
	case 201: return KC_PASTE_END;
	default: break;
	}
	if (p < sizeof(fkeys) / sizeof(fkeys[0]) && fkeys[p] != 0)
		return KC_F(fkeys[p]);
	return KC_NONE;
}

/* A complete CSI sequence with final byte f. */
static int
csi_dispatch(struct key_decoder *d, unsigned f, struct key *out)
{
	unsigned p0 = d->nparams >= 1 ? d->params[0] : 0;
	unsigned p1 = d->nparams >= 2 ? d->params[1] : 1;
	unsigned mods = xterm_mods(p1), code = KC_NONE;

	if (d->alt)
		mods |= KC_ALT;
	d->alt = 0;
	if (d->nparams & CSI_PRIVATE)
		return 0;
	switch (f) {
	case 'A': code = KC_UP; break;
	case 'B': code = KC_DOWN; break;
	case 'C': code = KC_RIGHT; break;
	case 'D': code = KC_LEFT; break;
	case 'H': code = KC_HOME; break;
	case 'F': code = KC_END; break;
	case 'P': case 'Q': case 'R': case 'S': code = KC_F(f - 'P' + 1); break;
	case 'Z': code = KC_BTAB; break;
	case 'I': if (d->nparams == 0) code = KC_FOCUS_IN; break;
	case 'O': if (d->nparams == 0) code = KC_FOCUS_OUT; break;
	case '~': code = tilde_code(p0); break;
	case 'u':	/* CSI codepoint ; modifiers u (fixterms, kitty) */
		if (p0 == 0 || p0 > 0x10FFFF || d->paste)
			return 0;
		if (p0 == 0x1B)	/* the Esc key itself */
			return give(out, KEY_ACTION, ACT_CANCEL, 0);
		if ((mods & KC_CTRL) && ((p0 | 0x20) >= 'a' && (p0 | 0x20) <= 'z'))
			p0 &= 0x1F;
		return bind_char(p0, (mods & KC_ALT) != 0, out);
	default: break;
	}
	if (code == KC_NONE)
		return 0;
	if (d->paste)	/* only the end of the paste means anything inside it */
		return code == KC_PASTE_END ? bind_code(d, code, out) : 0;
	return bind_code(d, code | mods, out);
}

static int
csi_char(struct key_decoder *d, unsigned c, struct key *out)
{
	if (c >= '0' && c <= '9') {
		int i;
		if (d->nparams == 0)
			d->nparams = 1;
		i = (d->nparams & 3) - 1;
		if (i >= 0 && i < 2 && d->params[i] <= PARAM_MAX)
			d->params[i] = d->params[i] * 10 + (c - '0');
		return 0;
	}
	if (c == ';') {
		if (d->nparams == 0)
			d->nparams = 1;
		if ((d->nparams & 3) < 3)
			d->nparams++;
		return 0;
	}
	if (c == '[' && d->nchars == 1) {
		d->state = ST_LINUX;
		return 0;
	}
	if ((c >= 0x3C && c <= 0x3F) || (c >= 0x20 && c <= 0x2F) || c == ':') {
		d->nparams |= CSI_PRIVATE;
		return 0;
	}
	d->state = ST_GROUND;
	if (c >= 0x40 && c <= 0x7E)
		return csi_dispatch(d, c, out);
	/* not part of a sequence: drop what came before, take c as itself */
	d->alt = 0;
	return ground(d, c, out);
}

static int
ss3_char(struct key_decoder *d, unsigned c, struct key *out)
{
	unsigned code = KC_NONE, mods = d->alt ? KC_ALT : 0;

	d->state = ST_GROUND;
	d->alt = 0;
	switch (c) {
	case 'A': code = KC_UP; break;
	case 'B': code = KC_DOWN; break;
	case 'C': code = KC_RIGHT; break;
	case 'D': code = KC_LEFT; break;
	case 'H': code = KC_HOME; break;
	case 'F': code = KC_END; break;
	case 'M': code = KC_ENTER; break;
	case 'P': case 'Q': case 'R': case 'S': code = KC_F(c - 'P' + 1); break;
	default:
		if (c < 0x40 || c > 0x7E)	/* Alt+O (unbound) and then c */
			return ground(d, c, out);
		return 0;
	}
	return bind_code(d, code | mods, out);
}

int
keys_feed(struct key_decoder *d, int is_keycode, unsigned v, struct key *out)
{
	out->kind = KEY_NONE;
	out->action = ACT_NONE;
	out->ch = 0;
	if (is_keycode) {
		if (d->state == ST_ESC || d->alt)
			v |= KC_ALT;
		d->state = ST_GROUND;
		d->alt = 0;
		if (d->paste) {
			if ((v & KC_MASK) == KC_ENTER)
				return paste_char(d, '\r', out);
			return (v & KC_MASK) == KC_PASTE_END ? bind_code(d, v, out) : 0;
		}
		return bind_code(d, v, out);
	}
	/* a runaway sequence is swallowed up to its final byte, then ignored */
	if (d->state != ST_GROUND && d->state != ST_ESC && d->nchars <= KEYS_SEQ_MAX &&
	    ++d->nchars > KEYS_SEQ_MAX)
		d->nparams |= CSI_PRIVATE;
	switch (d->state) {
	case ST_ESC:
		if (v == '[' || (v == 'O' && !d->paste)) {
			d->state = v == '[' ? ST_CSI : ST_SS3;
			d->params[0] = d->params[1] = 0;
			d->nparams = 0;
			d->nchars = 0;
			return 0;
		}
		if (v == 0x1B) {	/* ESC ESC: Alt+ the key that follows; a third is Esc */
			if (!d->alt && !d->paste) {
				d->alt = 1;
				return 0;
			}
			return d->paste ? 0 : give(out, KEY_ACTION, ACT_CANCEL, 0);
		}
		d->state = ST_GROUND;
		d->alt = 0;
		if (d->paste)
			return paste_char(d, v, out);
		return bind_char(v, 1, out);
	case ST_CSI:
		return csi_char(d, v, out);
	case ST_SS3:
		return ss3_char(d, v, out);
	case ST_LINUX:
		d->state = ST_GROUND;
		d->alt = 0;
		if (v >= 'A' && v <= 'E' && !d->paste)
			return bind_code(d, KC_F(v - 'A' + 1), out);
		return 0;
	default:
		return ground(d, v, out);
	}
}

int
keys_timeout(struct key_decoder *d, struct key *out)
{
	int state = d->state;

	out->kind = KEY_NONE;
	out->action = ACT_NONE;
	out->ch = 0;
	if (d->paste)	/* the end marker may come in the next read */
		return 0;
	d->state = ST_GROUND;
	d->alt = 0;
	switch (state) {
	case ST_ESC:
		return give(out, KEY_ACTION, ACT_CANCEL, 0);
	case ST_CSI:
		return d->nchars == 0 ? bind_char('[', 1, out) : 0;
	case ST_SS3:
		return bind_char('O', 1, out);
	default:
		return 0;
	}
}

/* ncurses names for modified keys: a prefix and a digit 2..8 with xterm's meaning. */
unsigned
keys_from_name(const char *name)
{
	static const struct {
		const char *prefix;
		unsigned code;
	} names[] = {
		{"kUP", KC_UP}, {"kDN", KC_DOWN}, {"kLFT", KC_LEFT}, {"kRIT", KC_RIGHT},
		{"kHOM", KC_HOME}, {"kEND", KC_END}, {"kPRV", KC_PGUP}, {"kNXT", KC_PGDN},
		{"kDC", KC_DELETE}, {"kIC", KC_INSERT},
	};
	size_t n;

	if (name == NULL)
		return KC_NONE;
	if (strcmp(name, "kxIN") == 0)
		return KC_FOCUS_IN;
	if (strcmp(name, "kxOUT") == 0)
		return KC_FOCUS_OUT;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = strlen(names[i].prefix);
		if (strncmp(name, names[i].prefix, n) != 0)
			continue;
		if (name[n] == 0)
			return names[i].code;
		if (name[n] >= '2' && name[n] <= '8' && name[n + 1] == 0)
			return names[i].code | xterm_mods((unsigned)(name[n] - '0'));
	}
	return KC_NONE;
}
