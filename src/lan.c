/* lan.c: LAN discovery: signed beacons over multicast and broadcast, replay table, answers. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "lan.h"
#include "log.h"
#include "noise.h"
#include "util.h"

enum {
	LAN_MAX_ADDRS = 64,		/* interface addresses remembered per family */
	LAN_ANSWER_SLOTS = 64,		/* sources answered within the last second, at most */
	LAN_READS_PER_WAKE = 256,	/* poll is level-triggered: the rest waits one pass */
	LAN_IFS_REREAD_MS = 30000,
	LAN_IFS_MIN_GAP_MS = 1000,	/* re-read after a send failure at most this often */
	LAN_PERIOD_MS = 10000,
	LAN_JITTER_MS = 2000,		/* +-20% of the period */
	LAN_ANNOUNCE_GAP_MS = 1000,
	LAN_ANSWER_GAP_MS = 1000,
	LAN_CTX_LEN = 16,
	LAN_OFF_PK = 4, LAN_OFF_TS = 36, LAN_OFF_PORT = 44, LAN_OFF_FLAGS = 46,
	LAN_OFF_NICKLEN = 47, LAN_OFF_NICK = 48,
};
_Static_assert(LAN_BEACON_MIN == LAN_OFF_NICK + 64, "beacon layout");

static const char lan_ctx[LAN_CTX_LEN + 1] = "tincan-beacon-v1";

/* One interface address: IPv4 (first 4 bytes of addr and mask) or IPv6. */
struct lan_addr {
	int family, mcast, has_bcast;
	unsigned idx;
	uint8_t addr[16], mask[16];
	struct in_addr bcast;
};

struct lan_seen {
	uint8_t pk[32];
	uint64_t ts;
};

struct lan_answered {
	int family;
	uint8_t addr[16];
	uint32_t scope;
	uint64_t at_ms;		/* mono_ms; 0 = free */
};

struct lan {
	struct loop *l;
	const struct identity *me;
	char nick[LAN_NICK_MAX + 1];
	uint16_t disc_port, session_port;
	lan_cb cb;
	void *arg;
	int rx4, rx6, tx4, tx6;
	struct in_addr group4;
	struct in6_addr group6;
	struct lan_addr addrs[LAN_MAX_ADDRS];
	size_t naddrs;
	uint64_t ifs_read_ms;
	int ifs_stale;
	struct timer beacon_t, announce_t, ifs_t;
	int startup;			/* beacons of the start sequence sent */
	int sent_any, pending_reply;
	uint64_t last_send_ms, last_ts;
	struct lan_seen seen[LAN_REPLAY_KEYS];
	size_t nseen;
	struct lan_answered answered[LAN_ANSWER_SLOTS];
	int busy, dead;			/* inside a callback / freed from one */
};

/* Strict UTF-8 without control characters (see lan_nick_ok). */
static int nick_valid(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		uint32_t cp, min;
		size_t need;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (c < 0xc2 || c > 0xf4)
			return 0;		/* continuation byte, overlong lead, beyond U+10FFFF */
		need = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
		cp = c & (0x3fu >> need);
		min = need == 1 ? 0x80 : need == 2 ? 0x800 : 0x10000;
		if (n - i - 1 < need)
			return 0;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			return 0;		/* C1, separators, bidi controls */
		i += need + 1;
	}
	return 1;
}

int lan_nick_ok(const char *nick)
{
	if (nick == NULL)
		return 1;
	size_t n = strnlen(nick, LAN_NICK_MAX + 1);
	return n <= LAN_NICK_MAX && nick_valid((const uint8_t *)nick, n);
}

