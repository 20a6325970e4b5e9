/* test_stun.c: STUN known answers (RFC 5769), round trips, rejects, and real STUN clients. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "stun.h"
#include "util.h"

/* RFC 5769 section 2.1: Binding request with SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
 * MESSAGE-INTEGRITY and FINGERPRINT. */
static const uint8_t rfc_req[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
	0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
	0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20,
	0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56,
	0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
	0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 section 2.2: IPv4 response, XOR-MAPPED-ADDRESS 192.0.2.1:32853. */
static const uint8_t rfc_resp4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 section 2.3: IPv6 response, XOR-MAPPED-ADDRESS
 * [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t rfc_resp6[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
	0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
	0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const uint8_t rfc_txid[12] = {
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
};

static const char rfc_addr6[] = "2001:db8:1234:5678:11:2233:4455:6677";

static struct sockaddr_in make_sin(const char *ip, uint16_t port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1)
		abort();
	return sin;
}

static struct sockaddr_in6 make_sin6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	if (inet_pton(AF_INET6, ip, &sin6.sin6_addr) != 1)
		abort();
	return sin6;
}

/* Does ss hold exactly this address and port? */
static int addr_is(const struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in sin, want = make_sin(ip, port);

		memcpy(&sin, ss, sizeof(sin));
		return sin.sin_port == want.sin_port &&
		    sin.sin_addr.s_addr == want.sin_addr.s_addr;
	}
	if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 sin6, want = make_sin6(ip, port);

		memcpy(&sin6, ss, sizeof(sin6));
		return sin6.sin6_port == want.sin6_port &&
		    memcmp(&sin6.sin6_addr, &want.sin6_addr, 16) == 0;
	}
	return 0;
}

static void test_rfc5769(void)
{
	struct sockaddr_storage ss;
	uint8_t buf[128], out[STUN_ANSWER_MAX];
	uint8_t other[12];

	CHECK(stun_is_stun(rfc_req, sizeof(rfc_req)));
	CHECK(stun_is_stun(rfc_resp4, sizeof(rfc_resp4)));
	CHECK(stun_is_stun(rfc_resp6, sizeof(rfc_resp6)));

	memset(&ss, 0, sizeof(ss));
	CHECK(stun_parse_response(rfc_resp4, sizeof(rfc_resp4), rfc_txid, &ss) == 0);
	CHECK(ss.ss_family == AF_INET && addr_is(&ss, "192.0.2.1", 32853));
	memset(&ss, 0, sizeof(ss));
	CHECK(stun_parse_response(rfc_resp6, sizeof(rfc_resp6), rfc_txid, &ss) == 0);
	CHECK(ss.ss_family == AF_INET6 && addr_is(&ss, rfc_addr6, 32853));

	/* Another transaction's answer is not ours. */
	memcpy(other, rfc_txid, 12);
	other[11] ^= 1;
	CHECK(stun_parse_response(rfc_resp4, sizeof(rfc_resp4), other, &ss) == -1);
	/* A request is not a response. */
	CHECK(stun_parse_response(rfc_req, sizeof(rfc_req), rfc_txid, &ss) == -1);

	/* FINGERPRINT is checked: flip one SOFTWARE byte (covered by it, not by anything we use). */
	memcpy(buf, rfc_resp4, sizeof(rfc_resp4));
	buf[24] ^= 0x20;
	CHECK(stun_parse_response(buf, sizeof(rfc_resp4), rfc_txid, &ss) == -1);
	memcpy(buf, rfc_req, sizeof(rfc_req));
	buf[24] ^= 0x20;
	CHECK(stun_answer(buf, sizeof(rfc_req), NULL, 0, out, sizeof(out)) == 0);

	/* Our encoder gives the RFC's XOR-MAPPED-ADDRESS bytes for the RFC's request. */
	struct sockaddr_in sin = make_sin("192.0.2.1", 32853);
	int n = stun_answer(rfc_req, sizeof(rfc_req), (struct sockaddr *)&sin, sizeof(sin),
	    out, sizeof(out));
	CHECK(n == 32);
	if (n == 32) {
		CHECK(get_u16(out) == 0x0101 && get_u16(out + 2) == 12);
		CHECK(memcmp(out + 4, rfc_req + 4, 16) == 0);
		CHECK(memcmp(out + 20, rfc_resp4 + 36, 12) == 0);
	}
	struct sockaddr_in6 sin6 = make_sin6(rfc_addr6, 32853);
	n = stun_answer(rfc_req, sizeof(rfc_req), (struct sockaddr *)&sin6, sizeof(sin6), out,
	    sizeof(out));
	CHECK(n == 44);
	if (n == 44)
		CHECK(memcmp(out + 20, rfc_resp6 + 36, 24) == 0);
}

