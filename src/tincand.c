/* tincand.c: the rendezvous daemon's main: options, configuration, privileges, signals, loop. */
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "crypto.h"
#include "log.h"
#include "loop.h"
#include "rdvd.h"
#include "rdvd_net.h"
#include "store.h"
#include "util.h"

#define DEFAULT_CONF "/etc/tincand.conf"
#define DEFAULT_STATE "/var/lib/tincand"

enum { MAX_PATH = 4096 };

struct config {
	struct rdvd_conf rc;
	char listen[RNET_MAX_LISTEN][256];
	int nlisten;
	char state[MAX_PATH];
	char user[64];
	unsigned long max_tcp, tcp_idle;
};

struct daemon {
	struct config cf;
	const char *conf_path;
	int conf_given;
	char *cli_listen[RNET_MAX_LISTEN];
	int ncli_listen;
	const char *cli_state;
	int foreground, verbose;
	struct loop *loop;
	struct rnet *net;
	struct rdvd *srv;
	struct acct_db *db;
	struct identity me;
	struct timer tick;
	uint64_t net_tick_ms;
};

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: tincand [-dnv] [-f file] [-l address:port]... [-s dir]\n"
	    "       tincand [-f file] [-s dir] --init\n"
	    "\n"
	    "  -d          stay in the foreground and log to stderr\n"
	    "  -n          check the configuration and exit\n"
	    "  -v          log more (twice: debug)\n"
	    "  -f file     configuration file (default " DEFAULT_CONF ")\n"
	    "  -l addr     listen on this address and port, UDP and TCP (repeatable;\n"
	    "              default 0.0.0.0:%d and [::]:%d)\n"
	    "  -s dir      state directory: server key, accounts, mailboxes\n"
	    "              (default " DEFAULT_STATE ")\n"
	    "  --init      create the server key if there is none, print its ID and exit\n"
	    "  -h, --help  this text\n",
	    RDV_PORT, RDV_PORT);
}

/* --- configuration --- */

struct keydef {
	const char *key;
	unsigned long max;
	size_t off;		/* offset of a uint32_t (or uint64_t when wide) in struct config */
	int wide;
};

#define RC(f) offsetof(struct config, rc.f)
#define LIM(f) offsetof(struct config, rc.lim.f)
static const struct keydef keys[] = {
	{ "max-accounts", 100000000, LIM(max_accounts), 0 },
	{ "max-allow", 1000000, LIM(max_allow), 0 },
	{ "max-requests", 10000, LIM(max_requests), 0 },
	{ "mail-per-sender", 1000000, LIM(mail_per_sender), 0 },
	{ "mail-per-box", 1000000, LIM(mail_per_box), 0 },
	{ "mail-bytes", 1ul << 40, LIM(mail_bytes), 1 },
	{ "snapshot-bytes", 1ul << 40, LIM(rotate_bytes), 1 },
	{ "max-sessions", 10000000, RC(max_sessions), 0 },
	{ "session-timeout", 3600, RC(session_timeout_ms), 0 },
	{ "handshake-load", 10000000, RC(hs_load), 0 },
	{ "handshake-rate", 10000000, RC(hs_rate), 0 },
	{ "handshake-burst", 10000000, RC(hs_burst), 0 },
	{ "request-rate", 10000000, RC(req_rate), 0 },
	{ "request-burst", 10000000, RC(req_burst), 0 },
	{ "contact-rate", 1000000, RC(contact_rate), 0 },
	{ "contact-burst", 1000000, RC(contact_burst), 0 },
	{ "register-rate", 1000000, RC(reg_rate), 0 },
	{ "register-burst", 1000000, RC(reg_burst), 0 },
	{ "max-subscriptions", 1000000, RC(max_subs), 0 },
	{ "max-queue", 1000000, RC(max_queue), 0 },
	{ "relay-rate", 1ul << 30, RC(relay_rate), 0 },
	{ "relay-burst", 1ul << 30, RC(relay_burst), 0 },
	{ "relay-packet-rate", 1000000, RC(relay_pkt_rate), 0 },
	{ "relay-packet-burst", 1000000, RC(relay_pkt_burst), 0 },
	{ "relay-daily-bytes", 1ul << 50, RC(relay_daily), 1 },
};