size_t lan_beacon_build(const struct identity *me, const char *nick, uint16_t port, uint8_t flags,
                        uint64_t now_ms, uint8_t *out, size_t cap)
{
	uint8_t msg[LAN_CTX_LEN + LAN_OFF_NICK + LAN_NICK_MAX];
	size_t n = nick ? strnlen(nick, LAN_NICK_MAX + 1) : 0;

	if (me == NULL || out == NULL || !lan_nick_ok(nick) || cap < LAN_BEACON_MIN + n)
		return 0;
	out[0] = NOISE_WIRE_VERSION;
	out[1] = LAN_BEACON_TYPE;
	out[2] = out[3] = 0;
	memcpy(out + LAN_OFF_PK, me->pk, 32);
	put_u64(out + LAN_OFF_TS, now_ms);
	put_u16(out + LAN_OFF_PORT, port);
	out[LAN_OFF_FLAGS] = flags;
	out[LAN_OFF_NICKLEN] = (uint8_t)n;
	if (n)
		memcpy(out + LAN_OFF_NICK, nick, n);
	memcpy(msg, lan_ctx, LAN_CTX_LEN);
	memcpy(msg + LAN_CTX_LEN, out, LAN_OFF_NICK + n);
	if (identity_sign(me, msg, LAN_CTX_LEN + LAN_OFF_NICK + n, out + LAN_OFF_NICK + n) != 0)
		return 0;
	return LAN_BEACON_MIN + n;
}

/* Every field but the signature; 0 ok, -1 malformed. */
static int beacon_fields(const uint8_t *pkt, size_t len, struct lan_beacon *b)
{
	if (pkt == NULL || len < LAN_BEACON_MIN || len > LAN_BEACON_MAX)
		return -1;
	if (pkt[0] != NOISE_WIRE_VERSION || pkt[1] != LAN_BEACON_TYPE || pkt[2] || pkt[3])
		return -1;
	size_t n = pkt[LAN_OFF_NICKLEN];
	if (n > LAN_NICK_MAX || len != LAN_BEACON_MIN + n || !nick_valid(pkt + LAN_OFF_NICK, n))
		return -1;
	memcpy(b->pk, pkt + LAN_OFF_PK, 32);
	b->ts_ms = get_u64(pkt + LAN_OFF_TS);
	b->port = get_u16(pkt + LAN_OFF_PORT);
	b->flags = pkt[LAN_OFF_FLAGS];
	memcpy(b->nick, pkt + LAN_OFF_NICK, n);
	b->nick[n] = '\0';
	return 0;
}

/* The signature of a packet beacon_fields accepted. */
static int beacon_verify(const uint8_t *pkt, size_t len)
{
	uint8_t msg[LAN_CTX_LEN + LAN_OFF_NICK + LAN_NICK_MAX];
	size_t body = len - 64;

	memcpy(msg, lan_ctx, LAN_CTX_LEN);
	memcpy(msg + LAN_CTX_LEN, pkt, body);
	return identity_verify(pkt + LAN_OFF_PK, msg, LAN_CTX_LEN + body, pkt + body);
}

int lan_beacon_parse(const uint8_t *pkt, size_t len, struct lan_beacon *b)
{
	return b == NULL || beacon_fields(pkt, len, b) != 0 || beacon_verify(pkt, len) != 0 ? -1 : 0;
}

