/* nat_upnp.c: UPnP IGD mapping through miniupnpc in a helper thread that reports through a pipe. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#include "log.h"
#include "nat.h"
#include "util.h"

/*
 * The thread owns everything miniupnpc touches (device list, URLs, IGD data) and does one
 * command at a time: DISCOVER (upnpDiscoverDevices, UPNP_GetValidIGD, GetExternalIPAddress, then
 * AddPortMapping unless told not to map any more), RENEW (AddPortMapping again), DELETE.
 * The loop side posts a command only when the thread is idle and reads each result after one
 * byte on the pipe. Shared fields are under mu; the thread never touches struct nat.
 * On quit the thread removes its mapping; if the loop stopped waiting (abandoned), the thread
 * frees the shared block itself and never writes to the pipe, which the loop has closed.
 */
enum { C_NONE, C_DISCOVER, C_RENEW, C_DELETE };
enum { R_MAPPED, R_FAILED, R_DONE };
enum {
	UPNP_CONFLICT_TRIES = 4,	/* random external ports tried after error 718 */
	UPNP_ERR_CONFLICT = 718,	/* ConflictInMappingEntry */
	UPNP_ERR_PERMANENT_ONLY = 725,	/* OnlyPermanentLeasesSupported */
	UPNP_RENEW_RETRY_MS = 60000,
	UPNP_LOST_MARGIN_MS = 10000,
	UPNP_WHY_MAX = 128,
};

struct upnp_shared {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	/* loop -> thread */
	int cmd;
	int quit, abandoned;
	int want_map;			/* 0: the round is over, DISCOVER must not map */
	uint16_t port;
	uint32_t lease_s;
	int wfd;			/* pipe write end; the loop closes it only after quit */
	/* thread -> loop */
	int exited;
	int holds;			/* adding, or holding, a mapping: quit must wait for it */
	int res_ready, res_kind;
	uint16_t res_port;
	uint32_t res_lease_s;		/* 0 = permanent */
	char res_ext[INET_ADDRSTRLEN];
	char res_why[UPNP_WHY_MAX];
	/* thread only */
	struct UPNPUrls urls;
	struct IGDdatas data;
	int have_igd;
	char lanaddr[64];
	char ext[INET_ADDRSTRLEN];
	uint16_t mapped_port;		/* ours on the IGD, 0 none */
	uint32_t granted_s;
	unsigned rnd;
};

struct nat_upnp {
	struct loop *l;
	struct nat *n;
	struct upnp_shared *s;
	pthread_t thread;
	int rfd;
	int busy;			/* a command is posted and its result not read yet */
	int pending;			/* command to post when the thread is idle */
	int stopping;			/* undo the mapping the running command may make */
	struct nat_mapping keep;
	int keep_set;
	int mapped;			/* we hold the mapping in `cur` */
	struct nat_mapping cur;
	int renewing;
	struct timer renew_t;
	int quitting;
};

/* ---- thread side ---- */

