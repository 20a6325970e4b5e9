/* contacts.c: parse the contacts file line by line; every field checked before use. */
#include <stdlib.h>
#include <string.h>

#include "contacts.h"
#include "crypto.h"

int contacts_valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > CONTACT_NAME_MAX)
		return 0;
	const unsigned char *p = (const unsigned char *)name;
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		size_t k;
		uint32_t cp;
		if (c < 0x80) {
			if (c <= 0x20 || c == 0x7f)
				return 0;
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + k >= n)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 || cp == 0x2029 ||
		    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
		    cp == 0x3000 || cp == 0xa0 || cp == 0xfeff || (cp >= 0x200b && cp <= 0x200f))
			return 0;
		i += k + 1;
	}
	return 1;
}

static int parse_line(char *line, contacts_cb cb, void *arg)
{
	char *sp1 = strchr(line, ' ');
	if (!sp1)
		return -1;
	*sp1 = '\0';
	char *flags = sp1 + 1;
	char *sp2 = strchr(flags, ' ');
	if (!sp2)
		return -1;
	*sp2 = '\0';
	char *name = sp2 + 1;
	uint8_t pk[32];
	if (id_decode(line, pk) != 0)
		return -1;
	if (*flags == '\0' || strlen(flags) > 5)
		return -1;
	unsigned f = 0;
	for (const char *p = flags; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		f = f * 10 + (unsigned)(*p - '0');
	}
	if (!contacts_valid_name(name))
		return -1;
	return cb(arg, pk, f, name) < 0 ? -1 : 0;
}

int contacts_parse(const char *buf, size_t len, contacts_cb cb, void *arg, int *bad)
{
	int good = 0;
	*bad = 0;
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && buf[j] != '\n')
			j++;
		size_t n = j - i;
		if (n > 0 && buf[i] != '#') {
			char line[256];
			if (n >= sizeof(line) || memchr(buf + i, '\0', n)) {
				(*bad)++;
			} else {
				memcpy(line, buf + i, n);
				line[n] = '\0';
				if (n && line[n - 1] == '\r')
					line[n - 1] = '\0';
				if (parse_line(line, cb, arg) == 0)
					good++;
				else
					(*bad)++;
			}
		}
		i = j + 1;
	}
	return good;
}
