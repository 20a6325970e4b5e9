/* nat_pmp.c: NAT-PMP (RFC 6886) mapping via libnatpmp, non-blocking in the loop, our deadlines. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <natpmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "nat.h"
#include "util.h"

/*
 * One exchange at a time: the public address request (P_ADDR), then the mapping request
 * (P_MAP), each resent by libnatpmp on its schedule (250 ms, doubling) but given up at our
 * deadline. A mapping is renewed at half its lifetime with the same two requests, asking for
 * the public port we hold. The socket is open only during an exchange.
 *
 * Removing a mapping sends lifetime 0 with the public port we hold, not 0 as RFC 6886 asks:
 * miniupnpd deletes by the public port in the request (0 meaning "the private port"), which
 * with port 0 would remove another host's mapping of that port; servers that follow the RFC
 * delete by private port and ignore the public one.
 */
enum { P_IDLE, P_ADDR, P_MAP, P_MAPPED, P_UNMAP };
enum {
	PMP_UNMAP_MS = 1000,		/* async removal of a losing mapping */
	PMP_RENEW_RETRY_MS = 60000,	/* a failed renewal is tried again this often ... */
	PMP_LOST_MARGIN_MS = 10000,	/* ... while this much lease is left */
	PMP_MAX_LIFETIME_S = 7 * 86400,	/* a longer grant is treated as this */
	PMP_ANSWER_MAX = 64,
};

struct nat_pmp {
	struct loop *l;
	struct nat *n;
	uint16_t port;			/* our private UDP port */
	natpmp_t np;
	int open;			/* np.s is a socket registered with the loop */
	int state;
	int renewing;			/* this exchange renews mapped_port */
	int stopping;			/* round given up: undo whatever the exchange still yields */
	struct nat_mapping keep;	/* ... except this rule (when keep_set) */
	int keep_set;
	uint64_t deadline_ms;		/* of the current exchange */
	struct timer io_t, renew_t;
	struct in_addr ext;		/* from the last public address answer */
	uint16_t want_port;		/* public port asked for in P_MAP, or removed in P_UNMAP */
	uint16_t mapped_port;		/* 0: we hold no mapping */
	uint64_t lease_until_ms;
};

static void exchange_failed(struct nat_pmp *p, const char *why);

static void pmp_close(struct nat_pmp *p)
{
	timer_stop(p->l, &p->io_t);
	if (!p->open)
		return;
	loop_del(p->l, p->np.s);
	closenatpmp(&p->np);
	p->open = 0;
}

/* libnatpmp leaves its socket open when initnatpmp fails after creating it. */
static int pmp_init(natpmp_t *np, const char **why)
{
	int r = initnatpmp(np, 0, 0);
	if (r == 0) {
		fcntl(np->s, F_SETFD, FD_CLOEXEC);
		return 0;
	}
	if (r != NATPMP_ERR_SOCKETERROR && r != NATPMP_ERR_INVALIDARGS && np->s >= 0)
		close(np->s);
	*why = r == NATPMP_ERR_CANNOTGETGATEWAY ? "no IPv4 default gateway" : "no socket";
	return -1;
}

static const char *pmp_err(int r)
{
	switch (r) {
	case NATPMP_ERR_NOGATEWAYSUPPORT:
		return "gateway does not answer NAT-PMP";
	case NATPMP_ERR_RECVFROM:
		return "gateway port 5351 unreachable";
	case NATPMP_ERR_SENDERR:
		return "send failed";
	case NATPMP_ERR_NOTAUTHORIZED:
		return "router said no (not authorised)";
	case NATPMP_ERR_NETWORKFAILURE:
		return "router has no public address (network failure)";
	case NATPMP_ERR_OUTOFRESOURCES:
		return "router said no (out of resources)";
	case NATPMP_ERR_UNSUPPORTEDVERSION:
		return "router said no (unsupported version)";
	case NATPMP_ERR_UNSUPPORTEDOPCODE:
		return "router said no (unsupported request)";
	case NATPMP_ERR_UNDEFINEDERROR:
		return "router said no (undefined error)";
	default:
		return "libnatpmp error";
	}
}