static void set_result(struct upnp_shared *s, int kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_result(struct upnp_shared *s, int kind, const char *fmt, ...)
{
	va_list ap;
	s->res_kind = kind;
	va_start(ap, fmt);
	vsnprintf(s->res_why, sizeof(s->res_why), fmt, ap);
	va_end(ap);
}

static int add_mapping(struct upnp_shared *s, uint16_t ext, uint16_t in, uint32_t lease_s)
{
	char e[8], i[8], d[16];
	snprintf(e, sizeof(e), "%u", ext);
	snprintf(i, sizeof(i), "%u", in);
	snprintf(d, sizeof(d), "%u", lease_s);
	return UPNP_AddPortMapping(s->urls.controlURL, s->data.first.servicetype, e, i, s->lanaddr,
	                           "tincan", "UDP", NULL, d);
}

static void set_holds(struct upnp_shared *s, int holds)
{
	pthread_mutex_lock(&s->mu);
	s->holds = holds;
	pthread_cond_broadcast(&s->cond);	/* nat_upnp_free may be waiting for this */
	pthread_mutex_unlock(&s->mu);
}

/* AddPortMapping for port (or, when another host holds it, a few random ports). */

static void do_map(struct upnp_shared *s, uint16_t port, uint16_t ext, uint32_t lease_s, int renew)
{
	int r = -1;
	for (int tries = 0; tries <= UPNP_CONFLICT_TRIES; tries++) {
		r = add_mapping(s, ext, port, lease_s);
		if (r == UPNP_ERR_PERMANENT_ONLY && lease_s) {
			lease_s = 0;	/* an old IGDv1: permanent only, removed on exit */
			r = add_mapping(s, ext, port, lease_s);
		}
		if (r != UPNP_ERR_CONFLICT || renew)
			break;
		ext = (uint16_t)(1024 + rand_r(&s->rnd) % (65536 - 1024));
	}
	if (r != UPNPCOMMAND_SUCCESS) {
		const char *e = strupnperror(r);
		if (!renew)
			set_holds(s, 0);
		set_result(s, R_FAILED, "router said no (AddPortMapping: %d %s)", r, e ? e : "");
		return;
	}
	s->mapped_port = ext;
	s->granted_s = lease_s;
	s->res_port = ext;
	s->res_lease_s = lease_s;
	memcpy(s->res_ext, s->ext, sizeof(s->res_ext));
	set_result(s, R_MAPPED, renew ? "renewed" : "mapped");
}

static void do_delete(struct upnp_shared *s)
{
	char e[8];
	if (!s->have_igd || !s->mapped_port)
		return;
	snprintf(e, sizeof(e), "%u", s->mapped_port);
	int r = UPNP_DeletePortMapping(s->urls.controlURL, s->data.first.servicetype, e, "UDP",
	                               NULL);
	if (r != UPNPCOMMAND_SUCCESS)
		log_debug("upnp: DeletePortMapping %s: %d", e, r);
	s->mapped_port = 0;
	set_holds(s, 0);
}

static void forget_igd(struct upnp_shared *s)
{
	if (s->have_igd)
		FreeUPNPUrls(&s->urls);
	s->have_igd = 0;
	s->mapped_port = 0;
	set_holds(s, 0);
}

/* The external address: a dotted quad that is not private or reserved, or why not. */
static int check_ext(struct upnp_shared *s, int igd_state)
{
	char ip[40] = "";
	struct in_addr a;
	int r = UPNP_GetExternalIPAddress(s->urls.controlURL, s->data.first.servicetype, ip);
	ip[sizeof(ip) - 1] = '\0';
	if (r != UPNPCOMMAND_SUCCESS || inet_pton(AF_INET, ip, &a) != 1) {
		/* miniupnpd hides a private external address this way, so with state 2 this is
		 * most often double NAT; it may also be a WAN link that is down. */
		set_result(s, R_FAILED, igd_state == 1 ? "IGD gave no external address" :
		           "double NAT or not connected (IGD has no public address)");
		return -1;
	}
	if (nat_ipv4_reserved(a.s_addr)) {
		set_result(s, R_FAILED, "double NAT (IGD external address %s)", ip);
		return -1;
	}
	if (igd_state != 1) {
		set_result(s, R_FAILED, "IGD not connected");
		return -1;
	}
	inet_ntop(AF_INET, &a, s->ext, sizeof(s->ext));
	return 0;
}

static void do_discover(struct upnp_shared *s, uint16_t port, uint32_t lease_s)
{
	int err = 0;
	forget_igd(s);	/* a mapping on a router we no longer see expires with its lease */
	/* All searches go out at once and are answered within one wait (searchalltypes = 1):
	 * upnpDiscover would wait the full delay for each of its four types in turn when no
	 * router answers (8 s at 2 s). IGDv2 devices answer the v1 searches too. */
	static const char *const types[] = {
		"urn:schemas-upnp-org:device:InternetGatewayDevice:1",
		"urn:schemas-upnp-org:service:WANIPConnection:1",
		"urn:schemas-upnp-org:service:WANPPPConnection:1",
		"upnp:rootdevice",
		NULL,
	};
	struct UPNPDev *devs = upnpDiscoverDevices(types, NAT_UPNP_DISCOVER_MS, NULL, NULL,
	                                           UPNP_LOCAL_PORT_ANY, 0, 2, &err, 1);
	if (!devs) {
		set_result(s, R_FAILED, "no UPnP router answered");
		return;
	}
#if MINIUPNPC_API_VERSION >= 18
	char wan[64];
	int r = UPNP_GetValidIGD(devs, &s->urls, &s->data, s->lanaddr, sizeof(s->lanaddr), wan,
	                         sizeof(wan));
	int connected = r == 1 || r == 2, not_igd = r == 4;
#else
	int r = UPNP_GetValidIGD(devs, &s->urls, &s->data, s->lanaddr, sizeof(s->lanaddr));
	int connected = r == 1, not_igd = r == 3;	/* 2: not connected, or reserved address */
#endif
	freeUPNPDevlist(devs);
	if (r <= 0 || not_igd) {
		if (r > 0)
			FreeUPNPUrls(&s->urls);
		set_result(s, R_FAILED, r <= 0 ? "no IGD found" : "UPnP device is not an IGD");
		return;
	}
	s->have_igd = 1;
	s->lanaddr[sizeof(s->lanaddr) - 1] = '\0';
	if (check_ext(s, connected ? 1 : 2) < 0)
		return;
	pthread_mutex_lock(&s->mu);
	int want = s->want_map && !s->quit;
	lease_s = s->lease_s;	/* nat_set_lease may have come since the command */
	s->holds = want;	/* from here quit waits: we may be adding a mapping */
	pthread_mutex_unlock(&s->mu);
	if (!want) {
		set_result(s, R_DONE, "not needed");
		return;
	}
	do_map(s, port, port, lease_s, 0);
}

static void *upnp_main(void *arg)
{
	struct upnp_shared *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (s->cmd == C_NONE && !s->quit)
			pthread_cond_wait(&s->cond, &s->mu);
		if (s->quit)
			break;
		int cmd = s->cmd;
		uint16_t port = s->port;
		uint32_t lease_s = s->lease_s;
		pthread_mutex_unlock(&s->mu);

		s->res_why[0] = '\0';
		s->res_kind = R_DONE;
		if (cmd == C_DISCOVER)
			do_discover(s, port, lease_s);
		else if (cmd == C_RENEW && s->have_igd && s->mapped_port)
			do_map(s, port, s->mapped_port, s->granted_s ? lease_s : 0, 1);
		else if (cmd == C_RENEW)
			set_result(s, R_FAILED, "no mapping to renew");
		else if (cmd == C_DELETE)
			do_delete(s);

		pthread_mutex_lock(&s->mu);
		s->cmd = C_NONE;
		if (!s->quit) {
			s->res_ready = 1;
			char b = 1;
			if (write(s->wfd, &b, 1) < 0)
				log_debug("upnp: pipe: %s", strerror(errno));
		}
	}
	pthread_mutex_unlock(&s->mu);

	do_delete(s);	/* clean exit: remove what we mapped */
	forget_igd(s);

	pthread_mutex_lock(&s->mu);
	s->exited = 1;
	int abandoned = s->abandoned;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
	if (abandoned) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cond);
		free(s);
	}
	return NULL;
}