/* The address bytes of sa read as an AF_INET (4 bytes) or AF_INET6 (16) sockaddr. */
static const uint8_t *sa_bytes(const struct sockaddr *sa, int family)
{
	if (family == AF_INET)
		return (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	return ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
}

static const char *addr_str(const struct sockaddr *sa, char *buf, size_t cap)
{
	const struct sockaddr_in *s4 = (const void *)sa;
	const struct sockaddr_in6 *s6 = (const void *)sa;
	char host[INET6_ADDRSTRLEN] = "?";

	inet_ntop(sa->sa_family, sa_bytes(sa, sa->sa_family), host, sizeof(host));
	if (sa->sa_family == AF_INET)
		snprintf(buf, cap, "%s:%u", host, ntohs(s4->sin_port));
	else
		snprintf(buf, cap, "[%s%%%u]:%u", host, (unsigned)s6->sin6_scope_id, ntohs(s6->sin6_port));
	return buf;
}

static unsigned if_index(const char *name)
{
	char base[IF_NAMESIZE];
	unsigned idx = if_nametoindex(name);

	if (idx == 0) {			/* an IPv4 alias label such as "eth0:1" */
		str_copy(base, name, sizeof(base));
		base[strcspn(base, ":")] = '\0';
		idx = if_nametoindex(base);
	}
	return idx;
}

/* Join both groups on every multicast interface; EADDRINUSE means joined already. */
static void join_groups(struct lan *lan)
{
	for (size_t i = 0; i < lan->naddrs; i++) {
		const struct lan_addr *a = &lan->addrs[i];
		struct ip_mreqn m4 = { .imr_multiaddr = lan->group4, .imr_ifindex = (int)a->idx };
		struct ipv6_mreq m6 = { .ipv6mr_multiaddr = lan->group6, .ipv6mr_interface = a->idx };
		int r = 0;
		if (!a->mcast)
			continue;
		if (a->family == AF_INET && lan->rx4 >= 0)
			r = setsockopt(lan->rx4, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m4, sizeof(m4));
		else if (a->family == AF_INET6 && lan->rx6 >= 0)
			r = setsockopt(lan->rx6, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m6, sizeof(m6));
		if (r != 0 && errno != EADDRINUSE)
			log_debug("lan: join group on if %u: %s", a->idx, strerror(errno));
	}
}

/* Re-read the interfaces (addresses come and go) and join the groups on new ones. */
static void read_ifs(struct lan *lan)
{
	struct ifaddrs *ifa0;

	lan->ifs_read_ms = mono_ms();
	lan->ifs_stale = 0;
	if (getifaddrs(&ifa0) != 0) {
		log_debug("lan: getifaddrs: %s", strerror(errno));
		return;
	}
	lan->naddrs = 0;
	for (struct ifaddrs *ifa = ifa0; ifa && lan->naddrs < LAN_MAX_ADDRS; ifa = ifa->ifa_next) {
		struct lan_addr *a = &lan->addrs[lan->naddrs];
		if (!ifa->ifa_addr || !ifa->ifa_netmask || !(ifa->ifa_flags & IFF_UP) ||
		    (a->idx = if_index(ifa->ifa_name)) == 0)
			continue;
		a->family = ifa->ifa_addr->sa_family;
		a->mcast = (ifa->ifa_flags & IFF_MULTICAST) != 0;
		a->has_bcast = 0;
		if (a->family != AF_INET && a->family != AF_INET6)
			continue;
		memcpy(a->addr, sa_bytes(ifa->ifa_addr, a->family), a->family == AF_INET ? 4 : 16);
		memcpy(a->mask, sa_bytes(ifa->ifa_netmask, a->family), a->family == AF_INET ? 4 : 16);
		if (a->family == AF_INET && (ifa->ifa_flags & IFF_BROADCAST) && ifa->ifa_broadaddr &&
		    ifa->ifa_broadaddr->sa_family == AF_INET) {
			a->bcast = ((struct sockaddr_in *)(void *)ifa->ifa_broadaddr)->sin_addr;
			a->has_bcast = a->bcast.s_addr != htonl(INADDR_ANY);
		}
		lan->naddrs++;
	}
	freeifaddrs(ifa0);
	join_groups(lan);
	log_debug("lan: %zu interface addresses", lan->naddrs);
}

static void send_to(struct lan *lan, int fd, const uint8_t *pkt, size_t len,
                    const struct sockaddr *to, socklen_t tolen)
{
	char where[INET6_ADDRSTRLEN + 24];

	if (sendto(fd, pkt, len, 0, to, tolen) == (ssize_t)len)
		return;
	log_debug("lan: send to %s: %s", addr_str(to, where, sizeof(where)), strerror(errno));
	lan->ifs_stale = 1;
}

/* Wall-clock timestamps, strictly increasing so that every beacon we send is fresh. */
static uint64_t next_ts(struct lan *lan)
{
	uint64_t t = wall_ms();
	if (t <= lan->last_ts)
		t = lan->last_ts + 1;
	lan->last_ts = t;
	return t;
}

/* 1 if addrs[i] is the first multicast address of its family on its interface. */
static int first_mcast(const struct lan *lan, size_t i)
{
	const struct lan_addr *a = &lan->addrs[i];

	for (size_t j = 0; j < i; j++)
		if (lan->addrs[j].family == a->family && lan->addrs[j].idx == a->idx)
			return 0;
	return a->mcast;
}

static void send_all(struct lan *lan, const uint8_t *pkt, size_t len)
{
	struct sockaddr_in to4 = { .sin_family = AF_INET, .sin_port = htons(lan->disc_port) };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_port = htons(lan->disc_port),
	                            .sin6_addr = lan->group6 };

	for (size_t i = 0; i < lan->naddrs; i++) {
		const struct lan_addr *a = &lan->addrs[i];
		/* imr_address is the source: a host-scoped address (lo's) is never chosen by
		 * itself, and an answer to 0.0.0.0 would go nowhere useful. */
		struct ip_mreqn mr = { .imr_ifindex = (int)a->idx };
		int dup = 0;
		memcpy(&mr.imr_address, a->addr, 4);
		if (a->family == AF_INET && lan->tx4 >= 0 && first_mcast(lan, i)) {
			to4.sin_addr = lan->group4;
			if (setsockopt(lan->tx4, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)) == 0)
				send_to(lan, lan->tx4, pkt, len, (struct sockaddr *)&to4, sizeof(to4));
			else
				lan->ifs_stale = 1;
		} else if (a->family == AF_INET6 && lan->tx6 >= 0 && first_mcast(lan, i)) {
			to6.sin6_scope_id = a->idx;
			if (setsockopt(lan->tx6, IPPROTO_IPV6, IPV6_MULTICAST_IF, &a->idx, sizeof(a->idx)) == 0)
				send_to(lan, lan->tx6, pkt, len, (struct sockaddr *)&to6, sizeof(to6));
			else
				lan->ifs_stale = 1;
		}
		for (size_t j = 0; j < i; j++)
			dup |= lan->addrs[j].has_bcast && lan->addrs[j].bcast.s_addr == a->bcast.s_addr;
		if (a->has_bcast && !dup && lan->tx4 >= 0) {
			to4.sin_addr = a->bcast;
			send_to(lan, lan->tx4, pkt, len, (struct sockaddr *)&to4, sizeof(to4));
		}
	}
}

