/* conf.c: the key = value configuration parser shared by tincan and tincand. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "store.h"
#include "util.h"

enum { CONF_ERRLEN = 256 };

static int conf_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int conf_keychar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	    c == '-';
}

static int conf_ctl(char c)
{
	unsigned char u = (unsigned char)c;

	return (u < 0x20 && u != '\t') || u == 0x7f;
}

/* Parse one line (no newline) of ll <= CONF_MAX_LINE bytes. Returns 0 for a blank or comment
 * line, 1 for a setting (key and val filled, NUL-terminated), -1 with *why set. */
static int conf_line(const char *line, size_t ll, char *key, char *val, const char **why)
{
	size_t p = 0, k, n = 0;

	for (size_t i = 0; i < ll; i++) {
		if (line[i] == '\0') {
			*why = "NUL byte";
			return -1;
		}
		if (conf_ctl(line[i])) {
			*why = "control character";
			return -1;
		}
	}
	while (p < ll && conf_blank(line[p]))
		p++;
	if (p == ll || line[p] == '#')
		return 0;
	k = p;
	while (p < ll && conf_keychar(line[p]))
		p++;
	if (p == k || (p < ll && !conf_blank(line[p]) && line[p] != '=')) {
		*why = "invalid key (allowed: a-z 0-9 . _ -)";
		return -1;
	}
	if (p - k > CONF_MAX_KEY) {
		*why = "key too long";
		return -1;
	}
	memcpy(key, line + k, p - k);
	key[p - k] = '\0';
	while (p < ll && conf_blank(line[p]))
		p++;
	if (p < ll && line[p] == '=') {
		p++;
		while (p < ll && conf_blank(line[p]))
			p++;
	}
	if (p == ll || (line[p] == '#' && conf_blank(line[p - 1]))) {
		*why = "missing value";
		return -1;
	}
	if (line[p] == '"') {
		for (p++;; p++) {
			if (p == ll) {
				*why = "unterminated quoted value";
				return -1;
			}
			if (line[p] == '"')
				break;
			if (line[p] == '\\') {
				if (p + 1 == ll) {
					*why = "unterminated quoted value";
					return -1;
				}
				if (line[p + 1] != '"' && line[p + 1] != '\\') {
					*why = "invalid escape (only \\\" and \\\\)";
					return -1;
				}
				p++;
			}
			val[n++] = line[p];
		}
		for (p++; p < ll && conf_blank(line[p]); p++)
			;
		if (p < ll && line[p] != '#') {
			*why = "unexpected text after quoted value";
			return -1;
		}
	} else {
		for (; p < ll; p++) {
			if (line[p] == '#' && conf_blank(line[p - 1]))
				break;
			val[n++] = line[p];
		}
		while (n > 0 && conf_blank(val[n - 1]))
			n--;
	}
	val[n] = '\0';
	return 1;
}

static void conf_err(char *err, size_t errlen, const char *name, int lineno, const char *msg)
{
	if (!err || !errlen)
		return;
	if (name && lineno > 0)
		snprintf(err, errlen, "%s:%d: %s", name, lineno, msg);
	else if (name)
		snprintf(err, errlen, "%s: %s", name, msg);
	else if (lineno > 0)
		snprintf(err, errlen, "line %d: %s", lineno, msg);
	else
		str_copy(err, msg, errlen);
}

static int conf_run(const char *name, const char *buf, size_t len, conf_cb cb, void *arg,
    char *err, size_t errlen)
{
	char key[CONF_MAX_KEY + 1], cberr[CONF_ERRLEN];
	char *val;
	size_t i = 0;
	int lineno = 0, ret = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!buf && len) {
		conf_err(err, errlen, name, 0, "no buffer");
		return -1;
	}
	if (len > CONF_MAX_FILE) {
		conf_err(err, errlen, name, 0, "file too large");
		return -1;
	}
	if ((val = malloc(CONF_MAX_LINE + 1)) == NULL) {
		conf_err(err, errlen, name, 0, "out of memory");
		return -1;
	}
	while (i < len) {
		const char *line = buf + i, *nl = memchr(line, '\n', len - i), *why = NULL;
		size_t ll = nl ? (size_t)(nl - line) : len - i;
		int r;

		lineno++;
		i += ll + (nl != NULL);
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll > CONF_MAX_LINE) {
			conf_err(err, errlen, name, lineno, "line too long");
			ret = -1;
			break;
		}
		if ((r = conf_line(line, ll, key, val, &why)) < 0) {
			conf_err(err, errlen, name, lineno, why);
			ret = -1;
			break;
		}
		if (r == 0 || !cb)
			continue;
		cberr[0] = '\0';
		if (cb(arg, key, val, lineno, cberr, sizeof cberr) != 0) {
			char msg[CONF_ERRLEN + CONF_MAX_KEY + 32];

			if (cberr[0])
				str_copy(msg, cberr, sizeof msg);
			else
				snprintf(msg, sizeof msg, "invalid setting '%s'", key);
			conf_err(err, errlen, name, lineno, msg);
			ret = -1;
			break;
		}
	}
	free(val);
	return ret;
}

int conf_parse(const char *buf, size_t len, conf_cb cb, void *arg, char *err, size_t errlen)
{
	return conf_run(NULL, buf, len, cb, arg, err, errlen);
}

int conf_parse_file(const char *path, conf_cb cb, void *arg, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (store_read_file(path, &buf, &len, CONF_MAX_FILE) < 0) {
		if (errno == ENOENT)
			return 0;
		conf_err(err, errlen, path, 0, errno == EFBIG ? "file too large" : strerror(errno));
		return -1;
	}
	ret = conf_run(path, buf, len, cb, arg, err, errlen);
	free(buf);
	return ret;
}

int conf_bool(const char *v, int *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };

	for (size_t i = 0; v && i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

int conf_uint(const char *v, unsigned long max, unsigned long *out)
{
	unsigned long n = 0;

	if (!v || !*v) {
		errno = EINVAL;
		return -1;
	}
	for (; *v; v++) {
		unsigned d;

		if (*v < '0' || *v > '9') {
			errno = EINVAL;
			return -1;
		}
		d = (unsigned)(*v - '0');
		if (d > max || n > (max - d) / 10) {
			errno = ERANGE;
			return -1;
		}
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}