/* ---- loop side ---- */

static void post(struct nat_upnp *u, int cmd)
{
	struct upnp_shared *s = u->s;
	if (u->busy) {
		/* One slot: DISCOVER outranks RENEW, DELETE outranks nothing it would undo. */
		if (u->pending != C_DISCOVER)
			u->pending = cmd;
		return;
	}
	u->busy = 1;
	pthread_mutex_lock(&s->mu);
	s->cmd = cmd;
	s->lease_s = nat_lease_s(u->n);
	if (cmd == C_DISCOVER)
		s->want_map = 1;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

static int same_rule(const struct nat_mapping *a, const struct nat_mapping *b)
{
	const struct sockaddr_in *x = (const struct sockaddr_in *)&a->external;
	const struct sockaddr_in *y = (const struct sockaddr_in *)&b->external;
	return a->external.ss_family == AF_INET && b->external.ss_family == AF_INET &&
	       x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
}

static void schedule_renew(struct nat_upnp *u, uint32_t lease_s)
{
	if (lease_s == 0)
		return;	/* permanent: nothing to renew */
	uint64_t half = (uint64_t)lease_s * 500;
	timer_in(u->l, &u->renew_t, half < 500 ? 500 : half);
}

static void renew_failed(struct nat_upnp *u, const char *why)
{
	char msg[UPNP_WHY_MAX + 32];
	uint64_t now = mono_ms();
	u->renewing = 0;
	if (u->cur.lease_until_ms > now + UPNP_LOST_MARGIN_MS) {
		uint64_t left = u->cur.lease_until_ms - now;
		log_debug("upnp: renewal failed (%s), trying again", why);
		timer_in(u->l, &u->renew_t, left / 2 < UPNP_RENEW_RETRY_MS ? left / 2 :
		         UPNP_RENEW_RETRY_MS);
		return;
	}
	u->mapped = 0;
	snprintf(msg, sizeof(msg), "upnp renewal: %s", why);
	nat_backend_report(u->n, NAT_M_UPNP, NAT_LOST, NULL, msg);
}

static void got_result(struct nat_upnp *u, int kind, const struct nat_mapping *m,
                       uint32_t lease_s, const char *why, int was_renew)
{
	if (u->stopping) {
		/* The round was given up while the thread worked: undo a new mapping. */
		u->stopping = 0;
		if (kind == R_MAPPED && !(u->keep_set && same_rule(&u->keep, m)))
			post(u, C_DELETE);
		return;
	}
	if (kind == R_MAPPED) {
		u->mapped = 1;
		u->renewing = 0;
		u->cur = *m;
		schedule_renew(u, lease_s);
		nat_backend_report(u->n, NAT_M_UPNP, NAT_MAPPED, m, why);
	} else if (kind == R_FAILED) {
		if (was_renew && u->mapped)
			renew_failed(u, why);
		else
			nat_backend_report(u->n, NAT_M_UPNP, NAT_FAILED, NULL, why);
	}
}

static void on_pipe(struct loop *l, int fd, short revents, void *arg)
{
	struct nat_upnp *u = arg;
	struct upnp_shared *s = u->s;
	char buf[16];
	(void)l;
	(void)revents;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&s->mu);
	if (!s->res_ready) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	s->res_ready = 0;
	int kind = s->res_kind;
	char why[UPNP_WHY_MAX];
	memcpy(why, s->res_why, sizeof(why));
	why[sizeof(why) - 1] = '\0';
	struct nat_mapping m;
	memset(&m, 0, sizeof(m));
	struct sockaddr_in *sin = (struct sockaddr_in *)&m.external;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(s->res_port);
	if (kind == R_MAPPED && inet_pton(AF_INET, s->res_ext, &sin->sin_addr) != 1)
		kind = R_FAILED;
	uint32_t lease_s = s->res_lease_s;
	pthread_mutex_unlock(&s->mu);

	m.extlen = sizeof(*sin);
	m.proto_upnp = 1;
	m.internal_port = u->s->port;
	m.lease_until_ms = lease_s ? mono_ms() + (uint64_t)lease_s * 1000 : 0;
	int was_renew = u->renewing;
	u->busy = 0;
	got_result(u, kind, &m, lease_s, why, was_renew);
	if (!u->busy && u->pending != C_NONE) {
		int cmd = u->pending;
		u->pending = C_NONE;
		if (cmd == C_RENEW)
			u->renewing = 1;
		post(u, cmd);
	}
}