/* Answer from src, then parse that answer as the client would. */
static void round_trip(const struct sockaddr *src, socklen_t srclen, const char *ip,
    uint16_t port, int want_len)
{
	uint8_t txid[12], req[20], out[64];
	struct sockaddr_storage ss;
	int n;

	stun_request(txid, req);
	CHECK(stun_is_stun(req, sizeof(req)));
	CHECK(get_u16(req) == 0x0001 && get_u32(req + 4) == STUN_COOKIE);
	CHECK(memcmp(req + 8, txid, 12) == 0);
	n = stun_answer(req, sizeof(req), src, srclen, out, sizeof(out));
	CHECK(n == want_len);
	/* DESIGN: within twice a minimal request for IPv4; IPv6 is 44 bytes (fixed by the RFC). */
	CHECK(n <= (want_len == 32 ? 2 * 20 : 44));
	CHECK(stun_is_stun(out, (size_t)n));
	memset(&ss, 0, sizeof(ss));
	CHECK(stun_parse_response(out, (size_t)n, txid, &ss) == 0);
	CHECK(addr_is(&ss, ip, port));
	/* One byte short of room: -1, and nothing smaller works either. */
	CHECK(stun_answer(req, sizeof(req), src, srclen, out, (size_t)n - 1) == -1);
	CHECK(stun_answer(req, sizeof(req), src, srclen, out, (size_t)n) == n);
}

static void test_round_trip(void)
{
	struct sockaddr_in sin = make_sin("203.0.113.7", 40000);
	struct sockaddr_in6 sin6 = make_sin6("2001:db8::1", 1);
	struct sockaddr_in6 mapped = make_sin6("::ffff:198.51.100.9", 65535);
	uint8_t txid[12], txid2[12], req[20];

	round_trip((struct sockaddr *)&sin, sizeof(sin), "203.0.113.7", 40000, 32);
	round_trip((struct sockaddr *)&sin6, sizeof(sin6), "2001:db8::1", 1, 44);
	round_trip((struct sockaddr *)&mapped, sizeof(mapped), "198.51.100.9", 65535, 32);

	/* Fresh transaction ids. */
	stun_request(txid, req);
	stun_request(txid2, req);
	CHECK(memcmp(txid, txid2, 12) != 0);
}

static void test_classic(void)
{
	uint8_t req[20], out[64];
	struct sockaddr_in sin = make_sin("192.0.2.44", 3478);
	struct sockaddr_in6 sin6 = make_sin6("2001:db8::44", 3479);
	int n;

	put_u16(req, 0x0001);
	put_u16(req + 2, 0);
	randombytes_buf(req + 4, 16);
	req[4] = 0x5a; /* certainly not the cookie */
	n = stun_answer(req, sizeof(req), (struct sockaddr *)&sin, sizeof(sin), out, sizeof(out));
	CHECK(n == 32);
	CHECK(get_u16(out) == 0x0101 && get_u16(out + 2) == 12);
	CHECK(memcmp(out + 4, req + 4, 16) == 0);
	CHECK(get_u16(out + 20) == 0x0001 && get_u16(out + 22) == 8);
	CHECK(out[24] == 0 && out[25] == 1 && get_u16(out + 26) == 3478);
	CHECK(memcmp(out + 28, &sin.sin_addr, 4) == 0);

	n = stun_answer(req, sizeof(req), (struct sockaddr *)&sin6, sizeof(sin6), out,
	    sizeof(out));
	CHECK(n == 44);
	CHECK(get_u16(out + 20) == 0x0001 && get_u16(out + 22) == 20 && out[25] == 2);
	CHECK(get_u16(out + 26) == 3479 && memcmp(out + 28, &sin6.sin6_addr, 16) == 0);
}

/* A cookie-form Binding request with one extra attribute. */
static size_t req_with_attr(uint8_t *buf, uint16_t type, const uint8_t *val, uint16_t vlen)
{
	size_t padded = ((size_t)vlen + 3) & ~(size_t)3;

	put_u16(buf, 0x0001);
	put_u16(buf + 2, (uint16_t)(4 + padded));
	put_u32(buf + 4, STUN_COOKIE);
	memset(buf + 8, 0x33, 12);
	put_u16(buf + 20, type);
	put_u16(buf + 22, vlen);
	memset(buf + 24, 0, padded);
	if (vlen)
		memcpy(buf + 24, val, vlen);
	return 24 + padded;
}