static void arm(struct nat_pmp *p)
{
	uint64_t due = p->deadline_ms;
	struct timeval tv;
	if (getnatpmprequesttimeout(&p->np, &tv) == 0) {
		int64_t ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
		uint64_t t = mono_ms() + (uint64_t)(ms < 0 ? 0 : ms) + 1;
		if (t < due)
			due = t;
	}
	timer_at(p->l, &p->io_t, due);
}

static void send_req(struct nat_pmp *p)
{
	int r;
	if (p->state == P_ADDR)
		r = sendpublicaddressrequest(&p->np);
	else if (p->state == P_MAP)
		r = sendnewportmappingrequest(&p->np, NATPMP_PROTOCOL_UDP, p->port, p->want_port,
		                              nat_lease_s(p->n));
	else
		r = sendnewportmappingrequest(&p->np, NATPMP_PROTOCOL_UDP, p->port, p->want_port, 0);
	if (r < 0) {
		char why[96];
		snprintf(why, sizeof(why), "send: %s", strerror(errno));
		exchange_failed(p, why);
		return;
	}
	arm(p);
}

static int same_rule(const struct nat_mapping *keep, struct in_addr ext, uint16_t port)
{
	const struct sockaddr_in *k = (const struct sockaddr_in *)&keep->external;
	return keep->external.ss_family == AF_INET && k->sin_addr.s_addr == ext.s_addr &&
	       ntohs(k->sin_port) == port;
}

static void on_read(struct loop *l, int fd, short revents, void *arg);

static void begin(struct nat_pmp *p, int state, uint64_t timeout_ms)
{
	const char *why = NULL;
	p->state = state;
	p->deadline_ms = mono_ms() + timeout_ms;
	if (!p->open) {
		if (pmp_init(&p->np, &why) < 0) {
			exchange_failed(p, why);
			return;
		}
		if (loop_add(p->l, p->np.s, POLLIN, on_read, p) < 0) {
			closenatpmp(&p->np);
			exchange_failed(p, "no memory");
			return;
		}
		p->open = 1;
	}
	send_req(p);
}

static void unmap_async(struct nat_pmp *p, uint16_t public_port)
{
	pmp_close(p);
	p->want_port = public_port;
	begin(p, P_UNMAP, PMP_UNMAP_MS);
}

static void exchange_failed(struct nat_pmp *p, const char *why)
{
	char msg[160];
	int state = p->state;
	pmp_close(p);
	p->state = P_IDLE;
	if (state == P_UNMAP || p->stopping) {
		p->stopping = 0;
		return;
	}
	if (!p->renewing) {
		nat_backend_report(p->n, NAT_M_PMP, NAT_FAILED, NULL, why);
		return;
	}
	uint64_t now = mono_ms();
	if (p->mapped_port && now + PMP_LOST_MARGIN_MS < p->lease_until_ms) {
		uint64_t left = p->lease_until_ms - now;
		p->state = P_MAPPED;
		log_debug("nat-pmp: renewal failed (%s), trying again", why);
		timer_in(p->l, &p->renew_t, left / 2 < PMP_RENEW_RETRY_MS ? left / 2 :
		         PMP_RENEW_RETRY_MS);
		return;
	}
	p->mapped_port = 0;
	p->renewing = 0;
	snprintf(msg, sizeof(msg), "nat-pmp renewal: %s", why);
	nat_backend_report(p->n, NAT_M_PMP, NAT_LOST, NULL, msg);
}

