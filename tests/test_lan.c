/* test_lan.c: beacon format, nick rules, and LAN discovery on loopback (replay, answers). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "crypto.h"
#include "lan.h"
#include "log.h"
#include "loop.h"
#include "util.h"

enum { MAX_HEARD = 256, DEADLINE_MS = 5000 };

static struct identity ida, idb, idx, idy, idz;
static struct loop *loop;

/* What one lan instance heard. */
struct heard {
	int n;
	struct lan_beacon b[MAX_HEARD];
	struct sockaddr_storage from[MAX_HEARD];
	struct lan **free_me;		/* lan_free this instance from inside the callback */
};

static void make_id(int n, struct identity *id)
{
	uint8_t seed[32];

	memset(seed, n, sizeof(seed));
	if (identity_from_seed(seed, id) != 0)
		exit(2);
}

static void on_beacon(void *arg, const struct lan_beacon *b, const struct sockaddr *from,
                      socklen_t fromlen)
{
	struct heard *h = arg;

	if (h->n < MAX_HEARD) {
		h->b[h->n] = *b;
		memset(&h->from[h->n], 0, sizeof(h->from[0]));
		memcpy(&h->from[h->n], from, fromlen <= sizeof(h->from[0]) ? fromlen : 0);
		h->n++;
	}
	if (h->free_me && *h->free_me) {
		lan_free(*h->free_me);
		*h->free_me = NULL;
	}
}

static int count_from(const struct heard *h, const struct identity *id)
{
	int n = 0;

	for (int i = 0; i < h->n; i++)
		n += memcmp(h->b[i].pk, id->pk, 32) == 0;
	return n;
}

/* The last beacon h heard from id, or NULL. */
static const struct lan_beacon *last_from(const struct heard *h, const struct identity *id, int *at)
{
	for (int i = h->n - 1; i >= 0; i--) {
		if (memcmp(h->b[i].pk, id->pk, 32) == 0) {
			if (at)
				*at = i;
			return &h->b[i];
		}
	}
	return NULL;
}

/* Run the loop until h has heard `want` beacons from id, or the deadline passes. */
static int pump_until(const struct heard *h, const struct identity *id, int want)
{
	uint64_t end = mono_ms() + DEADLINE_MS;

	while (count_from(h, id) < want && mono_ms() < end)
		if (loop_once(loop, 20) < 0)
			return 0;
	return count_from(h, id) >= want;
}

/* The beacon layout written out by hand, independently of lan.c: a known-answer check. */
static size_t craft(const struct identity *id, const char *nick, size_t n, uint64_t ts,
                    uint16_t port, uint8_t flags, uint8_t *out)
{
	uint8_t msg[16 + 48 + 64];
	static const uint8_t hdr[4] = { 0xf1, 0x05, 0x00, 0x00 };

	memcpy(out, hdr, 4);
	memcpy(out + 4, id->pk, 32);
	for (int i = 0; i < 8; i++)
		out[36 + i] = (uint8_t)(ts >> (56 - 8 * i));
	out[44] = (uint8_t)(port >> 8);
	out[45] = (uint8_t)port;
	out[46] = flags;
	out[47] = (uint8_t)n;
	memcpy(out + 48, nick, n);
	memcpy(msg, "tincan-beacon-v1", 16);
	memcpy(msg + 16, out, 48 + n);
	if (identity_sign(id, msg, 16 + 48 + n, out + 48 + n) != 0)
		exit(2);
	return 48 + n + 64;
}

