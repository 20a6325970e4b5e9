/* text.h: character widths, strict UTF-8 decoding and making peer text safe for a terminal. */
#ifndef TINCAN_TEXT_H
#define TINCAN_TEXT_H

#include <stddef.h>
#include <wchar.h>

enum {
	TEXT_KEEP_NL = 1,	/* text_sanitize: keep '\n' (else it becomes "^J") */
};

/* Cells a character takes on screen: 0, 1 or 2, never negative. wcwidth() with these changes:
 * U+200B..U+200D, U+FEFF and U+00AD are 0; combining marks are 0; anything wcwidth() calls -1
 * (unassigned, controls) is 1, since the UI draws one replacement cell for it; East Asian
 * Ambiguous characters are 2 while text_set_ambiguous_wide(1) is in force. Needs a UTF-8
 * LC_CTYPE (setlocale) like wcwidth() itself. */
int text_width(wchar_t c);
/* Count East Asian Ambiguous characters (U+00B0, U+2026, U+2500...) as 2 cells (1 = on). */
void text_set_ambiguous_wide(int on);
int text_ambiguous_wide(void);
/* Total cells of s[0..n). */
int text_cells(const wchar_t *s, size_t n);

/* Decode UTF-8 strictly and make it harmless for a terminal. Invalid UTF-8 (stray continuation
 * bytes, C0/C1 leads, overlongs, surrogates, > U+10FFFF, truncated sequences) becomes one U+FFFD
 * per maximal invalid subpart (Unicode's recommended practice). Then:
 *   TAB                  -> one space
 *   CR LF                -> LF;  bare CR -> "^M"
 *   LF                   -> kept with TEXT_KEEP_NL, else "^J"
 *   other C0, ESC, DEL   -> caret notation, two ordinary characters: "^[", "^A", "^?"
 *   C1 (U+0080..U+009F)  -> U+FFFD
 *   U+2028, U+2029       -> LF with TEXT_KEEP_NL, else a space
 *   U+202A..U+202E, U+2066..U+2069 (bidi embeddings, overrides, isolates) -> dropped
 * Writes at most cap - 1 characters and a terminating L'\0' (when cap > 0), never cutting a
 * caret pair; returns the number written before the terminator. */
size_t text_sanitize(const char *utf8, size_t len, wchar_t *out, size_t cap, int flags);
/* The same with UTF-8 out: writes at most cap - 1 bytes and a NUL (cap > 0), whole characters
 * only; returns the number of bytes written before the NUL. */
int text_utf8_sanitize(const char *in, size_t len, char *out, size_t cap, int flags);

/* Strict UTF-8 decoding only (invalid -> U+FFFD as above, no other change); same output rules
 * as text_sanitize. */
size_t text_from_utf8(const char *utf8, size_t len, wchar_t *out, size_t cap);
/* Encode one character into buf (4 bytes); surrogates and values beyond U+10FFFF are encoded
 * as U+FFFD. Returns the byte count (1..4). */
int text_utf8_encode(wchar_t c, char buf[4]);
/* Encode s[0..n) as UTF-8: at most cap - 1 bytes of whole characters and a NUL (cap > 0);
 * returns the number of bytes written before the NUL. */
size_t text_to_utf8(const wchar_t *s, size_t n, char *out, size_t cap);

#endif
