/* fuzz_conf.c: libFuzzer target for the configuration parser and its value helpers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUST(c) do { if (!(c)) { fprintf(stderr, "fuzz_conf: %s\n", #c); abort(); } } while (0)

static int last_line;

static int cb(void *arg, const char *key, const char *value, int lineno, char *err,
    size_t errlen)
{
	size_t kl = strlen(key), vl = strlen(value);
	unsigned long u;
	int b;

	MUST(kl > 0 && kl <= CONF_MAX_KEY && vl <= CONF_MAX_LINE);
	MUST(strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789._-") == kl);
	for (size_t i = 0; i < vl; i++)
		MUST((unsigned char)value[i] >= 0x20 || value[i] == '\t');
	MUST(lineno > last_line);
	last_line = lineno;
	if (conf_bool(value, &b) == 0)
		MUST(b == 0 || b == 1);
	if (conf_uint(value, 65535, &u) == 0)
		MUST(u <= 65535);
	if (!strcmp(key, "stop")) {
		snprintf(err, errlen, "stopped at %s", value);
		return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	int r;

	last_line = 0;
	memset(err, 'Z', sizeof err);
	r = conf_parse((const char *)data, size, cb, NULL, err, sizeof err);
	MUST(r == 0 || r == -1);
	MUST(memchr(err, '\0', sizeof err) != NULL);
	if (r == -1)
		MUST(!strncmp(err, "line ", 5) || !strcmp(err, "file too large"));
	else
		MUST(err[0] == '\0');
	return 0;
}