static void got_mapping(struct nat_pmp *p, uint16_t public_port, uint32_t lifetime)
{
	pmp_close(p);
	if (p->stopping) {
		p->stopping = 0;
		p->state = P_IDLE;
		if (!(p->keep_set && same_rule(&p->keep, p->ext, public_port)))
			unmap_async(p, public_port);
		return;
	}
	if (lifetime > PMP_MAX_LIFETIME_S)
		lifetime = PMP_MAX_LIFETIME_S;
	uint64_t now = mono_ms();
	const char *why = p->renewing ? (public_port == p->mapped_port ? "renewed" :
	                  "renewed on another port") : "mapped";
	p->mapped_port = public_port;
	p->lease_until_ms = now + (uint64_t)lifetime * 1000;
	p->state = P_MAPPED;
	p->renewing = 0;
	uint64_t half = (uint64_t)lifetime * 500;
	timer_in(p->l, &p->renew_t, half < 500 ? 500 : half);

	struct nat_mapping m;
	memset(&m, 0, sizeof(m));
	struct sockaddr_in *sin = (struct sockaddr_in *)&m.external;
	sin->sin_family = AF_INET;
	sin->sin_addr = p->ext;
	sin->sin_port = htons(public_port);
	m.extlen = sizeof(*sin);
	m.proto_upnp = 0;
	m.internal_port = p->port;
	m.lease_until_ms = p->lease_until_ms;
	nat_backend_report(p->n, NAT_M_PMP, NAT_MAPPED, &m, why);
}

static void got_answer(struct nat_pmp *p, const natpmpresp_t *resp)
{
	char why[96], ip[INET_ADDRSTRLEN];
	switch (p->state) {
	case P_ADDR:
		if (resp->type != NATPMP_RESPTYPE_PUBLICADDRESS) {
			send_req(p);	/* a late answer to something else: ask again */
			return;
		}
		p->ext = resp->pnu.publicaddress.addr;
		if (nat_ipv4_reserved(p->ext.s_addr)) {
			inet_ntop(AF_INET, &p->ext, ip, sizeof(ip));
			snprintf(why, sizeof(why), "double NAT (router's external address %s)", ip);
			exchange_failed(p, why);
			return;
		}
		p->state = P_MAP;
		p->want_port = p->renewing && p->mapped_port ? p->mapped_port : p->port;
		send_req(p);
		return;
	case P_MAP:
		if (resp->type != NATPMP_RESPTYPE_UDPPORTMAPPING ||
		    resp->pnu.newportmapping.privateport != p->port) {
			send_req(p);
			return;
		}
		if (resp->pnu.newportmapping.mappedpublicport == 0 ||
		    resp->pnu.newportmapping.lifetime == 0) {
			exchange_failed(p, "router said no (no port or no lifetime)");
			return;
		}
		got_mapping(p, resp->pnu.newportmapping.mappedpublicport,
		            resp->pnu.newportmapping.lifetime);
		return;
	default:
		pmp_close(p);
		p->state = P_IDLE;
		return;
	}
}

static void step(struct nat_pmp *p)
{
	natpmpresp_t resp;
	memset(&resp, 0, sizeof(resp));
	int r = readnatpmpresponseorretry(&p->np, &resp);
	if (r == NATPMP_TRYAGAIN || r == NATPMP_ERR_WRONGPACKETSOURCE) {
		if (mono_ms() >= p->deadline_ms)
			exchange_failed(p, "no answer");
		else
			arm(p);
		return;
	}
	if (r < 0) {
		exchange_failed(p, pmp_err(r));
		return;
	}
	got_answer(p, &resp);
}

/* libnatpmp reads up to 16 bytes without checking how many came: look first, and drop a
 * datagram too short for its opcode (or not a NAT-PMP answer at all). */
static int answer_ok(const uint8_t *b, ssize_t len)
{
	if (len < 8 || b[0] != 0 || b[1] < 128 || b[1] > 130)
		return 0;
	if (get_u16(b + 2) != 0)
		return 1;	/* an error answer: only the 8-byte header is read */
	return len >= (b[1] == 128 ? 12 : 16);
}

