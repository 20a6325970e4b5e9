/* test_cconf.c: tincan.conf's keys: defaults, every key good and bad, file:line errors, where
 * the file is looked for, and how the values reach engine_opts and ui_opts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cconf.h"
#include "check.h"
#include "engine.h"
#include "ui.h"

static int
parse(struct cconf *c, const char *text, char *err, size_t errlen)
{
	cconf_defaults(c);
	return cconf_parse(c, text, strlen(text), err, errlen);
}

static int
one(const char *key, const char *value)
{
	struct cconf c;
	char err[256];

	cconf_defaults(&c);
	return cconf_set(&c, key, value, 0, err, sizeof(err));
}

static void
test_defaults(void)
{
	struct cconf c;
	char v[CCONF_VALUE_MAX];
	static const char *const want[][2] = {
		{"nick", ""}, {"rendezvous", ""}, {"portmap", "on"}, {"colors", "on"},
		{"timestamps", "on"},
		{"timestamps.format", "%H:%M"}, {"notify.bell", "on"}, {"notify.title", "on"},
		{"notify.text", "off"}, {"typing.send", "on"}, {"typing.show", "on"},
		{"pane.width", "20"}, {"pane.hidden", "off"}, {"ambiguous-wide", "off"},
	};
	size_t n = 0;

	cconf_defaults(&c);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK(cconf_get(&c, want[i][0], v, sizeof(v)) == 0);
		CHECK(strcmp(v, want[i][1]) == 0);
	}
	while (cconf_key(n, NULL) != NULL)
		n++;
	CHECK(n == sizeof(want) / sizeof(want[0]));	/* every key has a default checked here */
	CHECK(cconf_get(&c, "nope", v, sizeof(v)) == -1);
}

static void
test_file(void)
{
	struct cconf c;
	char err[256], v[CCONF_VALUE_MAX];
	const char *good =
		"# my settings\n"
		"nick = 小明\n"
		"rendezvous = ming@chat.example.org:7788\n"
		"colors off\n"
		"timestamps = yes\n"
		"timestamps.format = \"%H:%M:%S\"   # seconds too\n"
		"notify.bell = off\n"
		"notify.title = false\n"
		"notify.text = ON\n"
		"typing.send = 0\n"
		"typing.show = no\n"
		"pane.width = 32\n"
		"pane.hidden = true\n"
		"ambiguous-wide = on\r\n";

	CHECK(parse(&c, good, err, sizeof(err)) == 0);
	CHECK(strcmp(c.nick, "小明") == 0);
	CHECK(strcmp(c.rendezvous, "ming@chat.example.org:7788") == 0);
	CHECK(!c.colors && c.timestamps && strcmp(c.ts_format, "%H:%M:%S") == 0);
	CHECK(!c.bell && !c.title && c.notify_text && !c.typing_send && !c.typing_show);
	CHECK(c.pane_width == 32 && !c.pane && c.ambiguous_wide);
	CHECK(cconf_get(&c, "pane.hidden", v, sizeof(v)) == 0 && strcmp(v, "on") == 0);

	/* errors name the line and say what is wrong */
	CHECK(parse(&c, "nick = a\n\n# x\ncolour = on\n", err, sizeof(err)) == -1);
	CHECK(strcmp(err, "line 4: unknown key 'colour' (see tincan.conf(5))") == 0);
	CHECK(parse(&c, "colors = maybe\n", err, sizeof(err)) == -1);
	CHECK(strcmp(err, "line 1: colors: on or off, not 'maybe'") == 0);
	CHECK(parse(&c, "pane.width 20\npane.width 30\n", err, sizeof(err)) == -1);
	CHECK(strcmp(err, "line 2: 'pane.width' is given twice") == 0);
	CHECK(parse(&c, "nick = two words\n", err, sizeof(err)) == -1);
	CHECK(strstr(err, "line 1: nick:") == err);
	CHECK(parse(&c, "timestamps\n", err, sizeof(err)) == -1);	/* conf.c: no value */
	CHECK(strstr(err, "line 1:") == err);
	/* a bad line stops the file: nothing after it is applied */
	CHECK(parse(&c, "colors = off\nbad = 1\nnotify.bell = off\n", err, sizeof(err)) == -1);
	CHECK(c.bell == 1);
}