static int config_cb(void *arg, const char *key, const char *value, int lineno, char *err, size_t errlen)
{
	struct config *cf = arg;
	unsigned long v;
	(void)lineno;
	if (!strcmp(key, "listen")) {
		if (cf->nlisten == RNET_MAX_LISTEN) {
			snprintf(err, errlen, "at most %d listen addresses", RNET_MAX_LISTEN);
			return -1;
		}
		str_copy(cf->listen[cf->nlisten++], value, sizeof(cf->listen[0]));
		return 0;
	}
	if (!strcmp(key, "state")) {
		if (value[0] != '/') {
			snprintf(err, errlen, "state must be an absolute path");
			return -1;
		}
		str_copy(cf->state, value, sizeof(cf->state));
		return 0;
	}
	if (!strcmp(key, "user")) {
		str_copy(cf->user, value, sizeof(cf->user));
		return 0;
	}
	if (!strcmp(key, "max-tcp") || !strcmp(key, "tcp-idle")) {
		if (conf_uint(value, !strcmp(key, "max-tcp") ? 65535 : 86400, &v) < 0) {
			snprintf(err, errlen, "%s: not a number in range", key);
			return -1;
		}
		if (!strcmp(key, "max-tcp"))
			cf->max_tcp = v;
		else
			cf->tcp_idle = v;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		if (strcmp(key, keys[i].key))
			continue;
		if (conf_uint(value, keys[i].max, &v) < 0) {
			snprintf(err, errlen, "%s: not a number from 0 to %lu", key, keys[i].max);
			return -1;
		}
		if (!strcmp(key, "session-timeout")) {
			if (v < 10) {
				snprintf(err, errlen, "session-timeout: at least 10 seconds");
				return -1;
			}
			v *= 1000;
		}
		if (!strcmp(key, "relay-burst") && v && v < RDVD_RELAY_MIN_BURST) {
			snprintf(err, errlen, "relay-burst: 0 or at least %d bytes (one packet)",
			    RDVD_RELAY_MIN_BURST);
			return -1;
		}
		if (keys[i].wide)
			*(uint64_t *)(void *)((char *)cf + keys[i].off) = v;
		else
			*(uint32_t *)(void *)((char *)cf + keys[i].off) = (uint32_t)v;
		return 0;
	}
	snprintf(err, errlen, "unknown setting '%s'", key);
	return -1;
}

/* Read the file and apply the command line over it. 0 ok, -1 with a message in err. */
static int load_config(struct daemon *d, struct config *cf, char *err, size_t errlen)
{
	memset(cf, 0, sizeof(*cf));
	rdvd_conf_default(&cf->rc);
	str_copy(cf->state, DEFAULT_STATE, sizeof(cf->state));
	cf->max_tcp = 4096;
	cf->tcp_idle = 120;
	if (d->conf_given && access(d->conf_path, F_OK) < 0) {
		snprintf(err, errlen, "%s: %s", d->conf_path, strerror(errno));
		return -1;
	}
	if (conf_parse_file(d->conf_path, config_cb, cf, err, errlen) < 0)
		return -1;
	if (d->ncli_listen) {
		cf->nlisten = d->ncli_listen;
		for (int i = 0; i < d->ncli_listen; i++)
			str_copy(cf->listen[i], d->cli_listen[i], sizeof(cf->listen[i]));
	}
	if (!cf->nlisten) {
		snprintf(cf->listen[0], sizeof(cf->listen[0]), "0.0.0.0:%d", RDV_PORT);
		snprintf(cf->listen[1], sizeof(cf->listen[1]), "[::]:%d", RDV_PORT);
		cf->nlisten = 2;
	}
	if (d->cli_state)
		str_copy(cf->state, d->cli_state, sizeof(cf->state));
	for (int i = 0; i < cf->nlisten; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (rnet_parse_addr(cf->listen[i], RDV_PORT, &ss, &len, err, errlen) < 0)
			return -1;
	}
	if (cf->user[0] && !getpwnam(cf->user)) {
		snprintf(err, errlen, "user %s: no such user", cf->user);
		return -1;
	}
	return 0;
}

/* --- state directory, key, privileges --- */

static int key_path(const struct config *cf, char *out, size_t cap)
{
	return snprintf(out, cap, "%s/server.key", cf->state) < (int)cap ? 0 : -1;
}