static void on_read(struct loop *l, int fd, short revents, void *arg)
{
	struct nat_pmp *p = arg;
	uint8_t b[PMP_ANSWER_MAX];
	(void)l;
	(void)revents;
	if (!p->open || fd != p->np.s)
		return;
	ssize_t k = recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	if (k < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		/* The peek took the pending socket error (ICMP port unreachable) with it. */
		exchange_failed(p, errno == ECONNREFUSED ? "gateway port 5351 unreachable" :
		                strerror(errno));
		return;
	}
	if (!p->np.has_pending_request || !answer_ok(b, k)) {
		if (recv(fd, b, sizeof(b), MSG_DONTWAIT) < 0)
			log_debug("nat-pmp: drop: %s", strerror(errno));
		return;
	}
	step(p);
}

static void on_io_timer(struct loop *l, void *arg)
{
	struct nat_pmp *p = arg;
	(void)l;
	if (!p->open)
		return;
	if (mono_ms() >= p->deadline_ms)
		exchange_failed(p, "no answer");
	else
		step(p);
}

static void on_renew(struct loop *l, void *arg)
{
	struct nat_pmp *p = arg;
	(void)l;
	if (p->state != P_MAPPED || !p->mapped_port)
		return;
	p->renewing = 1;
	begin(p, P_ADDR, NAT_PMP_DEADLINE_MS);
}

struct nat_pmp *nat_pmp_new(struct loop *l, struct nat *n, uint16_t port)
{
	struct nat_pmp *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->l = l;
	p->n = n;
	p->port = port;
	p->np.s = -1;
	timer_init(&p->io_t, on_io_timer, p);
	timer_init(&p->renew_t, on_renew, p);
	return p;
}

void nat_pmp_start(struct nat_pmp *p)
{
	pmp_close(p);
	timer_stop(p->l, &p->renew_t);
	p->stopping = 0;
	p->renewing = 0;
	p->mapped_port = 0;	/* an old mapping is forgotten: asking again refreshes it */
	begin(p, P_ADDR, NAT_PMP_DEADLINE_MS);
}

void nat_pmp_stop(struct nat_pmp *p, const struct nat_mapping *keep)
{
	timer_stop(p->l, &p->renew_t);
	p->keep_set = keep != NULL;
	if (keep)
		p->keep = *keep;
	if (p->state == P_ADDR || p->state == P_MAP) {
		if (!p->renewing) {
			p->stopping = 1;	/* let the answer come, then undo it */
			return;
		}
		pmp_close(p);
		p->state = P_MAPPED;
	}
	p->renewing = 0;
	if (p->state == P_MAPPED && p->mapped_port) {
		uint16_t port = p->mapped_port;
		p->mapped_port = 0;
		p->state = P_IDLE;
		if (!(keep && same_rule(keep, p->ext, port)))
			unmap_async(p, port);
	}
}

/* Blocking removal for nat_free, bounded by deadline_ms. */
static void unmap_sync(struct nat_pmp *p, uint16_t public_port, uint64_t deadline_ms)
{
	natpmp_t np;
	const char *why = NULL;
	if (pmp_init(&np, &why) < 0)
		return;
	int r = sendnewportmappingrequest(&np, NATPMP_PROTOCOL_UDP, p->port, public_port, 0);
	while (r >= 0) {
		uint64_t now = mono_ms();
		if (now >= deadline_ms)
			break;
		struct pollfd pfd = { .fd = np.s, .events = POLLIN };
		if (poll(&pfd, 1, (int)(deadline_ms - now < 50 ? deadline_ms - now : 50)) < 0 &&
		    errno != EINTR)
			break;
		natpmpresp_t resp;
		r = readnatpmpresponseorretry(&np, &resp);
		if (r == NATPMP_TRYAGAIN)
			r = 0;
		else
			break;
	}
	log_debug("nat-pmp: removed public port %u (%s)", public_port,
	          r >= 0 ? "answered" : pmp_err(r));
	closenatpmp(&np);
}

void nat_pmp_free(struct nat_pmp *p, uint64_t deadline_ms)
{
	if (!p)
		return;
	pmp_close(p);
	timer_stop(p->l, &p->renew_t);
	if (p->mapped_port)
		unmap_sync(p, p->mapped_port, deadline_ms);
	free(p);
}