/* One beacon to every group and broadcast address; carries a pending "please answer". */
static void send_beacon(struct lan *lan)
{
	uint8_t pkt[LAN_BEACON_MAX];
	uint64_t now = mono_ms();

	if (lan->ifs_stale && now - lan->ifs_read_ms >= LAN_IFS_MIN_GAP_MS)
		read_ifs(lan);
	uint8_t flags = lan->pending_reply ? LAN_FLAG_ANSWER : 0;
	size_t len = lan_beacon_build(lan->me, lan->nick, lan->session_port, flags, next_ts(lan),
	                              pkt, sizeof(pkt));
	lan->sent_any = 1;
	lan->last_send_ms = now;
	lan->pending_reply = 0;
	if (len == 0) {
		log_warn("lan: cannot build a beacon");
		return;
	}
	send_all(lan, pkt, len);
}

static void on_beacon_timer(struct loop *l, void *arg)
{
	static const uint64_t start_gap[] = { 500, 1000 };	/* beacons at 0, 0.5 and 1.5 s */
	struct lan *lan = arg;

	send_beacon(lan);
	if (lan->startup < (int)ARRAY_LEN(start_gap)) {
		timer_in(l, &lan->beacon_t, start_gap[lan->startup++]);
		return;
	}
	timer_in(l, &lan->beacon_t, LAN_PERIOD_MS - LAN_JITTER_MS +
	         randombytes_uniform(2 * LAN_JITTER_MS + 1));
}

static void on_announce_timer(struct loop *l, void *arg)
{
	send_beacon(arg);
}

static void on_ifs_timer(struct loop *l, void *arg)
{
	struct lan *lan = arg;

	read_ifs(lan);
	timer_in(l, &lan->ifs_t, LAN_IFS_REREAD_MS);
}

