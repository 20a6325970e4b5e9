/* conf.h: the one parser for tincan.conf and tincand.conf (key = value lines). */
#ifndef TINCAN_CONF_H
#define TINCAN_CONF_H

#include <stddef.h>

/*
 * Syntax, one setting per line:
 *
 *	# a comment
 *	key = value
 *	key value			(the '=' is optional)
 *	key = "quoted \"value\" \\ "	(escapes: \" and \\ only)
 *
 * Keys are [a-z0-9._-]+, at most CONF_MAX_KEY bytes. Blanks are spaces and tabs. An unquoted
 * value runs to the end of the line, blanks at its ends removed, inner blanks kept. A '#'
 * outside quotes at the start of the line or after a blank begins a comment (so "a#b" is a
 * value but "a #b" is "a"); after a quoted value only blanks or a comment may follow. Lines
 * end in LF or CRLF. A line is at most CONF_MAX_LINE bytes, a file at most CONF_MAX_FILE;
 * NUL bytes and control characters other than tab are errors. An empty value must be quoted
 * (""). Keys are not checked here: the callback decides what is known, duplicate or valid.
 */
enum {
	CONF_MAX_KEY = 64,
	CONF_MAX_LINE = 4096,
	CONF_MAX_FILE = 1 << 20,
};

/* Called for each setting with NUL-terminated key and value. Return 0 to go on; anything
 * else stops the parse, which then fails with the message the callback wrote into err (no
 * location: the parser prefixes "file:line: "), or "invalid setting 'key'" if it wrote none. */
typedef int (*conf_cb)(void *arg, const char *key, const char *value, int lineno, char *err,
    size_t errlen);

/* Parse a buffer; 0 on success, -1 with a message "line N: what" in err. err may be NULL. */
int conf_parse(const char *buf, size_t len, conf_cb cb, void *arg, char *err, size_t errlen);
/* Parse a file; an absent file is 0 (defaults apply). Messages read "path:N: what". */
int conf_parse_file(const char *path, conf_cb cb, void *arg, char *err, size_t errlen);

/* Helpers for callbacks; 0 on success, -1 (errno EINVAL or ERANGE) if v is not valid. */
int conf_bool(const char *v, int *out);	/* on/off yes/no true/false 1/0, any case */
int conf_uint(const char *v, unsigned long max, unsigned long *out);	/* decimal, <= max */

#endif
