/* tincan.c: the client's main: options, home directory, and the chosen front end. */
#include <err.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sodium.h>

#include "cconf.h"
#include "crypto.h"
#include "engine.h"
#include "headless.h"
#include "log.h"
#include "loop.h"
#include "util.h"
#if HAVE_UI
#include "ui.h"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tincan [--home DIR] [-f FILE] [--headless] [--lan] [--port N]\n"
		"              [--lan-port N] [--nick NAME] [--no-portmap] [-v] [--id]\n"
		"              [--help] [--version]\n"
		"\n"
		"  --home DIR     keep everything of this client in DIR (also $TINCAN_HOME);\n"
		"                 default $XDG_DATA_HOME/tincan\n"
		"  -f, --config FILE  settings (tincan.conf(5)); default DIR/tincan.conf with\n"
		"                 --home, else $XDG_CONFIG_HOME/tincan/tincan.conf\n"
		"  --headless     commands on stdin, one event a line on stdout (see tincan(1))\n"
		"  --lan          LAN-only mode: no rendezvous at all (otherwise the home\n"
		"                 rendezvous set by /register is used, LAN discovery too)\n"
		"  --port N       UDP port for conversations (default %d; any free port if busy)\n"
		"  --lan-port N   UDP port for LAN discovery beacons (default %d)\n"
		"  --nick NAME    the name others see (kept for later starts)\n"
		"  --no-portmap   ask the router for no port mapping (UPnP IGD, NAT-PMP);\n"
		"                 also portmap = no in tincan.conf\n"
		"  --id           print your ID and fingerprint, then exit\n"
		"  -v             log more on stderr (twice: debug)\n"
		"  --help         this text\n"
		"  --version      the version\n",
		ENGINE_DEFAULT_PORT, ENGINE_LAN_PORT);
}

static int parse_port(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > 65535)
		errx(1, "%s: %s is not a port number (1-65535)", what, s);
	return (int)v;
}

static void on_stop(struct loop *l, void *arg)
{
	(void)arg;
	loop_stop(l, 0);
}

static void print_id(void *arg, const struct event *ev)
{
	if (ev->type == EV_ID)
		printf("id %s %s %s\n", ev->id, ev->text, ev->name);
	(void)arg;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "config", required_argument, NULL, 'f' },
		{ "headless", no_argument, NULL, 'h' },
		{ "lan", no_argument, NULL, 'L' },
		{ "port", required_argument, NULL, 'p' },
		{ "lan-port", required_argument, NULL, 'P' },
		{ "nick", required_argument, NULL, 'n' },
		{ "no-portmap", no_argument, NULL, 'M' },
		{ "id", no_argument, NULL, 'I' },
		{ "help", no_argument, NULL, '?' + 256 },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct engine_opts eo = { 0 };
	int headless = 0, show_id = 0, c;
	const char *home = getenv("TINCAN_HOME");
	setlocale(LC_ALL, "");
	const char *conf_file = NULL;
	while ((c = getopt_long(argc, argv, "vf:", opts, NULL)) != -1) {
		switch (c) {
		case 'H': home = optarg; break;
		case 'f': conf_file = optarg; break;
		case 'h': headless = 1; break;
		case 'L': eo.lan = 1; break;
		case 'p': eo.port = parse_port(optarg, "--port"); break;
		case 'P': eo.lan_port = parse_port(optarg, "--lan-port"); break;
		case 'n': eo.nick = optarg; break;
		case 'M': eo.no_portmap = 1; break;
		case 'I': show_id = 1; break;
		case 'v': eo.verbose++; break;
		case '?' + 256: usage(stdout); return 0;
		case 'V': printf("tincan %s\n", TINCAN_VERSION); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tincan: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 1;
	}
	/* tincan.conf, before anything starts: a bad file is an error with its line */
	static struct cconf cconf;
	char confpath[1024], conferr[512];
	int must_exist;
	cconf_defaults(&cconf);
	if (cconf_path(conf_file, home, confpath, sizeof(confpath), &must_exist) < 0)
		errx(1, "configuration file path too long");
	if (cconf_load(&cconf, confpath, must_exist, conferr, sizeof(conferr)) < 0)
		errx(1, "%s", conferr);
	cconf_apply(&cconf, &eo, NULL);
	char homebuf[512];
	if (!home || !*home) {
		const char *xdg = getenv("XDG_DATA_HOME"), *h = getenv("HOME");
		if (xdg && *xdg)
			snprintf(homebuf, sizeof(homebuf), "%s/tincan", xdg);
		else if (h && *h)
			snprintf(homebuf, sizeof(homebuf), "%s/.local/share/tincan", h);
		else
			errx(1, "no home directory: use --home DIR");
		home = homebuf;
	}
	eo.home = home;
	if (sodium_init() < 0)
		errx(1, "libsodium failed to initialise");
	/* No core files: they would hold the secret key. */
	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);
	signal(SIGPIPE, SIG_IGN);
	log_init("tincan", 0, eo.verbose);

	struct loop *l = loop_new();
	if (!l)
		errx(1, "out of memory");
	char errbuf[512];
	if (show_id) {
		eo.offline = 1;
		struct engine *e = engine_new(l, &eo, print_id, NULL, errbuf, sizeof(errbuf));
		if (!e)
			errx(1, "%s", errbuf);
		engine_command(e, "/id");
		engine_free(e);
		loop_free(l);
		return 0;
	}
	loop_signal(l, SIGTERM, on_stop, NULL);
	loop_signal(l, SIGINT, on_stop, NULL);
	loop_signal(l, SIGHUP, on_stop, NULL);
	int rc = 0;
	if (headless || !HAVE_UI) {
		struct headless *h = headless_new(l, STDIN_FILENO, stdout);
		struct engine *e = h ? engine_new(l, &eo, headless_event, h, errbuf, sizeof(errbuf)) : NULL;
		if (!e)
			errx(1, "%s", h ? errbuf : "out of memory");
		headless_attach(h, e);
		rc = loop_run(l);
		engine_free(e);
		headless_free(h);
	}
#if HAVE_UI
	else {
		struct ui_opts uo = { .home = home };
		cconf_apply(&cconf, NULL, &uo);
		struct ui *ui = ui_new(l, &uo, errbuf, sizeof(errbuf));
		if (!ui)
			errx(1, "%s", errbuf);
		struct engine *e = engine_new(l, &eo, ui_event, ui, errbuf, sizeof(errbuf));
		if (!e) {
			ui_free(ui);
			errx(1, "%s", errbuf);
		}
		ui_attach(ui, e);
		rc = loop_run(l);
		engine_free(e);
		ui_free(ui);
	}
#endif
	loop_free(l);
	return rc < 0 ? 1 : rc;
}