/* Worth answering: a source on one of our links, never one from afar (no reflection). */
static int source_on_link(const struct lan *lan, const struct sockaddr *from)
{
	const uint8_t *ip = sa_bytes(from, from->sa_family);
	size_t n = from->sa_family == AF_INET ? 4 : 16;
	static const uint8_t v6lo[16] = { [15] = 1 };

	if (n == 4 && (ip[0] == 127 || (ip[0] == 169 && ip[1] == 254)))
		return 1;		/* loopback, link-local */
	if (n == 16 && (memcmp(ip, v6lo, 16) == 0 || (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80)))
		return 1;		/* ::1, fe80::/10 */
	for (size_t i = 0; i < lan->naddrs; i++) {
		const struct lan_addr *a = &lan->addrs[i];
		int match = a->family == from->sa_family;
		for (size_t k = 0; match && k < n; k++)
			match = (ip[k] & a->mask[k]) == (a->addr[k] & a->mask[k]);
		if (match)
			return 1;
	}
	return 0;
}

/* At most one answer a second per source address, and no more than LAN_ANSWER_SLOTS a second
 * in all. 1 = go ahead (recorded). */
static int answer_allowed(struct lan *lan, const struct sockaddr *from, uint64_t now)
{
	struct lan_answered key = { .family = from->sa_family, .at_ms = now }, *slot = NULL;
	memcpy(key.addr, sa_bytes(from, from->sa_family), from->sa_family == AF_INET ? 4 : 16);
	if (from->sa_family == AF_INET6)
		key.scope = ((const struct sockaddr_in6 *)(const void *)from)->sin6_scope_id;
	for (size_t i = 0; i < LAN_ANSWER_SLOTS; i++) {
		struct lan_answered *a = &lan->answered[i];
		if (a->at_ms && now - a->at_ms < LAN_ANSWER_GAP_MS) {
			if (a->family == key.family && a->scope == key.scope &&
			    memcmp(a->addr, key.addr, 16) == 0)
				return 0;
		} else if (slot == NULL) {
			slot = a;		/* free, or last used more than a second ago */
		}
	}
	if (slot)
		*slot = key;
	return slot != NULL;
}

static void answer(struct lan *lan, const struct sockaddr *from, socklen_t fromlen)
{
	uint8_t pkt[LAN_BEACON_MAX];
	struct sockaddr_storage to;
	char where[INET6_ADDRSTRLEN + 24];
	int fd = from->sa_family == AF_INET ? lan->tx4 : lan->tx6;
	const char *why = NULL;

	if (fd < 0 || fromlen > sizeof(to))
		return;
	if (!source_on_link(lan, from))
		why = "off-link";
	else if (!answer_allowed(lan, from, mono_ms()))
		why = "rate-limited";
	if (why) {
		log_debug("lan: no answer to %s (%s)", addr_str(from, where, sizeof(where)), why);
		return;
	}
	/* An answer never asks for one itself. */
	size_t len = lan_beacon_build(lan->me, lan->nick, lan->session_port, 0, next_ts(lan),
	                              pkt, sizeof(pkt));
	if (len == 0)
		return;
	send_to(lan, fd, pkt, len, from, fromlen);
	/* The source port is the asker's own socket; disc_port reaches a client behind a firewall
	 * that lets only disc_port in. The receiver drops whichever copy comes second (same ts). */
	memcpy(&to, from, fromlen);
	in_port_t *port = to.ss_family == AF_INET ? &((struct sockaddr_in *)&to)->sin_port :
	                  &((struct sockaddr_in6 *)&to)->sin6_port;
	if (ntohs(*port) != lan->disc_port) {
		*port = htons(lan->disc_port);
		send_to(lan, fd, pkt, len, (struct sockaddr *)&to, fromlen);
	}
}

/* The replay table entry of pk, or NULL and in *victim the slot a new key would take (a free
 * one, else the one whose last beacon is oldest). */
static struct lan_seen *seen_find(struct lan *lan, const uint8_t pk[32], struct lan_seen **victim)
{
	*victim = &lan->seen[lan->nseen % LAN_REPLAY_KEYS];
	for (size_t i = 0; i < lan->nseen; i++) {
		if (memcmp(lan->seen[i].pk, pk, 32) == 0)
			return &lan->seen[i];
		if (lan->nseen == LAN_REPLAY_KEYS && lan->seen[i].ts < (*victim)->ts)
			*victim = &lan->seen[i];
	}
	return NULL;
}

