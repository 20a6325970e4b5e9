/* test_conf.c: config parser tests: good files, every error with its line, quoting, limits. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "store.h"
#include "util.h"

static const char *ctx = "";
#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", __FILE__, __LINE__, ctx, #c); \
	exit(1); } } while (0)

enum { MAXSET = 64 };

struct got {
	int n;
	char key[MAXSET][CONF_MAX_KEY + 1];
	char *val[MAXSET];
	int line[MAXSET];
	const char *fail_key;	/* reject this key */
	const char *fail_msg;	/* with this message (NULL: none) */
};

static int collect(void *arg, const char *key, const char *value, int lineno, char *err,
    size_t errlen)
{
	struct got *g = arg;

	CHECK(g->n < MAXSET && strlen(key) <= CONF_MAX_KEY);
	if (g->fail_key && !strcmp(key, g->fail_key)) {
		if (g->fail_msg)
			snprintf(err, errlen, "%s", g->fail_msg);
		return -1;
	}
	strcpy(g->key[g->n], key);
	g->val[g->n] = strdup(value);
	g->line[g->n] = lineno;
	g->n++;
	return 0;
}

static void got_free(struct got *g)
{
	for (int i = 0; i < g->n; i++)
		free(g->val[i]);
	memset(g, 0, sizeof *g);
}

static int parse(struct got *g, const char *buf, size_t len, char *err, size_t errlen)
{
	return conf_parse(buf, len, collect, g, err, errlen);
}

static void test_good(void)
{
	static const char text[] =
	    "# tincan.conf\n"
	    "   \t# indented comment\n"
	    "\n"
	    "name = alice\n"
	    "port=7000\n"
	    "host   example.org\n"
	    "motd =   hello   world   \n"
	    "quoted = \"a \\\"b\\\" \\\\ c\"   # trailing comment\n"
	    "empty = \"\"\n"
	    "hash = a#b\n"
	    "cmt = value # comment\n"
	    "crlf = yes\r\n"
	    "\ttab\t=\tv\t\n"
	    "eq==x\n"
	    "sp = \" padded \"\n"
	    "path = C:\\dir\\\n"
	    "utf8 = caf\xc3\xa9 \xe2\x98\x95\n"
	    "a.b_c-9 = 1\n"
	    "nohash=#fff\n"
	    "   \r\n"
	    "last = no newline";
	static const struct { const char *k, *v; int line; } want[] = {
		{ "name", "alice", 4 }, { "port", "7000", 5 }, { "host", "example.org", 6 },
		{ "motd", "hello   world", 7 }, { "quoted", "a \"b\" \\ c", 8 },
		{ "empty", "", 9 }, { "hash", "a#b", 10 }, { "cmt", "value", 11 },
		{ "crlf", "yes", 12 }, { "tab", "v", 13 }, { "eq", "=x", 14 },
		{ "sp", " padded ", 15 }, { "path", "C:\\dir\\", 16 },
		{ "utf8", "caf\xc3\xa9 \xe2\x98\x95", 17 }, { "a.b_c-9", "1", 18 },
		{ "nohash", "#fff", 19 }, { "last", "no newline", 21 },
	};
	struct got g = { 0 };
	char err[128] = "junk";

	ctx = "good";
	CHECK(parse(&g, text, sizeof text - 1, err, sizeof err) == 0 && err[0] == '\0');
	CHECK(g.n == (int)ARRAY_LEN(want));
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		ctx = want[i].k;
		CHECK(!strcmp(g.key[i], want[i].k));
		CHECK(!strcmp(g.val[i], want[i].v));
		CHECK(g.line[i] == want[i].line);
	}
	got_free(&g);
	ctx = "empty";
	CHECK(parse(&g, "", 0, err, sizeof err) == 0 && g.n == 0);
	CHECK(parse(&g, NULL, 0, err, sizeof err) == 0 && g.n == 0);
	CHECK(parse(&g, "\n\n# x\n", 5, err, sizeof err) == 0 && g.n == 0);
	CHECK(conf_parse("a = 1\nb 2\n", 10, NULL, NULL, NULL, 0) == 0);
}