static void test_format(void)
{
	uint8_t pkt[LAN_BEACON_MAX + 8], ref[LAN_BEACON_MAX + 8];
	const char *nick = "Zo\xc3\xab \xe6\x9d\xb1\xe4\xba\xac";	/* "Zoë 東京" */
	struct lan_beacon b;
	size_t len = lan_beacon_build(&idx, nick, 4242, LAN_FLAG_ANSWER, 0x0102030405060708ULL,
	                              pkt, sizeof(pkt));

	CHECK(len == LAN_BEACON_MIN + strlen(nick));
	CHECK(craft(&idx, nick, strlen(nick), 0x0102030405060708ULL, 4242, LAN_FLAG_ANSWER, ref) == len);
	CHECK(memcmp(pkt, ref, len) == 0);
	CHECK(lan_beacon_parse(pkt, len, &b) == 0);
	CHECK(memcmp(b.pk, idx.pk, 32) == 0);
	CHECK(b.ts_ms == 0x0102030405060708ULL && b.port == 4242 && b.flags == LAN_FLAG_ANSWER);
	CHECK(strcmp(b.nick, nick) == 0);

	/* Every single-bit flip, every truncation, and an extra byte are rejected. */
	int flips_ok = 0;
	for (size_t i = 0; i < len * 8; i++) {
		pkt[i / 8] ^= (uint8_t)(1u << (i % 8));
		flips_ok += lan_beacon_parse(pkt, len, &b) == 0;
		pkt[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	CHECK(flips_ok == 0);
	int cuts_ok = 0;
	for (size_t n = 0; n < len; n++)
		cuts_ok += lan_beacon_parse(pkt, n, &b) == 0;
	CHECK(cuts_ok == 0);
	pkt[len] = 0;
	CHECK(lan_beacon_parse(pkt, len + 1, &b) == -1);
	CHECK(lan_beacon_parse(NULL, 0, &b) == -1);
	CHECK(lan_beacon_parse(pkt, len, &b) == 0);

	/* Signed by another key: Z's signature under X's pk. */
	len = lan_beacon_build(&idz, "x", 1, 0, 1000, pkt, sizeof(pkt));
	memcpy(pkt + 4, idx.pk, 32);
	CHECK(lan_beacon_parse(pkt, len, &b) == -1);

	/* Empty and maximal nicks; the buffer must hold the whole beacon. */
	len = lan_beacon_build(&idx, "", 0, 0, 1, pkt, sizeof(pkt));
	CHECK(len == LAN_BEACON_MIN && lan_beacon_parse(pkt, len, &b) == 0 && b.nick[0] == '\0');
	CHECK(lan_beacon_build(&idx, NULL, 0, 0, 1, pkt, sizeof(pkt)) == LAN_BEACON_MIN);
	const char *n32 = "\xf0\x9f\x90\xb1\xf0\x9f\x90\xb1\xf0\x9f\x90\xb1\xf0\x9f\x90\xb1"
	                  "\xf0\x9f\x90\xb1\xf0\x9f\x90\xb1\xf0\x9f\x90\xb1\xf0\x9f\x90\xb1";
	len = lan_beacon_build(&idx, n32, 0, 0, 1, pkt, sizeof(pkt));
	CHECK(len == LAN_BEACON_MAX && lan_beacon_parse(pkt, len, &b) == 0 && strcmp(b.nick, n32) == 0);
	CHECK(lan_beacon_build(&idx, n32, 0, 0, 1, pkt, LAN_BEACON_MAX - 1) == 0);
	CHECK(lan_beacon_build(&idx, "abc", 0, 0, 1, pkt, LAN_BEACON_MIN + 2) == 0);
	/* A nick_len that disagrees with the length, a bad header. */
	len = craft(&idx, "abc", 3, 5, 0, 0, pkt);
	pkt[47] = 2;
	CHECK(lan_beacon_parse(pkt, len, &b) == -1);
	pkt[47] = 40;
	CHECK(lan_beacon_parse(pkt, len, &b) == -1);
	len = craft(&idx, "abc", 3, 5, 0, 0, pkt);
	pkt[3] = 1;
	CHECK(lan_beacon_parse(pkt, len, &b) == -1);
}

static void test_nicks(void)
{
	static const char *good[] = {
		"", "alice", "Zo\xc3\xab", "\xe6\x9d\xb1\xe4\xba\xac", "\xf0\x9f\x90\xb1 cat",
		"12345678901234567890123456789012", "a b~", "\xc2\xa0nbsp", "\xef\xbf\xbd",
	};
	static const char *bad[] = {
		"123456789012345678901234567890123",	/* 33 bytes */
		"a\tb", "a\nb", "\x1b[31mred", "del\x7f", "c1\xc2\x85", "\xc2\x9b\x33\x31m",
		"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
		"trunc\xe6\x9d", "\x80", "\xff", "rtl\xe2\x80\xae", "iso\xe2\x81\xa6", "ls\xe2\x80\xa8",
	};
	uint8_t pkt[LAN_BEACON_MAX + 64];
	struct lan_beacon b;

	CHECK(lan_nick_ok(NULL));
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		CHECK(lan_nick_ok(good[i]));
		size_t len = lan_beacon_build(&idx, good[i], 1, 0, 1, pkt, sizeof(pkt));
		CHECK(len != 0 && lan_beacon_parse(pkt, len, &b) == 0 && strcmp(b.nick, good[i]) == 0);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		if (lan_nick_ok(bad[i]))
			fprintf(stderr, "nick %zu accepted\n", i);
		CHECK(!lan_nick_ok(bad[i]));
		CHECK(lan_beacon_build(&idx, bad[i], 1, 0, 1, pkt, sizeof(pkt)) == 0);
		/* Correctly signed, but the nick is bad: still rejected. */
		size_t n = strlen(bad[i]);
		if (n <= 40) {
			size_t len = craft(&idx, bad[i], n, 1, 1, 0, pkt);
			CHECK(lan_beacon_parse(pkt, len, &b) == -1);
		}
	}
	/* A NUL inside the nick field. */
	size_t len = craft(&idx, "a\0b", 3, 1, 1, 0, pkt);
	CHECK(lan_beacon_parse(pkt, len, &b) == -1);
}

/* A port nobody is bound to just now (checked without SO_REUSEPORT on both families). */
static uint16_t pick_port(void)
{
	for (int tries = 0; tries < 100; tries++) {
		uint16_t port = (uint16_t)(40000 + randombytes_uniform(20000));
		struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
		struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
		int one = 1, ok = 1;
		int f4 = socket(AF_INET, SOCK_DGRAM, 0), f6 = socket(AF_INET6, SOCK_DGRAM, 0);
		if (f4 < 0 || bind(f4, (struct sockaddr *)&a4, sizeof(a4)) != 0)
			ok = 0;
		if (f6 >= 0 && (setsockopt(f6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0 ||
		    (bind(f6, (struct sockaddr *)&a6, sizeof(a6)) != 0 && errno != EADDRNOTAVAIL)))
			ok = 0;
		if (f4 >= 0)
			close(f4);
		if (f6 >= 0)
			close(f6);
		if (ok)
			return port;
	}
	fprintf(stderr, "no free port\n");
	exit(2);
}

static int udp_socket(const char *ip4)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	inet_pton(AF_INET, ip4, &a.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		fprintf(stderr, "bind %s: %s\n", ip4, strerror(errno));
		exit(2);
	}
	return fd;
}

static struct sockaddr_in to4(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	return a;
}

static void send_raw(int fd, const uint8_t *pkt, size_t len, uint16_t port)
{
	struct sockaddr_in a = to4(port);

	if (sendto(fd, pkt, len, 0, (struct sockaddr *)&a, sizeof(a)) != (ssize_t)len) {
		fprintf(stderr, "sendto: %s\n", strerror(errno));
		exit(2);
	}
}

/* Send a fresh beacon from Y and wait for it: everything sent before it has been handled. */
static uint64_t marker_ts;
static void marker(int fd, uint16_t port, const struct heard *h)
{
	uint8_t pkt[LAN_BEACON_MAX];
	int want = count_from(h, &idy) + 1;

	marker_ts = marker_ts ? marker_ts + 1 : wall_ms();
	size_t len = lan_beacon_build(&idy, "marker", 0, 0, marker_ts, pkt, sizeof(pkt));
	send_raw(fd, pkt, len, port);
	CHECK(pump_until(h, &idy, want));
}

/* Wait for a beacon on a plain socket (the answer path); 1 and *b filled if one came. */
static int recv_answer(int fd, struct lan_beacon *b, int wait)
{
	uint8_t buf[512];
	uint64_t end = mono_ms() + (wait ? DEADLINE_MS : 0);

	do {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0)
			return lan_beacon_parse(buf, (size_t)n, b) == 0;
		loop_once(loop, wait ? 20 : 0);
	} while (mono_ms() < end);
	return 0;
}