static void handle(struct lan *lan, const uint8_t *pkt, size_t len, const struct sockaddr *from,
                   socklen_t fromlen)
{
	struct lan_beacon b;
	struct lan_seen *e = NULL, *victim;
	char where[INET6_ADDRSTRLEN + 24];
	const char *why = NULL;
	uint64_t now = wall_ms();

	if (beacon_fields(pkt, len, &b) != 0)
		why = "malformed";
	else if (memcmp(b.pk, lan->me->pk, 32) == 0)
		return;			/* our own, looped back */
	else if (b.ts_ms > now + LAN_MAX_SKEW_MS || b.ts_ms + LAN_MAX_SKEW_MS < now)
		why = "clock skewed (> 5 min)";
	else if ((e = seen_find(lan, b.pk, &victim)) != NULL && b.ts_ms <= e->ts)
		why = "stale or replayed";
	else if (beacon_verify(pkt, len) != 0)
		why = "badly signed";
	if (why) {
		log_debug("lan: %s beacon (%zu bytes) from %s", why, len,
		          addr_str(from, where, sizeof(where)));
		return;
	}
	if (e == NULL) {
		e = victim;
		memcpy(e->pk, b.pk, 32);
		lan->nseen += lan->nseen < LAN_REPLAY_KEYS;
	}
	e->ts = b.ts_ms;
	if (b.flags & LAN_FLAG_ANSWER)
		answer(lan, from, fromlen);
	lan->cb(lan->arg, &b, from, fromlen);
}

static void on_read(struct loop *l, int fd, short revents, void *arg)
{
	struct lan *lan = arg;
	uint8_t buf[LAN_BEACON_MAX + 1];

	lan->busy++;
	for (int i = 0; i < LAN_READS_PER_WAKE && !lan->dead; i++) {
		/* Linux fills in the scope id of a link-local source itself. One byte more than a
		 * beacon can hold reads as too long (a truncated datagram). */
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_debug("lan: recvfrom: %s", strerror(errno));
			break;
		}
		if ((from.ss_family == AF_INET || from.ss_family == AF_INET6) && fromlen <= sizeof(from))
			handle(lan, buf, (size_t)n, (struct sockaddr *)&from, fromlen);
	}
	if (--lan->busy == 0 && lan->dead)
		free(lan);
}

static int open_socket(int family, uint16_t port, int rx, char *why, size_t whylen)
{
	int one = 1, fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t sl;

	if (fd < 0)
		goto fail;
	/* Multicast TTL and hop limit stay at their default, 1: beacons never leave the link. */
	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		sl = sizeof(struct sockaddr_in);
		if (!rx && (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one)) != 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) != 0))
			goto fail;
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		sl = sizeof(struct sockaddr_in6);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0 ||
		    (!rx && setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &one, sizeof(one)) != 0))
			goto fail;
	}
	if (rx && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0))
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0)
		goto fail;
	return fd;
