/* fuzz_cconf.c: libFuzzer target for tincan.conf's keys: any bytes parse or fail with a line
 * number; what parses gives values that read back, set again, and format a timestamp. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cconf.h"
#include "contacts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUST(c) do { if (!(c)) { fprintf(stderr, "fuzz_cconf: %s\n", #c); abort(); } } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cconf c, again;
	char err[512], v[CCONF_VALUE_MAX], out[128];
	const char *k;
	struct tm tm = {.tm_year = 126, .tm_mday = 1};

	if (size > 1 << 16)
		return 0;
	cconf_defaults(&c);
	if (cconf_parse(&c, (const char *)data, size, err, sizeof(err)) < 0) {
		MUST(strncmp(err, "line ", 5) == 0 && strlen(err) < sizeof(err) - 1);
		return 0;
	}
	MUST(c.pane_width >= CCONF_PANE_MIN && c.pane_width <= CCONF_PANE_MAX);
	MUST(c.nick[0] == 0 || contacts_valid_name(c.nick));
	MUST(strlen(c.ts_format) > 0 && strlen(c.ts_format) <= CCONF_TSFMT_MAX);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	size_t n = strftime(out, sizeof(out), c.ts_format, &tm);
#pragma GCC diagnostic pop
	MUST(n <= CCONF_TS_OUT_MAX + 8);	/* checked with one date; another may differ a little */
	/* every value reads back and is accepted again, as /set would */
	cconf_defaults(&again);
	for (size_t i = 0; (k = cconf_key(i, NULL)) != NULL; i++) {
		MUST(cconf_get(&c, k, v, sizeof(v)) == 0);
		if (v[0] == 0)
			continue;	/* nick and rendezvous: "" = none */
		MUST(cconf_set(&again, k, v, 1, err, sizeof(err)) == 0);
	}
	again.seen = c.seen;
	MUST(memcmp(&again, &c, sizeof(c)) == 0);
	return 0;
}