static void
test_values(void)
{
	struct cconf c;
	char err[256];

	/* pane.width: 10..60 */
	CHECK(one("pane.width", "10") == 0 && one("pane.width", "60") == 0);
	CHECK(one("pane.width", "9") == -1 && one("pane.width", "61") == -1);
	CHECK(one("pane.width", "-1") == -1 && one("pane.width", "2x") == -1);
	CHECK(one("pane.width", "99999999999999999999") == -1);
	/* timestamps.format: a few conversions, short output, printable ASCII */
	CHECK(one("timestamps.format", "%H:%M") == 0);
	CHECK(one("timestamps.format", "[%d/%m %T]") == 0);
	CHECK(one("timestamps.format", "%%") == 0);
	CHECK(one("timestamps.format", "%Y%Y%Y%Y%Y%Y") == 0);	/* 24 characters */
	CHECK(one("timestamps.format", "%Y%Y%Y%Y%Y%Y%Y") == -1);	/* 28 */
	CHECK(one("timestamps.format", "%c") == -1 && one("timestamps.format", "%n") == -1);
	CHECK(one("timestamps.format", "%") == -1 && one("timestamps.format", "%H%") == -1);
	CHECK(one("timestamps.format", "%s") == -1 && one("timestamps.format", "%A") == -1);
	CHECK(one("timestamps.format", "时%H") == -1);
	CHECK(one("timestamps.format", "") == -1);
	CHECK(one("timestamps.format", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") == -1);	/* 33 */
	/* rendezvous: name@host[:port] */
	CHECK(one("rendezvous", "alice@example.org") == 0);
	CHECK(one("rendezvous", "Alice@192.0.2.1:1") == 0);
	CHECK(one("rendezvous", "a.b-c_d@[2001:db8::1]:65535") == 0);
	CHECK(one("rendezvous", "alice") == -1 && one("rendezvous", "@example.org") == -1);
	CHECK(one("rendezvous", "alice@") == -1 && one("rendezvous", "alice@host:0") == -1);
	CHECK(one("rendezvous", "alice@host:65536") == -1);
	CHECK(one("rendezvous", "alice@host:") == -1 && one("rendezvous", "alice@-host") == -1);
	CHECK(one("rendezvous", "alice@ho st") == -1 && one("rendezvous", "al ice@host") == -1);
	CHECK(one("rendezvous", "alice@[]") == -1 && one("rendezvous", "alice@[::1]x") == -1);
	CHECK(one("rendezvous", "-alice@host") == -1);
	CHECK(one("rendezvous", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@host") == -1);	/* 33 */
	/* nick */
	CHECK(one("nick", "bob") == 0 && one("nick", "") == -1 && one("nick", "a\tb") == -1);
	CHECK(one("nick", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") == -1);
	/* booleans in every spelling, the inverted one too */
	cconf_defaults(&c);
	CHECK(cconf_set(&c, "pane.hidden", "yes", 0, err, sizeof(err)) == 0 && c.pane == 0);
	/* /set may change a key again; the file may not */
	CHECK(cconf_set(&c, "pane.hidden", "off", 0, err, sizeof(err)) == -1 && c.pane == 0);
	CHECK(cconf_set(&c, "pane.hidden", "off", 1, err, sizeof(err)) == 0 && c.pane == 1);
	/* a rejected value leaves the old one */
	CHECK(cconf_set(&c, "pane.width", "5", 1, err, sizeof(err)) == -1 && c.pane_width == 20);
	/* keys /set may change at run time */
	for (size_t i = 0; cconf_key(i, NULL) != NULL; i++) {
		int rt;
		const char *k = cconf_key(i, &rt);
		CHECK(rt == !(strcmp(k, "nick") == 0 || strcmp(k, "rendezvous") == 0 ||
			      strcmp(k, "portmap") == 0));
	}
}

static void
test_paths(void)
{
	char p[400], err[400], dir[] = "/tmp/test_cconf.XXXXXX", file[300];
	int must;
	struct cconf c;
	FILE *f;

	CHECK(cconf_path("/etc/x.conf", "/h", p, sizeof(p), &must) == 0);
	CHECK(strcmp(p, "/etc/x.conf") == 0 && must == 1);
	CHECK(cconf_path(NULL, "/h", p, sizeof(p), &must) == 0);
	CHECK(strcmp(p, "/h/tincan.conf") == 0 && must == 0);
	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	CHECK(cconf_path(NULL, NULL, p, sizeof(p), &must) == 0);
	CHECK(strcmp(p, "/xdg/tincan/tincan.conf") == 0 && must == 0);
	CHECK(cconf_path(NULL, "", p, sizeof(p), &must) == 0);
	CHECK(strcmp(p, "/xdg/tincan/tincan.conf") == 0);
	setenv("XDG_CONFIG_HOME", "relative", 1);	/* not absolute: ignored, as the spec says */
	CHECK(cconf_path(NULL, NULL, p, sizeof(p), &must) == 0);
	CHECK(strcmp(p, "/home/u/.config/tincan/tincan.conf") == 0);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("HOME");
	CHECK(cconf_path(NULL, NULL, p, sizeof(p), &must) == 0 && p[0] == 0);
	CHECK(cconf_path(NULL, "/a-rather-long-home-directory", p, 10, &must) == -1);

	/* files: absent is fine unless named; errors carry the path and line */
	CHECK(mkdtemp(dir) != NULL);
	snprintf(file, sizeof(file), "%s/tincan.conf", dir);
	cconf_defaults(&c);
	CHECK(cconf_load(&c, file, 0, err, sizeof(err)) == 0 && c.pane_width == 20);
	CHECK(cconf_load(&c, file, 1, err, sizeof(err)) == -1);
	CHECK(strstr(err, file) == err && strstr(err, "No such file") != NULL);
	CHECK(cconf_load(&c, "", 0, err, sizeof(err)) == 0);
	CHECK((f = fopen(file, "w")) != NULL);
	fputs("pane.width = 40\n\ntyping.show = perhaps\n", f);
	fclose(f);
	CHECK(cconf_load(&c, file, 1, err, sizeof(err)) == -1);
	snprintf(p, sizeof(p), "%s:3: typing.show: on or off, not 'perhaps'", file);
	CHECK(strcmp(err, p) == 0);
	unlink(file);
	rmdir(dir);
}

static void
test_apply(void)
{
	struct cconf c;
	struct engine_opts eo;
	struct ui_opts uo;
	char err[256];

	/* the defaults are what all-zero options mean */
	cconf_defaults(&c);
	memset(&eo, 0, sizeof(eo));
	memset(&uo, 0, sizeof(uo));
	cconf_apply(&c, &eo, &uo);
	CHECK(eo.nick == NULL && eo.rendezvous == NULL && !eo.no_portmap);
	CHECK(!uo.no_color && !uo.no_timestamps && !uo.no_bell && !uo.no_title && !uo.notify_text);
	CHECK(!uo.no_typing_send && !uo.no_typing_show && !uo.pane_hidden && !uo.ambiguous_wide);
	CHECK(uo.pane_width == 20 && strcmp(uo.ts_format, "%H:%M") == 0);

	/* every key changes its option */
	CHECK(parse(&c, "nick carol\nrendezvous carol@example.org\nportmap no\ncolors off\n"
		    "timestamps off\n"
		    "timestamps.format %T\nnotify.bell off\nnotify.title off\nnotify.text on\n"
		    "typing.send off\ntyping.show off\npane.width 33\npane.hidden on\n"
		    "ambiguous-wide on\n", err, sizeof(err)) == 0);
	memset(&eo, 0, sizeof(eo));
	memset(&uo, 0, sizeof(uo));
	cconf_apply(&c, &eo, &uo);
	CHECK(eo.nick != NULL && strcmp(eo.nick, "carol") == 0);
	CHECK(eo.rendezvous != NULL && strcmp(eo.rendezvous, "carol@example.org") == 0);
	CHECK(eo.no_portmap);
	CHECK(uo.no_color && uo.no_timestamps && uo.no_bell && uo.no_title && uo.notify_text);
	CHECK(uo.no_typing_send && uo.no_typing_show && uo.pane_hidden && uo.ambiguous_wide);
	CHECK(uo.pane_width == 33 && strcmp(uo.ts_format, "%T") == 0);

	/* the command line wins: --nick was given before the file was applied */
	memset(&eo, 0, sizeof(eo));
	eo.nick = "fromflag";
	cconf_apply(&c, &eo, NULL);
	CHECK(strcmp(eo.nick, "fromflag") == 0);
	/* portmap = on in the file does not undo --no-portmap */
	cconf_defaults(&c);
	memset(&eo, 0, sizeof(eo));
	eo.no_portmap = 1;
	cconf_apply(&c, &eo, NULL);
	CHECK(eo.no_portmap);
}

int
main(void)
{
	test_defaults();
	test_file();
	test_values();
	test_paths();
	test_apply();
	return check_end("test_cconf");
}