/* The third line of each buffer is bad; the message must name line 3. */
static void test_errors(void)
{
	static const struct { const char *line; const char *msg; } bad[] = {
		{ "key", "missing value" },
		{ "key   ", "missing value" },
		{ "key =", "missing value" },
		{ "key = \t", "missing value" },
		{ "key = # comment", "missing value" },
		{ "key # comment", "missing value" },
		{ "Key = v", "invalid key" },
		{ "ke!y = v", "invalid key" },
		{ "= v", "invalid key" },
		{ "k\"x\" = v", "invalid key" },
		{ "k\xc3\xa9 = v", "invalid key" },
		{ "\"k\" = v", "invalid key" },
		{ "k = \"abc", "unterminated quoted value" },
		{ "k = \"abc\\", "unterminated quoted value" },
		{ "k = \"abc\\\"", "unterminated quoted value" },
		{ "k = \"a\\nb\"", "invalid escape" },
		{ "k = \"a\\tb\"", "invalid escape" },
		{ "k = \"a\" b", "unexpected text after quoted value" },
		{ "k = \"a\"\"b\"", "unexpected text after quoted value" },
		{ "k = a\x01" "b", "control character" },
		{ "k = a\x1b[31m", "control character" },
		{ "k = a\x7f", "control character" },
		{ "k = a\rb", "control character" },
		{ "k = \"a\x02\"", "control character" },
	};
	char buf[256], err[128];
	struct got g = { 0 };

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		int n = snprintf(buf, sizeof buf, "a = 1\n# two\n%s\nb = 2\n", bad[i].line);
		char want[128];

		ctx = bad[i].line;
		snprintf(want, sizeof want, "line 3: %s", bad[i].msg);
		CHECK(parse(&g, buf, (size_t)n, err, sizeof err) == -1);
		CHECK(!strncmp(err, want, strlen(want)));
		CHECK(g.n == 1 && !strcmp(g.key[0], "a"));	/* stops at the error */
		got_free(&g);
	}

	/* NUL bytes, in a key, an unquoted and a quoted value */
	ctx = "nul";
	CHECK(parse(&g, "a = 1\nb\0 = 2\n", 13, err, sizeof err) == -1);
	CHECK(!strcmp(err, "line 2: NUL byte") && g.n == 1);
	got_free(&g);
	CHECK(parse(&g, "a = x\0y\n", 8, err, sizeof err) == -1 && !strcmp(err, "line 1: NUL byte"));
	got_free(&g);
	CHECK(parse(&g, "\n\n\n\na = \"x\0\"", 12, err, sizeof err) == -1 &&
	    !strcmp(err, "line 5: NUL byte"));
	got_free(&g);

	/* the callback's verdict, with and without its own message */
	ctx = "callback";
	g.fail_key = "port";
	g.fail_msg = "not a port number";
	CHECK(parse(&g, "a = 1\n\nport = x\n", 16, err, sizeof err) == -1);
	CHECK(!strcmp(err, "line 3: not a port number"));
	got_free(&g);
	g.fail_key = "port";
	CHECK(parse(&g, "a = 1\r\n\r\nport x\r\n", 17, err, sizeof err) == -1);
	CHECK(!strcmp(err, "line 3: invalid setting 'port'"));
	got_free(&g);

	/* a short error buffer is truncated, never overrun; no buffer at all is fine */
	ctx = "errlen";
	memset(err, 'Z', sizeof err);
	CHECK(parse(&g, "x", 1, err, 8) == -1 && !strcmp(err, "line 1:") && err[8] == 'Z');
	CHECK(parse(&g, "x", 1, NULL, 0) == -1);
	CHECK(parse(&g, "x", 1, err, 0) == -1 && err[0] == 'l');
}

static void test_limits(void)
{
	size_t big = CONF_MAX_FILE + 1;
	char *buf = malloc(big + 16), err[128], key[CONF_MAX_KEY + 2];
	struct got g = { 0 };
	int n;

	CHECK(buf != NULL);
	/* longest key, one too long */
	ctx = "key length";
	memset(key, 'k', CONF_MAX_KEY);
	key[CONF_MAX_KEY] = '\0';
	n = snprintf(buf, 256, "%s = v\n", key);
	CHECK(parse(&g, buf, (size_t)n, err, sizeof err) == 0 && g.n == 1 && !strcmp(g.key[0], key));
	got_free(&g);
	strcat(key, "k");
	n = snprintf(buf, 256, "\n%s = v\n", key);
	CHECK(parse(&g, buf, (size_t)n, err, sizeof err) == -1 && !strcmp(err, "line 2: key too long"));

	/* a line of exactly CONF_MAX_LINE bytes (CR not counted), then one byte more */
	ctx = "line length";
	memcpy(buf, "v = ", 4);
	memset(buf + 4, 'x', CONF_MAX_LINE - 4);
	memcpy(buf + CONF_MAX_LINE, "\r\n", 2);
	CHECK(parse(&g, buf, CONF_MAX_LINE + 2, err, sizeof err) == 0 && g.n == 1);
	CHECK(strlen(g.val[0]) == CONF_MAX_LINE - 4);
	got_free(&g);
	memcpy(buf, "v = \"", 5);
	buf[CONF_MAX_LINE - 1] = '"';
	CHECK(parse(&g, buf, CONF_MAX_LINE, err, sizeof err) == 0 && g.n == 1);
	CHECK(strlen(g.val[0]) == CONF_MAX_LINE - 6);
	got_free(&g);
	memcpy(buf, "v = ", 4);
	memset(buf + 4, 'x', CONF_MAX_LINE - 3);
	CHECK(parse(&g, buf, CONF_MAX_LINE + 1, err, sizeof err) == -1);
	CHECK(!strcmp(err, "line 1: line too long") && g.n == 0);
	buf[0] = '\n';
	buf[1] = '#';
	CHECK(parse(&g, buf, CONF_MAX_LINE + 1, err, sizeof err) == 0 && g.n == 0);

	/* a file at the size limit of blank lines parses; one byte more does not */
	ctx = "file size";
	memset(buf, '\n', big);
	memcpy(buf + big - 7, "k = v\n", 6);
	CHECK(parse(&g, buf, big - 1, err, sizeof err) == 0 && g.n == 1);
	CHECK(g.line[0] == (int)(big - 7) + 1);
	got_free(&g);
	CHECK(parse(&g, buf, big, err, sizeof err) == -1 && !strcmp(err, "file too large"));
	CHECK(g.n == 0);
	free(buf);
}

