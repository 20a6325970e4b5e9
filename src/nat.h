/* nat.h: a UDP port mapping on the home router, through UPnP IGD or NAT-PMP, kept and removed. */
#ifndef TINCAN_NAT_H
#define TINCAN_NAT_H

#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"

struct nat;

struct nat_mapping {
	int proto_upnp;			/* 1 UPnP IGD, 0 NAT-PMP */
	struct sockaddr_storage external;	/* the router's public IPv4 address and mapped port */
	socklen_t extlen;
	uint16_t internal_port;
	uint64_t lease_until_ms;	/* mono_ms() when the lease ends; 0 = permanent */
};

/*
 * Events, each with why (never NULL, for logs and people):
 *  NAT_MAPPED  m is the mapping in force. Sent when one is made, again after each renewal
 *              (lease_until_ms moves on) and when a renewal moved it to another port: each
 *              NAT_MAPPED replaces the one before.
 *  NAT_LOST    the mapping m stopped working (renewal failed until the lease ran out, the
 *              router refused it, or nat_refresh). A new attempt follows by itself.
 *  NAT_FAILED  m is NULL: a discovery round ended with no mapping from any method. why says
 *              each method's reason, e.g. "upnp: double NAT (IGD external address 10.0.0.1);
 *              nat-pmp: no answer". Retried by itself every few minutes.
 * One round gives exactly one NAT_MAPPED or one NAT_FAILED. The callback must not call
 * nat_free or nat_refresh (defer them to a timer).
 */
typedef void (*nat_cb)(void *arg, int event, const struct nat_mapping *m, const char *why);
enum { NAT_MAPPED, NAT_LOST, NAT_FAILED };

enum {
	NAT_LEASE_S = 3600,		/* lease asked for; renewed at half of what was granted */
	NAT_PMP_DEADLINE_MS = 3000,	/* one NAT-PMP exchange: libnatpmp alone retries ~2 min */
	NAT_UPNP_DISCOVER_MS = 2000,	/* SSDP wait (all searches at once), in the helper thread */
	NAT_FREE_MAX_MS = 1800,		/* nat_free never takes longer than this */
	NAT_RETRY_FAILED_MS = 300000,	/* a new round after NAT_FAILED */
	NAT_RETRY_LOST_MS = 5000,	/* a new round after NAT_LOST */
};

/*
 * Start at once: UPnP (SSDP search, GetValidIGD, AddPortMapping) in a helper thread that
 * reports through a pipe, and NAT-PMP in the loop, both asking for external port =
 * internal_udp_port. The first method to get a mapping wins; the other one's mapping is removed
 * (unless it is the same rule). A port held by another host: UPnP tries a few random ports,
 * NAT-PMP takes the one the router offers. An IGD or NAT-PMP router whose external address is
 * private or reserved is double NAT and gives no mapping. NULL on failure (no memory, no thread).
 * The loop is never blocked: discovery and SOAP calls run in the thread, NAT-PMP is non-blocking.
 */
struct nat *nat_new(struct loop *l, uint16_t internal_udp_port, nat_cb cb, void *arg);
/* The network changed: NAT_LOST for the current mapping, if any, then a new round. */
void nat_refresh(struct nat *n);
/* Remove the mapping (clean exit) and free; takes at most NAT_FREE_MAX_MS. A helper thread
 * still inside a blocking UPnP call then finishes on its own without touching n. */
void nat_free(struct nat *n);
/* Lease to ask for from the next request on (default NAT_LEASE_S; tests use a few s). */
void nat_set_lease(struct nat *n, uint32_t seconds);
/* 1 if the IPv4 address (network byte order) is private, shared, loopback, link-local,
 * documentation, benchmarking, multicast or otherwise reserved: no use as a public address. */
int nat_ipv4_reserved(uint32_t addr_be);

/* ---- Internal: between nat.c, nat_upnp.c and nat_pmp.c only. ---- */
enum { NAT_M_PMP = 0, NAT_M_UPNP = 1, NAT_M_COUNT = 2 };
/* Backends report here: event NAT_MAPPED (m set), NAT_FAILED (end of a round's attempt) or
 * NAT_LOST (the mapping they had is gone). */
void nat_backend_report(struct nat *n, int method, int event, const struct nat_mapping *m,
                        const char *why);
uint32_t nat_lease_s(const struct nat *n);

struct nat_pmp;
struct nat_pmp *nat_pmp_new(struct loop *l, struct nat *n, uint16_t port);
void nat_pmp_start(struct nat_pmp *p);		/* (re)discover the gateway, then map */
/* Give up this round; remove our mapping unless it is keep's rule (keep may be NULL). */
void nat_pmp_stop(struct nat_pmp *p, const struct nat_mapping *keep);
void nat_pmp_free(struct nat_pmp *p, uint64_t deadline_ms);	/* remove the mapping, free */

struct nat_upnp;
struct nat_upnp *nat_upnp_new(struct loop *l, struct nat *n, uint16_t port);
void nat_upnp_start(struct nat_upnp *u);
void nat_upnp_stop(struct nat_upnp *u, const struct nat_mapping *keep);
void nat_upnp_set_lease(struct nat_upnp *u, uint32_t lease_s);
/* Tell the thread to remove its mapping and end (returns at once) ... */
void nat_upnp_quit(struct nat_upnp *u);
/* ... then wait for it until deadline_ms (mono) and free; a late thread frees itself. */
void nat_upnp_free(struct nat_upnp *u, uint64_t deadline_ms);

#endif