fail:
	snprintf(why, whylen, "%s %s socket: %s", family == AF_INET ? "IPv4" : "IPv6",
	         rx ? "discovery" : "beacon", strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void close_fd(struct lan *lan, int *fd)
{
	if (*fd >= 0) {
		loop_del(lan->l, *fd);
		close(*fd);
		*fd = -1;
	}
}

/* Both sockets of a family, or neither. */
static void open_family(struct lan *lan, int family, int *rx, int *tx, char *why, size_t whylen)
{
	*rx = open_socket(family, lan->disc_port, 1, why, whylen);
	*tx = *rx >= 0 ? open_socket(family, 0, 0, why, whylen) : -1;
	if (*tx >= 0 && loop_add(lan->l, *rx, POLLIN, on_read, lan) == 0 &&
	    loop_add(lan->l, *tx, POLLIN, on_read, lan) == 0)
		return;
	close_fd(lan, rx);
	close_fd(lan, tx);
	log_debug("lan: %s", why);
}

struct lan *lan_new(struct loop *l, const struct identity *me, const char *nick, uint16_t disc_port,
                    uint16_t session_port, lan_cb cb, void *arg, char *err, size_t errlen)
{
	char why4[160] = "", why6[160] = "";
	struct lan *lan;

	if (l == NULL || me == NULL || cb == NULL || disc_port == 0 || !lan_nick_ok(nick)) {
		snprintf(err, errlen, "lan: discovery port 0, or nick not printable UTF-8 of at most "
		         "%d bytes", LAN_NICK_MAX);
		return NULL;
	}
	if (sodium_init() < 0 || (lan = calloc(1, sizeof(*lan))) == NULL) {
		snprintf(err, errlen, "lan: out of memory");
		return NULL;
	}
	lan->l = l;
	lan->me = me;
	str_copy(lan->nick, nick ? nick : "", sizeof(lan->nick));
	lan->disc_port = disc_port;
	lan->session_port = session_port;
	lan->cb = cb;
	lan->arg = arg;
	inet_pton(AF_INET, LAN_GROUP4, &lan->group4);
	inet_pton(AF_INET6, LAN_GROUP6, &lan->group6);
	timer_init(&lan->beacon_t, on_beacon_timer, lan);
	timer_init(&lan->announce_t, on_announce_timer, lan);
	timer_init(&lan->ifs_t, on_ifs_timer, lan);
	open_family(lan, AF_INET, &lan->rx4, &lan->tx4, why4, sizeof(why4));
	open_family(lan, AF_INET6, &lan->rx6, &lan->tx6, why6, sizeof(why6));
	if (lan->rx4 < 0 && lan->rx6 < 0) {
		snprintf(err, errlen, "lan: %s; %s", why4, why6);
		free(lan);
		return NULL;
	}
	read_ifs(lan);
	timer_in(l, &lan->beacon_t, 0);
	timer_in(l, &lan->ifs_t, LAN_IFS_REREAD_MS);
	return lan;
}

int lan_set_nick(struct lan *lan, const char *nick)
{
	if (!lan_nick_ok(nick)) {
		log_warn("lan: nick refused: longer than %d bytes or not printable UTF-8", LAN_NICK_MAX);
		return -1;
	}
	str_copy(lan->nick, nick ? nick : "", sizeof(lan->nick));
	lan_announce(lan, 0);
	return 0;
}

void lan_announce(struct lan *lan, int want_reply)
{
	if (want_reply)
		lan->pending_reply = 1;
	if (!lan->sent_any)
		return;			/* the first beacon is due this pass and takes the flag */
	uint64_t now = mono_ms();
	if (now - lan->last_send_ms >= LAN_ANNOUNCE_GAP_MS) {
		timer_stop(lan->l, &lan->announce_t);
		send_beacon(lan);
	} else if (!timer_armed(&lan->announce_t)) {
		timer_at(lan->l, &lan->announce_t, lan->last_send_ms + LAN_ANNOUNCE_GAP_MS);
	}
}

int lan_probe(struct lan *lan, const struct sockaddr *to, socklen_t tolen)
{
	uint8_t pkt[LAN_BEACON_MAX];

	if (to == NULL || (to->sa_family != AF_INET && to->sa_family != AF_INET6) ||
	    tolen < (to->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)))
		return -1;
	int fd = to->sa_family == AF_INET ? lan->tx4 : lan->tx6;
	size_t len = lan_beacon_build(lan->me, lan->nick, lan->session_port, LAN_FLAG_ANSWER,
	                              next_ts(lan), pkt, sizeof(pkt));
	if (fd < 0 || len == 0)
		return -1;
	return sendto(fd, pkt, len, 0, to, tolen) == (ssize_t)len ? 0 : -1;
}

void lan_free(struct lan *lan)
{
	if (lan == NULL || lan->dead)
		return;
	close_fd(lan, &lan->rx4);
	close_fd(lan, &lan->rx6);
	close_fd(lan, &lan->tx4);
	close_fd(lan, &lan->tx6);
	timer_stop(lan->l, &lan->beacon_t);
	timer_stop(lan->l, &lan->announce_t);
	timer_stop(lan->l, &lan->ifs_t);
	if (lan->busy)
		lan->dead = 1;		/* freed when the callback returns to on_read */
	else
		free(lan);
}