static void test_ignored(void)
{
	struct sockaddr_in sin = make_sin("192.0.2.1", 1000);
	const struct sockaddr *src = (struct sockaddr *)&sin;
	uint8_t buf[128], out[64], val[8] = { 0 };
	uint8_t f1[24] = { 0xf1, 0x00, 0x00, 0x04 };
	size_t n;

#define ANSWER(b, l) stun_answer((b), (l), src, sizeof(sin), out, sizeof(out))
	/* Our own protocol never looks like STUN. */
	CHECK(!stun_is_stun(f1, sizeof(f1)));
	CHECK(!stun_is_stun(NULL, 0));

	/* Baseline: a bare request is answered. */
	n = req_with_attr(buf, 0x8022, (const uint8_t *)"x", 1);
	CHECK(ANSWER(buf, n) == 32);
	/* Length not a multiple of 4, or not matching the datagram. */
	put_u16(buf + 2, 6);
	CHECK(!stun_is_stun(buf, 26) && ANSWER(buf, 26) == 0);
	put_u16(buf + 2, 8);
	CHECK(!stun_is_stun(buf, n + 4) && ANSWER(buf, n + 4) == 0);

	/* Not a Binding request: success/error responses, indication, another method. */
	static const uint16_t types[] = { 0x0101, 0x0111, 0x0011, 0x0003, 0x0002, 0x0201 };
	for (size_t i = 0; i < ARRAY_LEN(types); i++) {
		n = req_with_attr(buf, 0x8022, (const uint8_t *)"x", 1);
		put_u16(buf, types[i]);
		CHECK(ANSWER(buf, n) == 0);
	}

	/* Unknown comprehension-required: ignored; unknown optional: answered. */
	n = req_with_attr(buf, 0x7777, val, 4);
	CHECK(ANSWER(buf, n) == 0);
	n = req_with_attr(buf, 0x8777, val, 4);
	CHECK(ANSWER(buf, n) == 32);
	/* RESPONSE-ADDRESS would make us a reflector. */
	n = req_with_attr(buf, 0x0002, (const uint8_t *)"\0\1\0\1\1\2\3\4", 8);
	CHECK(ANSWER(buf, n) == 0);
	/* CHANGE-REQUEST: no flags is fine, a change we cannot make is not. */
	n = req_with_attr(buf, 0x0003, val, 4);
	CHECK(ANSWER(buf, n) == 32);
	val[3] = 0x04;
	n = req_with_attr(buf, 0x0003, val, 4);
	CHECK(ANSWER(buf, n) == 0);
	val[3] = 0x02;
	n = req_with_attr(buf, 0x0003, val, 4);
	CHECK(ANSWER(buf, n) == 0);
	n = req_with_attr(buf, 0x0003, val, 2);
	CHECK(ANSWER(buf, n) == 0);
	/* An attribute whose length runs past the message. */
	n = req_with_attr(buf, 0x8022, val, 4);
	put_u16(buf + 22, 5);
	CHECK(ANSWER(buf, n) == 0);
	put_u16(buf + 22, 0xffff);
	CHECK(ANSWER(buf, n) == 0);

	/* Anything after FINGERPRINT. */
	memcpy(buf, rfc_req, sizeof(rfc_req));
	put_u16(buf + 2, (uint16_t)(get_u16(buf + 2) + 8));
	memcpy(buf + sizeof(rfc_req), "\x80\x22\x00\x04zzzz", 8);
	CHECK(ANSWER(buf, sizeof(rfc_req) + 8) == 0);

	/* Unknown attributes after MESSAGE-INTEGRITY are ignored (RFC 8489 14.5): put one in
	 * place of the RFC request's FINGERPRINT. */
	memcpy(buf, rfc_req, sizeof(rfc_req));
	put_u16(buf + sizeof(rfc_req) - 8, 0x7777);
	CHECK(ANSWER(buf, sizeof(rfc_req)) == 32);

	/* Sources we cannot describe. */
	n = req_with_attr(buf, 0x8022, val, 4);
	struct sockaddr unix_sa = { .sa_family = AF_UNIX };
	CHECK(stun_answer(buf, n, &unix_sa, sizeof(unix_sa), out, sizeof(out)) == 0);
	CHECK(stun_answer(buf, n, src, sizeof(sin) - 1, out, sizeof(out)) == 0);
	CHECK(stun_answer(buf, n, NULL, 0, out, sizeof(out)) == 0);
#undef ANSWER

	/* Responses: a bad address family or length, an unknown comprehension-required
	 * attribute, no address at all. */
	uint8_t resp[64];
	struct sockaddr_storage ss;
	memcpy(resp, rfc_resp4, 20);
	put_u16(resp + 2, 12);
	memcpy(resp + 20, rfc_resp4 + 36, 12);
	CHECK(stun_parse_response(resp, 32, rfc_txid, &ss) == 0);
	resp[25] = 3;
	CHECK(stun_parse_response(resp, 32, rfc_txid, &ss) == -1);
	resp[25] = 2;
	CHECK(stun_parse_response(resp, 32, rfc_txid, &ss) == -1);
	resp[25] = 1;
	put_u16(resp + 20, 0x7777);
	CHECK(stun_parse_response(resp, 32, rfc_txid, &ss) == -1);
	put_u16(resp + 20, 0x8022);
	CHECK(stun_parse_response(resp, 32, rfc_txid, &ss) == -1);
	/* MAPPED-ADDRESS alone is accepted, XOR-MAPPED-ADDRESS preferred over it. */
	memcpy(resp + 32, resp + 20, 12);
	put_u16(resp + 2, 24);
	put_u16(resp + 20, 0x0001);
	put_u16(resp + 32, 0x0020);
	CHECK(stun_parse_response(resp, 44, rfc_txid, &ss) == 0);
	CHECK(addr_is(&ss, "192.0.2.1", 32853));
	put_u16(resp + 32, 0x8023);
	CHECK(stun_parse_response(resp, 44, rfc_txid, &ss) == 0);
	CHECK(addr_is(&ss, "225.18.166.67", 0xa147));
}