static void on_renew(struct loop *l, void *arg)
{
	struct nat_upnp *u = arg;
	(void)l;
	if (!u->mapped)
		return;
	u->renewing = 1;
	post(u, C_RENEW);
}

struct nat_upnp *nat_upnp_new(struct loop *l, struct nat *n, uint16_t port)
{
	int fds[2];
	struct nat_upnp *u = calloc(1, sizeof(*u));
	struct upnp_shared *s = calloc(1, sizeof(*s));
	if (!u || !s || pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail;
	u->l = l;
	u->n = n;
	u->s = s;
	u->rfd = fds[0];
	s->wfd = fds[1];
	s->port = port;
	s->lease_s = NAT_LEASE_S;
	s->rnd = (unsigned)(mono_us() ^ (uint64_t)getpid() << 16);
	timer_init(&u->renew_t, on_renew, u);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);

	/* The thread takes no signals: the loop's are blocked, SIGPIPE from a SOAP send stays
	 * pending in the thread instead of killing the process. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&u->thread, NULL, upnp_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cond);
		close(fds[0]);
		close(fds[1]);
		goto fail;
	}
	if (loop_add(l, u->rfd, POLLIN, on_pipe, u) < 0) {
		u->quitting = 1;
		nat_upnp_free(u, mono_ms());
		return NULL;
	}
	return u;
fail:
	free(u);
	free(s);
	return NULL;
}

void nat_upnp_set_lease(struct nat_upnp *u, uint32_t lease_s)
{
	pthread_mutex_lock(&u->s->mu);
	u->s->lease_s = lease_s;
	pthread_mutex_unlock(&u->s->mu);
}

void nat_upnp_start(struct nat_upnp *u)
{
	timer_stop(u->l, &u->renew_t);
	u->stopping = 0;
	u->renewing = 0;
	u->mapped = 0;
	if (u->busy) {
		u->pending = C_DISCOVER;
		return;
	}
	post(u, C_DISCOVER);
}

void nat_upnp_stop(struct nat_upnp *u, const struct nat_mapping *keep)
{
	timer_stop(u->l, &u->renew_t);
	u->keep_set = keep != NULL;
	if (keep)
		u->keep = *keep;
	u->renewing = 0;
	if (u->pending == C_DISCOVER || u->pending == C_RENEW)
		u->pending = C_NONE;
	if (u->busy) {
		pthread_mutex_lock(&u->s->mu);
		u->s->want_map = 0;
		pthread_mutex_unlock(&u->s->mu);
		u->stopping = 1;
	} else if (u->mapped && !(keep && same_rule(keep, &u->cur))) {
		post(u, C_DELETE);
	}
	u->mapped = 0;
}

void nat_upnp_quit(struct nat_upnp *u)
{
	if (!u || u->quitting)
		return;
	u->quitting = 1;
	timer_stop(u->l, &u->renew_t);
	pthread_mutex_lock(&u->s->mu);
	u->s->quit = 1;
	u->s->want_map = 0;
	pthread_cond_signal(&u->s->cond);
	pthread_mutex_unlock(&u->s->mu);
}

void nat_upnp_free(struct nat_upnp *u, uint64_t deadline_ms)
{
	if (!u)
		return;
	struct upnp_shared *s = u->s;
	nat_upnp_quit(u);
	loop_del(u->l, u->rfd);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = mono_ms(), wait = deadline_ms > now ? deadline_ms - now : 0;
	ts.tv_sec += (time_t)(wait / 1000);
	ts.tv_nsec += (long)(wait % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	/* Wait only while the thread adds or holds a mapping to remove: a thread stuck in
	 * discovery (up to NAT_UPNP_DISCOVER_MS) has nothing to undo. */
	pthread_mutex_lock(&s->mu);
	while (!s->exited && s->holds)
		if (pthread_cond_timedwait(&s->cond, &s->mu, &ts) == ETIMEDOUT)
			break;
	int done = s->exited, wfd = s->wfd;
	if (!done)
		s->abandoned = 1;	/* the thread frees s when its blocking call returns */
	pthread_mutex_unlock(&s->mu);
	/* From here on s is the thread's unless done. It writes to the pipe only while !quit,
	 * under mu, so closing both ends now is safe. */
	close(u->rfd);
	close(wfd);
	if (done) {
		pthread_join(u->thread, NULL);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cond);
		free(s);
	} else {
		log_info("upnp: helper thread still busy; leaving it to finish alone");
		pthread_detach(u->thread);
	}
	free(u);
}