/* Replay, freshness, forgery, own beacons and bad nicks, on one instance over 127.0.0.1. */
static void test_replay(uint16_t port, const struct heard *hb)
{
	uint8_t pkt[LAN_BEACON_MAX], pkt2[LAN_BEACON_MAX];
	int fd = udp_socket("127.0.0.1");
	uint64_t t0 = wall_ms();
	const struct lan_beacon *b;
	int at = 0;

	size_t len = lan_beacon_build(&idx, "xavier", 7000, 0, t0, pkt, sizeof(pkt));
	send_raw(fd, pkt, len, port);
	CHECK(pump_until(hb, &idx, 1));
	b = last_from(hb, &idx, &at);
	CHECK(b && b->ts_ms == t0 && b->port == 7000 && strcmp(b->nick, "xavier") == 0);
	if (b) {
		const struct sockaddr_in *from = (const void *)&hb->from[at];
		struct sockaddr_in me;
		socklen_t ml = sizeof(me);
		getsockname(fd, (struct sockaddr *)&me, &ml);
		CHECK(from->sin_family == AF_INET && from->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
		CHECK(from->sin_port == me.sin_port);
	}

	send_raw(fd, pkt, len, port);				/* the same beacon again */
	len = lan_beacon_build(&idx, "xavier", 7000, 0, t0 - 1, pkt, sizeof(pkt));
	send_raw(fd, pkt, len, port);				/* older */
	marker(fd, port, hb);
	CHECK(count_from(hb, &idx) == 1);

	len = lan_beacon_build(&idx, "xavier2", 7000, 0, t0 + 1, pkt, sizeof(pkt));
	send_raw(fd, pkt, len, port);				/* newer: accepted */
	CHECK(pump_until(hb, &idx, 2));
	b = last_from(hb, &idx, NULL);
	CHECK(b && strcmp(b->nick, "xavier2") == 0);

	len = lan_beacon_build(&idx, "future", 0, 0, t0 + LAN_MAX_SKEW_MS + 60000, pkt, sizeof(pkt));
	send_raw(fd, pkt, len, port);
	len = lan_beacon_build(&idz, "past", 0, 0, t0 - LAN_MAX_SKEW_MS - 60000, pkt, sizeof(pkt));
	send_raw(fd, pkt, len, port);
	len = lan_beacon_build(&idz, "forged", 0, 0, t0 + 2, pkt, sizeof(pkt));
	memcpy(pkt + 4, idx.pk, 32);				/* X's key, Z's signature */
	send_raw(fd, pkt, len, port);
	len = lan_beacon_build(&idb, "me", 0, 0, t0 + 3, pkt, sizeof(pkt));
	send_raw(fd, pkt, len, port);				/* B's own key */
	len = craft(&idz, "\x1b]0;x\x07", 6, t0 + 4, 0, 0, pkt);
	send_raw(fd, pkt, len, port);				/* control characters */
	len = lan_beacon_build(&idz, "cut", 0, 0, t0 + 5, pkt, sizeof(pkt));
	send_raw(fd, pkt, len - 1, port);			/* truncated */
	memset(pkt2, 0xf1, sizeof(pkt2));
	send_raw(fd, pkt2, sizeof(pkt2), port);			/* junk */
	marker(fd, port, hb);
	CHECK(count_from(hb, &idx) == 2);
	CHECK(count_from(hb, &idz) == 0);
	CHECK(count_from(hb, &idb) == 0);

	/* A future beacon did not poison the table: X at t0+10 is still accepted. */
	len = lan_beacon_build(&idx, "xavier", 7000, 0, t0 + 10, pkt, sizeof(pkt));
	send_raw(fd, pkt, len, port);
	CHECK(pump_until(hb, &idx, 3));
	close(fd);
}

/* "Please answer" from plain sockets: one answer a second per source address. */
static void test_answers(uint16_t port, const struct heard *hb, uint16_t bport)
{
	uint8_t pkt[LAN_BEACON_MAX];
	int f2 = udp_socket("127.0.0.2"), f3 = udp_socket("127.0.0.3");
	struct lan_beacon b;
	uint64_t t0 = wall_ms() + 100;

	size_t len = lan_beacon_build(&idz, "zed", 0, LAN_FLAG_ANSWER, t0, pkt, sizeof(pkt));
	send_raw(f2, pkt, len, port);
	CHECK(recv_answer(f2, &b, 1));
	uint64_t first = mono_ms();
	CHECK(memcmp(b.pk, idb.pk, 32) == 0 && b.flags == 0 && b.port == bport);
	CHECK(strcmp(b.nick, "bob") == 0);

	len = lan_beacon_build(&idz, "zed", 0, LAN_FLAG_ANSWER, t0 + 1, pkt, sizeof(pkt));
	send_raw(f2, pkt, len, port);				/* same source within a second */
	marker(f2, port, hb);
	int again = recv_answer(f2, &b, 0);
	if (mono_ms() - first < 900)
		CHECK(!again);

	len = lan_beacon_build(&idz, "zed", 0, LAN_FLAG_ANSWER, t0 + 2, pkt, sizeof(pkt));
	send_raw(f3, pkt, len, port);				/* another source: answered */
	CHECK(recv_answer(f3, &b, 1));
	CHECK(memcmp(b.pk, idb.pk, 32) == 0);
	CHECK(count_from(hb, &idz) == 3);
	close(f2);
	close(f3);
}

/* Two instances on different ports: a unicast probe and its answer, IPv4 and IPv6. */
static void test_pair(struct lan *a, struct heard *ha, uint16_t pa, struct heard *hb, uint16_t pb)
{
	struct sockaddr_in b4 = to4(pb);
	struct sockaddr_in6 b6 = { .sin6_family = AF_INET6, .sin6_port = htons(pb) };
	int at = 0;

	(void)pa;
	log_set_file(-1);			/* the refusal is logged as a warning */
	CHECK(lan_set_nick(a, "al\x1b") == -1);
	log_set_file(2);
	CHECK(lan_set_nick(a, "alice") == 0);
	CHECK(lan_probe(a, (struct sockaddr *)&b4, sizeof(b4)) == 0);
	CHECK(pump_until(hb, &ida, 1));
	const struct lan_beacon *b = last_from(hb, &ida, NULL);
	CHECK(b && (b->flags & LAN_FLAG_ANSWER) && b->port == 1111 && strcmp(b->nick, "alice") == 0);
	CHECK(pump_until(ha, &idb, 1));
	b = last_from(ha, &idb, &at);
	CHECK(b && b->flags == 0 && b->port == 2222 && strcmp(b->nick, "bob") == 0);
	CHECK(ha->from[at].ss_family == AF_INET);

	inet_pton(AF_INET6, "::1", &b6.sin6_addr);
	int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	int have6 = s6 >= 0 && connect(s6, (struct sockaddr *)&b6, sizeof(b6)) == 0;
	if (s6 >= 0)
		close(s6);
	if (!have6)
		return;
	int nb = count_from(hb, &ida), na = count_from(ha, &idb);
	CHECK(lan_probe(a, (struct sockaddr *)&b6, sizeof(b6)) == 0);
	CHECK(pump_until(hb, &ida, nb + 1));
	CHECK(pump_until(ha, &idb, na + 1));
	b = last_from(ha, &idb, &at);
	CHECK(b && ha->from[at].ss_family == AF_INET6);
}

static int lo_multicast(void)
{
	struct ifaddrs *ifa0;
	int on = 0;

	if (getifaddrs(&ifa0) != 0)
		return 0;
	for (struct ifaddrs *i = ifa0; i; i = i->ifa_next)
		if ((i->ifa_flags & IFF_LOOPBACK) && (i->ifa_flags & IFF_UP) && (i->ifa_flags & IFF_MULTICAST))
			on = 1;
	freeifaddrs(ifa0);
	return on;
}

/* Two instances sharing a port hear each other's multicast start beacons; an announce with the
 * answer flag gets a unicast answer before the next periodic beacon. */
static void test_multicast(void)
{
	static struct heard h1, h2;
	char err[256];
	uint16_t port = pick_port();
	struct lan *l1 = lan_new(loop, &ida, "one", port, 1, on_beacon, &h1, err, sizeof(err));
	struct lan *l2 = lan_new(loop, &idb, "two", port, 2, on_beacon, &h2, err, sizeof(err));

	CHECK(l1 && l2);
	if (!l1 || !l2)
		goto out;
	CHECK(pump_until(&h1, &idb, 1));
	CHECK(pump_until(&h2, &ida, 1));
	/* Let the start sequence (0, 0.5, 1.5 s) finish: then only answers arrive for ~8 s. */
	uint64_t end = mono_ms() + 1700;
	while (mono_ms() < end)
		loop_once(loop, 50);
	int n2 = h2.n, n1 = count_from(&h1, &idb);
	lan_announce(l1, 1);
	CHECK(pump_until(&h2, &ida, count_from(&h2, &ida) + 1));
	CHECK(h2.n > n2 && (h2.b[h2.n - 1].flags & LAN_FLAG_ANSWER));
	CHECK(pump_until(&h1, &idb, n1 + 1));
	/* A second announce within the second is deferred, not lost. */
	n2 = count_from(&h2, &ida);
	lan_announce(l1, 0);
	CHECK(pump_until(&h2, &ida, n2 + 1));
out:
	lan_free(l1);
	lan_free(l2);
}

int main(void)
{
	struct heard *ha = calloc(1, sizeof(*ha)), *hb = calloc(1, sizeof(*hb));
	struct heard *hc = calloc(1, sizeof(*hc));
	char err[256];

	if (sodium_init() < 0 || !ha || !hb || !hc || (loop = loop_new()) == NULL)
		return 2;
	if (getenv("TEST_LAN_DEBUG"))
		log_init("test_lan", 0, 2);
	make_id(1, &ida);
	make_id(2, &idb);
	make_id(3, &idx);
	make_id(4, &idy);
	make_id(5, &idz);
	test_format();
	test_nicks();

	CHECK(lan_new(loop, &ida, "a", 0, 1, on_beacon, ha, err, sizeof(err)) == NULL);
	CHECK(lan_new(loop, &ida, "a\n", 40000, 1, on_beacon, ha, err, sizeof(err)) == NULL);
	uint16_t pa = pick_port(), pb = pick_port(), pc = pick_port();
	struct lan *a = lan_new(loop, &ida, "a", pa, 1111, on_beacon, ha, err, sizeof(err));
	struct lan *b = a ? lan_new(loop, &idb, "bob", pb, 2222, on_beacon, hb, err, sizeof(err)) : NULL;
	if (!a || !b) {
		fprintf(stderr, "lan_new: %s\n", err);
		return 1;
	}
	test_pair(a, ha, pa, hb, pb);
	test_replay(pb, hb);
	test_answers(pb, hb, 2222);

	/* An instance freed from inside its own callback. */
	struct lan *c = lan_new(loop, &idz, "c", pc, 3, on_beacon, hc, err, sizeof(err));
	CHECK(c != NULL);
	hc->free_me = &c;
	struct sockaddr_in c4 = to4(pc);
	lan_announce(a, 0);
	CHECK(lan_probe(a, (struct sockaddr *)&c4, sizeof(c4)) == 0);
	CHECK(pump_until(hc, &ida, 1));
	CHECK(c == NULL);
	for (int i = 0; i < 5; i++)
		loop_once(loop, 10);
	lan_free(a);
	lan_free(b);

	int mc = lo_multicast();
	if (mc)
		test_multicast();
	loop_free(loop);
	identity_free(&ida);
	identity_free(&idb);
	identity_free(&idx);
	identity_free(&idy);
	identity_free(&idz);
	free(ha);
	free(hb);
	free(hc);
	if (!mc)
		printf("test_lan: multicast part skipped: lo has no MULTICAST flag\n");
	return check_end("test_lan");
}