/* Offsets where an attribute ends, for deciding which cut-and-relabelled messages are valid. */
static int at_boundary(const uint8_t *msg, size_t len, size_t cut)
{
	size_t off = 20;

	while (off < len && off < cut)
		off += 4 + ((get_u16(msg + off + 2) + 3u) & ~3u);
	return off == cut;
}

/* Every prefix of a valid message is rejected; each is copied into a buffer of exactly its
 * size, so that a read past the end shows up under AddressSanitizer. */
static void truncations(const uint8_t *msg, size_t len, const uint8_t txid[12],
    int is_request)
{
	struct sockaddr_in sin = make_sin("192.0.2.1", 1000);
	struct sockaddr_storage ss;
	uint8_t out[64];

	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *buf = malloc(cut ? cut : 1);

		if (!buf)
			abort();
		memcpy(buf, msg, cut);
		CHECK(!stun_is_stun(buf, cut));
		CHECK(stun_answer(buf, cut, (struct sockaddr *)&sin, sizeof(sin), out,
		    sizeof(out)) == 0);
		CHECK(stun_parse_response(buf, cut, txid, &ss) == -1);
		/* Also with the length field relabelled to fit: only whole attributes may pass. */
		if (cut >= 20 && cut % 4 == 0) {
			put_u16(buf + 2, (uint16_t)(cut - 20));
			int a = stun_answer(buf, cut, (struct sockaddr *)&sin, sizeof(sin), out,
			    sizeof(out));
			int p = stun_parse_response(buf, cut, txid, &ss);
			if (!at_boundary(msg, len, cut)) {
				CHECK(a == 0);
				CHECK(p == -1);
			} else if (!is_request && cut <= 36) {
				CHECK(p == -1); /* cut before XOR-MAPPED-ADDRESS */
			}
		}
		free(buf);
	}
}

static void test_truncations(void)
{
	uint8_t txid[12], req[20], out[64];
	struct sockaddr_in6 sin6 = make_sin6("2001:db8::5", 5);
	int n;

	truncations(rfc_req, sizeof(rfc_req), rfc_txid, 1);
	truncations(rfc_resp4, sizeof(rfc_resp4), rfc_txid, 0);
	truncations(rfc_resp6, sizeof(rfc_resp6), rfc_txid, 0);
	stun_request(txid, req);
	truncations(req, sizeof(req), txid, 1);
	n = stun_answer(req, sizeof(req), (struct sockaddr *)&sin6, sizeof(sin6), out,
	    sizeof(out));
	CHECK(n == 44);
	if (n == 44)
		truncations(out, (size_t)n, txid, 0);
}

/* Answer STUN on fd for up to max_ms (runs in a child process); writes "port\n" for each
 * source answered to log_fd, when that is >= 0. */