/* Hand the state directory and its files to the user the daemon will run as. */
static void chown_state(const char *dir, uid_t uid, gid_t gid)
{
	char path[MAX_PATH + 300];
	DIR *dd = opendir(dir);
	struct dirent *e;
	if (chown(dir, uid, gid) < 0)
		log_warn("chown %s: %s", dir, strerror(errno));
	while (dd && (e = readdir(dd))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (chown(path, uid, gid) < 0)
			log_warn("chown %s: %s", path, strerror(errno));
	}
	if (dd)
		closedir(dd);
}

static void drop_privileges(const struct config *cf)
{
	if (geteuid() != 0)
		return;
	if (!cf->user[0]) {
		log_warn("running as root: set 'user' in the configuration");
		return;
	}
	struct passwd *pw = getpwnam(cf->user);
	if (!pw)
		fatalx("user %s: no such user", cf->user);
	chown_state(cf->state, pw->pw_uid, pw->pw_gid);
	if (setgroups(1, &pw->pw_gid) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		fatalx("cannot drop privileges to %s: %s", cf->user, strerror(errno));
	log_info("running as %s", cf->user);
}

static int open_key(const struct config *cf, struct identity *me, int *created)
{
	char path[MAX_PATH + 16], err[256];
	if (store_mkdirs(cf->state, 0700) < 0) {
		warnx("%s: %s", cf->state, strerror(errno));
		return -1;
	}
	if (key_path(cf, path, sizeof(path)) < 0) {
		warnx("%s: path too long", cf->state);
		return -1;
	}
	int rc = identity_load_or_create(path, me, created, err, sizeof(err));
	if (rc < 0) {
		warnx("%s", err);
		return -1;
	}
	if (rc == IDENTITY_WARN_MODE)
		log_warn("%s", err);
	return 0;
}

static int do_init(const struct config *cf)
{
	struct identity me;
	char id[ID_STRLEN + 1], fpr[FPR_STRLEN + 1], host[256];
	int created = 0;
	if (open_key(cf, &me, &created) < 0)
		return EX_CANTCREAT;
	id_encode(me.pk, id);
	id_fingerprint(me.pk, fpr);
	if (gethostname(host, sizeof(host)) < 0)
		str_copy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	printf("%s server key in %s/server.key\n", created ? "created" : "existing", cf->state);
	printf("id %s\n", id);
	printf("fingerprint %s\n", fpr);
	printf("handle %s:%d %s\n", host, RDV_PORT, id);
	identity_free(&me);
	return 0;
}

/* --- the loop --- */

static void arm(struct daemon *d)
{
	uint64_t now = mono_ms(), next = rdvd_next_ms(d->srv, now);
	if (!timer_armed(&d->tick) || d->tick.due_ms > next) {
		timer_stop(d->loop, &d->tick);
		timer_at(d->loop, &d->tick, next);
	}
}

static void on_tick(struct loop *l, void *arg)
{
	struct daemon *d = arg;
	uint64_t now = mono_ms();
	(void)l;
	rdvd_tick(d->srv, now);
	if (now - d->net_tick_ms >= 1000) {
		d->net_tick_ms = now;
		rnet_tick(d->net, now);
	}
	rnet_flush(d->net);
	arm(d);
}

static void on_pass(struct loop *l, void *arg)
{
	struct daemon *d = arg;
	(void)l;
	rdvd_flush(d->srv, mono_ms());
	rnet_flush(d->net);
	arm(d);
}

static void on_term(struct loop *l, void *arg)
{
	struct daemon *d = arg;
	log_info("stopping");
	rdvd_shutdown(d->srv);
	rnet_flush(d->net);
	loop_stop(l, 0);
}

static void on_hup(struct loop *l, void *arg)
{
	struct daemon *d = arg;
	struct config cf;
	char err[512];
	(void)l;
	log_init("tincand", !d->foreground, d->verbose);
	if (load_config(d, &cf, err, sizeof(err)) < 0) {
		log_warn("configuration not reloaded: %s", err);
		return;
	}
	if (strcmp(cf.state, d->cf.state) || strcmp(cf.user, d->cf.user) || cf.nlisten != d->cf.nlisten ||
	    memcmp(cf.listen, d->cf.listen, sizeof(cf.listen)))
		log_warn("listen, state and user changes take effect at the next start");
	rdvd_set_conf(d->srv, &cf.rc);
	rnet_set_limits(d->net, (uint32_t)cf.max_tcp, (uint32_t)cf.tcp_idle * 1000);
	d->cf.rc = cf.rc;
	log_info("configuration reloaded");
}

static int run(struct daemon *d)
{
	char err[512], id[ID_STRLEN + 1], fpr[FPR_STRLEN + 1];
	struct config *cf = &d->cf;
	int created;
	if (!(d->loop = loop_new()) || !(d->net = rnet_new(d->loop)))
		errx(EX_OSERR, "out of memory");
	for (int i = 0; i < cf->nlisten; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (rnet_parse_addr(cf->listen[i], RDV_PORT, &ss, &len, err, sizeof(err)) < 0)
			errx(EX_CONFIG, "%s", err);
		if (rnet_listen(d->net, (struct sockaddr *)&ss, len, err, sizeof(err)) < 0) {
			/* a host without IPv6 still serves IPv4 with the default listen list */
			if (!d->ncli_listen && ss.ss_family == AF_INET6 && errno == EAFNOSUPPORT) {
				warnx("%s (skipped)", err);
				continue;
			}
			errx(EX_OSERR, "listen: %s", err);
		}
	}
	rnet_set_limits(d->net, (uint32_t)cf->max_tcp, (uint32_t)cf->tcp_idle * 1000);
	if (store_mkdirs(cf->state, 0700) < 0)
		errx(EX_CANTCREAT, "%s: %s", cf->state, strerror(errno));
	drop_privileges(cf);
	int rc = EX_CANTCREAT;
	if (open_key(cf, &d->me, &created) < 0)
		goto out;
	if (acct_open(&d->db, cf->state, &cf->rc.lim, err, sizeof(err)) < 0) {
		warnx("%s", err);
		goto out;
	}
	if (!d->foreground && daemon(0, 0) < 0) {
		warn("daemon");
		rc = EX_OSERR;
		goto out;
	}
	log_init("tincand", !d->foreground, d->verbose);
	if (!(d->srv = rdvd_new(&d->me, d->db, &cf->rc, rnet_send, d->net)) ||
	    rnet_start(d->net, d->srv) < 0)
		fatalx("out of memory");
	struct acct_stats st;
	acct_stats(d->db, &st);
	id_encode(d->me.pk, id);
	id_fingerprint(d->me.pk, fpr);
	log_warn("tincand %s started: id %s, fingerprint %s%s", TINCAN_VERSION, id, fpr,
	    created ? " (new key)" : "");
	log_info("state %s: %u accounts, %llu mails, %llu records replayed, %llu skipped",
	    cf->state, st.accounts, (unsigned long long)st.mails, (unsigned long long)st.replayed,
	    (unsigned long long)st.skipped);
	timer_init(&d->tick, on_tick, d);
	loop_on_pass(d->loop, on_pass, d);
	loop_signal(d->loop, SIGTERM, on_term, d);
	loop_signal(d->loop, SIGINT, on_term, d);
	loop_signal(d->loop, SIGHUP, on_hup, d);
	arm(d);
	rc = loop_run(d->loop) < 0 ? EX_OSERR : 0;
	log_info("stopped");
out:
	rdvd_free(d->srv);
	acct_close(d->db);	/* syncs */
	rnet_free(d->net);
	loop_free(d->loop);
	identity_free(&d->me);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "init", no_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d;
	char err[512];
	int ch, check = 0, init = 0;
	memset(&d, 0, sizeof(d));
	d.conf_path = DEFAULT_CONF;
	while ((ch = getopt_long(argc, argv, "df:hl:ns:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			d.foreground = 1;
			break;
		case 'f':
			d.conf_path = optarg;
			d.conf_given = 1;
			break;
		case 'l':
			if (d.ncli_listen == RNET_MAX_LISTEN)
				errx(EX_USAGE, "at most %d -l options", RNET_MAX_LISTEN);
			d.cli_listen[d.ncli_listen++] = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 's':
			d.cli_state = optarg;
			break;
		case 'v':
			d.verbose++;
			break;
		case 'I':
			init = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (sodium_init() < 0)
		errx(EX_SOFTWARE, "libsodium failed to initialise");
	struct rlimit nocore = { 0, 0 };
	setrlimit(RLIMIT_CORE, &nocore);	/* the server key must not end up in a core file */
	signal(SIGPIPE, SIG_IGN);
	log_init("tincand", 0, d.verbose);
	if (load_config(&d, &d.cf, err, sizeof(err)) < 0)
		errx(EX_CONFIG, "%s", err);
	if (check) {
		printf("configuration OK\n");
		return 0;
	}
	if (init)
		return do_init(&d.cf);
	return run(&d);
}
