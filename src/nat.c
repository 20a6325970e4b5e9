/* nat.c: port mapping strategy: UPnP IGD and NAT-PMP race, the first mapping wins and is kept. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nat.h"
#include "util.h"

enum { M_IDLE, M_RUNNING, M_FAILED };
enum { NAT_WHY_MAX = 160 };

struct nat {
	struct loop *l;
	uint16_t port;
	nat_cb cb;
	void *arg;
	uint32_t lease_s;
	struct nat_pmp *pmp;
	struct nat_upnp *upnp;
	int state[NAT_M_COUNT];
	char why[NAT_M_COUNT][NAT_WHY_MAX];
	int round_open;		/* a round waits for its NAT_MAPPED or NAT_FAILED */
	int winner;		/* method whose mapping is in force, -1 none */
	struct nat_mapping cur;
	struct timer retry_t;
	int closing;
};

static const char *const method_name[NAT_M_COUNT] = { "nat-pmp", "upnp" };

/* Reserved IPv4 blocks (IANA special-purpose registry and RFC 6890): a router whose external
 * address is in one of them sits behind another NAT, or is not on the internet at all. */
static const struct {
	uint32_t net;
	int len;
} reserved4[] = {
	{ 0x00000000, 8 },	/* "this network" */
	{ 0x0a000000, 8 },	/* RFC 1918 */
	{ 0x64400000, 10 },	/* RFC 6598 shared address space (carrier-grade NAT) */
	{ 0x7f000000, 8 },	/* loopback */
	{ 0xa9fe0000, 16 },	/* link-local */
	{ 0xac100000, 12 },	/* RFC 1918 */
	{ 0xc0000000, 24 },	/* IETF protocol assignments */
	{ 0xc0000200, 24 },	/* TEST-NET-1 */
	{ 0xc0586300, 24 },	/* 6to4 relay anycast (deprecated) */
	{ 0xc0a80000, 16 },	/* RFC 1918 */
	{ 0xc6120000, 15 },	/* benchmarking */
	{ 0xc6336400, 24 },	/* TEST-NET-2 */
	{ 0xcb007100, 24 },	/* TEST-NET-3 */
	{ 0xe0000000, 4 },	/* multicast */
	{ 0xf0000000, 4 },	/* reserved, and the limited broadcast address */
};

int nat_ipv4_reserved(uint32_t addr_be)
{
	uint32_t a = ntohl(addr_be);
	for (size_t i = 0; i < ARRAY_LEN(reserved4); i++) {
		uint32_t mask = ~(uint32_t)0 << (32 - reserved4[i].len);
		if ((a & mask) == reserved4[i].net)
			return 1;
	}
	return 0;
}

uint32_t nat_lease_s(const struct nat *n)
{
	return n->lease_s;
}

void nat_set_lease(struct nat *n, uint32_t seconds)
{
	n->lease_s = seconds ? seconds : NAT_LEASE_S;
	nat_upnp_set_lease(n->upnp, n->lease_s);
}

static void stop_method(struct nat *n, int method, const struct nat_mapping *keep)
{
	if (method == NAT_M_PMP)
		nat_pmp_stop(n->pmp, keep);
	else
		nat_upnp_stop(n->upnp, keep);
	n->state[method] = M_IDLE;
}

static void start_round(struct nat *n)
{
	timer_stop(n->l, &n->retry_t);
	n->round_open = 1;
	for (int i = 0; i < NAT_M_COUNT; i++) {
		n->state[i] = M_RUNNING;
		n->why[i][0] = '\0';
	}
	log_debug("nat: discovering routers for UDP port %u", n->port);
	nat_pmp_start(n->pmp);
	nat_upnp_start(n->upnp);
}

static void on_retry(struct loop *l, void *arg)
{
	struct nat *n = arg;
	(void)l;
	if (n->winner < 0)
		start_round(n);
}

static const char *map_str(const struct nat_mapping *m, char *buf, size_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&m->external;
	char ip[INET_ADDRSTRLEN] = "?";
	if (m->external.ss_family == AF_INET)
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s %s:%u", m->proto_upnp ? "upnp" : "nat-pmp", ip,
	         ntohs(sin->sin_port));
	return buf;
}