static void serve(int fd, int max_ms, int log_fd)
{
	uint64_t end = mono_ms() + (uint64_t)max_ms;

	while (mono_ms() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		uint8_t in[1500], out[STUN_ANSWER_MAX];
		ssize_t got;
		int n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		got = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fromlen);
		if (got < 0)
			continue;
		n = stun_answer(in, (size_t)got, (struct sockaddr *)&from, fromlen, out,
		    sizeof(out));
		if (getenv("STUN_TEST_TRACE"))
			fprintf(stderr, "serve: %zd bytes type %04x -> %d\n", got,
			    got >= 2 ? get_u16(in) : 0, n);
		if (n <= 0)
			continue;
		/* Log before answering: the parent may kill us as soon as the client has its answer. */
		if (log_fd >= 0 && from.ss_family == AF_INET) {
			struct sockaddr_in sin;
			char line[16];
			int l;

			memcpy(&sin, &from, sizeof(sin));
			l = snprintf(line, sizeof(line), "%u\n", ntohs(sin.sin_port));
			(void)!write(log_fd, line, (size_t)l);
		}
		(void)sendto(fd, out, (size_t)n, 0, (struct sockaddr *)&from, fromlen);
	}
}

/* Is `prog` on PATH? */
static int have_program(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/*
 * Run a real STUN client (the command `before` <server port> `after`) against stun_answer()
 * on 127.0.0.1,
 * then check that it printed `marker` followed by 127.0.0.1:<port>, where <port> is the
 * source port our server saw and answered.
 */
static void real_client(const char *prog, const char *before, const char *after,
    const char *marker)
{
	struct sockaddr_in sin = make_sin("127.0.0.1", 0);
	socklen_t slen = sizeof(sin);
	char cmd[512], output[8192], seen[4096], want[64];
	size_t olen = 0, slen_seen = 0;
	int fd, pipefd[2], status;
	pid_t pid;
	FILE *fp;

	if (!have_program(prog)) {
		fprintf(stderr, "stun: %s not installed, real-client check skipped\n", prog);
		return;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(fd >= 0);
	CHECK(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sin, &slen) == 0);
	CHECK(pipe(pipefd) == 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		serve(fd, 15000, pipefd[1]);
		_exit(0);
	}
	close(pipefd[1]);
	close(fd);

	snprintf(cmd, sizeof(cmd), "timeout 10 %s%u%s 2>&1", before, ntohs(sin.sin_port), after);
	fp = popen(cmd, "r");
	CHECK(fp != NULL);
	if (fp) {
		olen = fread(output, 1, sizeof(output) - 1, fp);
		pclose(fp);
	}
	output[olen] = '\0';

	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	for (ssize_t r; slen_seen < sizeof(seen) - 1 &&
	    (r = read(pipefd[0], seen + slen_seen, sizeof(seen) - 1 - slen_seen)) > 0;)
		slen_seen += (size_t)r;
	seen[slen_seen] = '\0';
	close(pipefd[0]);

	/* The first source we answered is the one the client reports. */
	unsigned port = (unsigned)strtoul(seen, NULL, 10);
	snprintf(want, sizeof(want), "%s127.0.0.1:%u", marker, port);
	CHECK(port != 0);
	if (port == 0 || !strstr(output, want)) {
		fprintf(stderr, "stun: %s: wanted \"%s\" in its output:\n%s\n", prog, want,
		    output);
		failures++;
	}
}

static void test_real_clients(void)
{
	/* Debian's stun-client (Vovida stund 0.97): classic RFC 3489 requests, no cookie,
	 * with a CHANGE-REQUEST carrying no flags. Test 1 is a single plain Binding. */
	real_client("stun", "stun 127.0.0.1:", " 1 -v", "mappedAddr=");
	/* stuntman's stunclient, where installed (RFC 5389 form). */
	if (have_program("stunclient"))
		real_client("stunclient", "stunclient --mode basic 127.0.0.1 ", "",
		    "Mapped address: ");
	/* coturn's client: RFC 5389 form, XOR-MAPPED-ADDRESS. */
	real_client("turnutils_stunclient", "turnutils_stunclient -p ", " 127.0.0.1",
	    "reflexive addr: ");
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc == 3 && strcmp(argv[1], "serve") == 0) {
		struct sockaddr_in sin = make_sin("127.0.0.1", (uint16_t)atoi(argv[2]));
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			return 1;
		serve(fd, 600000, -1);
		return 0;
	}
	test_rfc5769();
	test_round_trip();
	test_classic();
	test_ignored();
	test_truncations();
	test_real_clients();
	return check_end("test_stun");
}