static void test_file(void)
{
	char dir[] = "/tmp/tincan-conf.XXXXXX", path[64], err[256], want[128], *big;
	struct got g = { 0 };
	size_t bigl = CONF_MAX_FILE + 1;

	ctx = "file";
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/tincan.conf", dir);
	CHECK(conf_parse_file(path, collect, &g, err, sizeof err) == 0 && g.n == 0);
	CHECK(store_write_atomic(path, "port = 1\nhost\n", 14, 0600) == 0);
	CHECK(conf_parse_file(path, collect, &g, err, sizeof err) == -1 && g.n == 1);
	snprintf(want, sizeof want, "%s:2: missing value", path);
	CHECK(!strcmp(err, want));
	got_free(&g);
	CHECK(store_write_atomic(path, "port = 1\nhost = h\n", 18, 0600) == 0);
	CHECK(conf_parse_file(path, collect, &g, err, sizeof err) == 0 && g.n == 2);
	CHECK(!strcmp(g.val[1], "h") && g.line[1] == 2);
	got_free(&g);
	CHECK((big = malloc(bigl)) != NULL);
	memset(big, '\n', bigl);
	CHECK(store_write_atomic(path, big, bigl, 0600) == 0);
	free(big);
	CHECK(conf_parse_file(path, collect, &g, err, sizeof err) == -1);
	snprintf(want, sizeof want, "%s: file too large", path);
	CHECK(!strcmp(err, want));
	CHECK(unlink(path) == 0 && mkdir(path, 0700) == 0);
	CHECK(conf_parse_file(path, collect, &g, err, sizeof err) == -1);
	snprintf(want, sizeof want, "%s: %s", path, strerror(EISDIR));
	CHECK(!strcmp(err, want));
	CHECK(rmdir(path) == 0 && rmdir(dir) == 0);
}

static void test_helpers(void)
{
	static const char *const yes[] = { "on", "yes", "true", "1", "ON", "Yes", "TRUE" };
	static const char *const no[] = { "off", "no", "false", "0", "Off", "NO", "False" };
	static const char *const neither[] = { "", "2", "y", "n", "enable", "on ", " 1", "truee" };
	unsigned long u;
	char s[64];
	int b;

	ctx = "helpers";
	for (size_t i = 0; i < ARRAY_LEN(yes); i++)
		CHECK(conf_bool(yes[i], &b) == 0 && b == 1);
	for (size_t i = 0; i < ARRAY_LEN(no); i++)
		CHECK(conf_bool(no[i], &b) == 0 && b == 0);
	for (size_t i = 0; i < ARRAY_LEN(neither); i++) {
		b = 7;
		CHECK(conf_bool(neither[i], &b) == -1 && errno == EINVAL && b == 7);
	}
	CHECK(conf_uint("0", 0, &u) == 0 && u == 0);
	CHECK(conf_uint("65535", 65535, &u) == 0 && u == 65535);
	CHECK(conf_uint("007", 10, &u) == 0 && u == 7);
	CHECK(conf_uint("65536", 65535, &u) == -1 && errno == ERANGE);
	CHECK(conf_uint("10", 9, &u) == -1 && errno == ERANGE);
	CHECK(conf_uint("1", 0, &u) == -1 && errno == ERANGE);
	snprintf(s, sizeof s, "%lu", ULONG_MAX);
	CHECK(conf_uint(s, ULONG_MAX, &u) == 0 && u == ULONG_MAX);
	strcat(s, "0");
	CHECK(conf_uint(s, ULONG_MAX, &u) == -1 && errno == ERANGE);
	snprintf(s, sizeof s, "%lu", ULONG_MAX - 1);
	CHECK(conf_uint(s, ULONG_MAX - 2, &u) == -1 && errno == ERANGE);
	u = 5;
	CHECK(conf_uint("", 10, &u) == -1 && errno == EINVAL && u == 5);
	CHECK(conf_uint("-1", 10, &u) == -1 && errno == EINVAL);
	CHECK(conf_uint("+1", 10, &u) == -1 && errno == EINVAL);
	CHECK(conf_uint(" 1", 10, &u) == -1 && errno == EINVAL);
	CHECK(conf_uint("1 ", 10, &u) == -1 && errno == EINVAL);
	CHECK(conf_uint("0x10", 100, &u) == -1 && errno == EINVAL);
}

int main(void)
{
	test_good();
	test_errors();
	test_limits();
	test_file();
	test_helpers();
	return 0;
}