static void report_mapped(struct nat *n, int method, const struct nat_mapping *m,
                          const char *why)
{
	char buf[96];
	if (n->winner < 0) {
		n->winner = method;
		n->cur = *m;
		n->round_open = 0;
		int other = 1 - method;
		stop_method(n, other, &n->cur);
		log_info("nat: mapped %s (%s)", map_str(m, buf, sizeof(buf)), why);
		n->cb(n->arg, NAT_MAPPED, &n->cur, why);
	} else if (n->winner == method) {
		n->cur = *m;
		log_debug("nat: %s (%s)", map_str(m, buf, sizeof(buf)), why);
		n->cb(n->arg, NAT_MAPPED, &n->cur, why);
	} else {
		/* The slower method mapped too: remove that one, unless it is the same rule. */
		log_debug("nat: dropping the second mapping %s", map_str(m, buf, sizeof(buf)));
		stop_method(n, method, &n->cur);
	}
}

static void report_failed(struct nat *n, int method, const char *why)
{
	n->state[method] = M_FAILED;
	snprintf(n->why[method], sizeof(n->why[method]), "%s", why);
	log_debug("nat: %s: %s", method_name[method], why);
	if (n->winner >= 0 || !n->round_open)
		return;
	for (int i = 0; i < NAT_M_COUNT; i++)
		if (n->state[i] == M_RUNNING)
			return;
	char all[NAT_M_COUNT * (NAT_WHY_MAX + 16)];
	size_t off = 0;
	/* UPnP first: it is what most routers speak. */
	for (int k = 0; k < NAT_M_COUNT; k++) {
		int i = NAT_M_COUNT - 1 - k;
		int w = snprintf(all + off, sizeof(all) - off, "%s%s: %s", off ? "; " : "",
		                 method_name[i], n->why[i][0] ? n->why[i] : "stopped");
		if (w < 0 || (size_t)w >= sizeof(all) - off)
			break;
		off += (size_t)w;
	}
	n->round_open = 0;
	log_info("nat: no port mapping: %s", all);
	timer_in(n->l, &n->retry_t, NAT_RETRY_FAILED_MS);
	n->cb(n->arg, NAT_FAILED, NULL, all);
}

void nat_backend_report(struct nat *n, int method, int event, const struct nat_mapping *m,
                        const char *why)
{
	if (n->closing || method < 0 || method >= NAT_M_COUNT)
		return;
	if (!why)
		why = "";
	switch (event) {
	case NAT_MAPPED:
		report_mapped(n, method, m, why);
		break;
	case NAT_FAILED:
		report_failed(n, method, why);
		break;
	case NAT_LOST: {
		if (n->winner != method)
			break;
		struct nat_mapping old = n->cur;
		n->winner = -1;
		n->state[method] = M_IDLE;
		log_info("nat: mapping lost: %s", why);
		timer_in(n->l, &n->retry_t, NAT_RETRY_LOST_MS);
		n->cb(n->arg, NAT_LOST, &old, why);
		break;
	}
	}
}

struct nat *nat_new(struct loop *l, uint16_t internal_udp_port, nat_cb cb, void *arg)
{
	if (!l || !cb || internal_udp_port == 0)
		return NULL;
	struct nat *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->l = l;
	n->port = internal_udp_port;
	n->cb = cb;
	n->arg = arg;
	n->lease_s = NAT_LEASE_S;
	n->winner = -1;
	timer_init(&n->retry_t, on_retry, n);
	n->pmp = nat_pmp_new(l, n, internal_udp_port);
	n->upnp = nat_upnp_new(l, n, internal_udp_port);
	if (!n->pmp || !n->upnp) {
		uint64_t now = mono_ms();
		n->closing = 1;
		if (n->upnp)
			nat_upnp_free(n->upnp, now);
		if (n->pmp)
			nat_pmp_free(n->pmp, now);
		free(n);
		return NULL;
	}
	start_round(n);
	return n;
}

void nat_refresh(struct nat *n)
{
	if (!n)
		return;
	if (n->winner >= 0) {
		struct nat_mapping old = n->cur;
		n->winner = -1;
		n->cb(n->arg, NAT_LOST, &old, "network changed");
	}
	start_round(n);
}

void nat_free(struct nat *n)
{
	if (!n)
		return;
	uint64_t deadline = mono_ms() + NAT_FREE_MAX_MS;
	n->closing = 1;
	timer_stop(n->l, &n->retry_t);
	/* The UPnP thread removes its mapping while NAT-PMP removes its own here. */
	nat_upnp_quit(n->upnp);
	uint64_t pmp_deadline = mono_ms() + NAT_FREE_MAX_MS / 3;
	nat_pmp_free(n->pmp, pmp_deadline < deadline ? pmp_deadline : deadline);
	nat_upnp_free(n->upnp, deadline);
	free(n);
}
