/* stun.c: STUN Binding answers, requests and response parsing, every field bounds-checked. */
#include <string.h>

#include <netinet/in.h>
#include <sodium.h>

#include "stun.h"
#include "util.h"

enum {
	STUN_BINDING_REQUEST = 0x0001,
	STUN_BINDING_SUCCESS = 0x0101,
	STUN_FINGERPRINT_XOR = 0x5354554e,
	STUN_FAMILY_V4 = 0x01,
	STUN_FAMILY_V6 = 0x02,
	STUN_CHANGE_FLAGS = 0x06, /* change-IP (4) and change-port (2) bits of CHANGE-REQUEST */
};

/* Attribute types we recognise (RFC 3489, 5389/8489, 8445 ICE, 5780). */
enum {
	STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	STUN_ATTR_RESPONSE_ADDRESS = 0x0002,
	STUN_ATTR_CHANGE_REQUEST = 0x0003,
	STUN_ATTR_SOURCE_ADDRESS = 0x0004,
	STUN_ATTR_CHANGED_ADDRESS = 0x0005,
	STUN_ATTR_USERNAME = 0x0006,
	STUN_ATTR_PASSWORD = 0x0007,
	STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	STUN_ATTR_ERROR_CODE = 0x0009,
	STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000a,
	STUN_ATTR_REFLECTED_FROM = 0x000b,
	STUN_ATTR_REALM = 0x0014,
	STUN_ATTR_NONCE = 0x0015,
	STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001c,
	STUN_ATTR_PASSWORD_ALGORITHM = 0x001d,
	STUN_ATTR_USERHASH = 0x001e,
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_ATTR_PRIORITY = 0x0024,
	STUN_ATTR_USE_CANDIDATE = 0x0025,
	STUN_ATTR_FINGERPRINT = 0x8028,
	STUN_ATTR_OPTIONAL = 0x8000, /* types at or above this may be skipped when unknown */
};

struct stun_attr {
	uint16_t type;
	uint16_t len;
	const uint8_t *val;
	size_t off; /* offset of the attribute header in the message */
};

/* Attribute cursor: returns 1 with *a filled, 0 at the end, -1 if the TLV overruns the
 * message. The caller has checked with stun_is_stun() that len is 20 + the header's length. */
static int stun_next(const uint8_t *msg, size_t len, size_t *off, struct stun_attr *a)
{
	size_t padded;

	if (*off == len)
		return 0;
	if (*off > len || len - *off < 4)
		return -1;
	a->type = get_u16(msg + *off);
	a->len = get_u16(msg + *off + 2);
	padded = ((size_t)a->len + 3) & ~(size_t)3;
	if (padded > len - *off - 4)
		return -1;
	a->val = msg + *off + 4;
	a->off = *off;
	*off += 4 + padded;
	return 1;
}

static int stun_attr_known(uint16_t type)
{
	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS:
	case STUN_ATTR_RESPONSE_ADDRESS:
	case STUN_ATTR_CHANGE_REQUEST:
	case STUN_ATTR_SOURCE_ADDRESS:
	case STUN_ATTR_CHANGED_ADDRESS:
	case STUN_ATTR_USERNAME:
	case STUN_ATTR_PASSWORD:
	case STUN_ATTR_MESSAGE_INTEGRITY:
	case STUN_ATTR_ERROR_CODE:
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
	case STUN_ATTR_REFLECTED_FROM:
	case STUN_ATTR_REALM:
	case STUN_ATTR_NONCE:
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
	case STUN_ATTR_PASSWORD_ALGORITHM:
	case STUN_ATTR_USERHASH:
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
	case STUN_ATTR_PRIORITY:
	case STUN_ATTR_USE_CANDIDATE:
		return 1;
	default:
		return type >= STUN_ATTR_OPTIONAL;
	}
}

/* CRC-32 (ISO-HDLC, the one zlib uses), bit by bit: STUN messages are short. */
static uint32_t stun_crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	while (n--) {
		crc ^= *p++;
		for (int i = 0; i < 8; i++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* FINGERPRINT covers the message up to its own attribute, with the header's length field
 * already counting it; it must be the last attribute, which the callers enforce. */
static int stun_fingerprint_ok(const uint8_t *msg, const struct stun_attr *a)
{
	if (a->len != 4)
		return 0;
	return (stun_crc32(msg, a->off) ^ STUN_FINGERPRINT_XOR) == get_u32(a->val);
}

/*
 * Walk all attributes. Rejects (-1) a TLV that overruns, anything after FINGERPRINT, a
 * FINGERPRINT that does not match (only checked in the RFC 5389 form, which defined it) and an
 * unknown comprehension-required attribute. Attributes after MESSAGE-INTEGRITY other than
 * FINGERPRINT are skipped unseen. Calls back for each attribute otherwise; a callback
 * returning -1 aborts the walk.
 */
static int stun_walk(const uint8_t *msg, size_t len, int modern,
    int (*cb)(const struct stun_attr *, void *), void *arg)
{
	struct stun_attr a;
	size_t off = STUN_HEADER_LEN;
	int seen_fingerprint = 0, seen_integrity = 0, r;

	while ((r = stun_next(msg, len, &off, &a)) == 1) {
		if (seen_fingerprint)
			return -1;
		if (a.type == STUN_ATTR_MESSAGE_INTEGRITY ||
		    a.type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
			seen_integrity = 1;
		else if (seen_integrity && a.type != STUN_ATTR_FINGERPRINT)
			continue; /* RFC 8489 14.5: ignored after MESSAGE-INTEGRITY */
		if (!stun_attr_known(a.type))
			return -1;
		if (modern && a.type == STUN_ATTR_FINGERPRINT) {
			if (!stun_fingerprint_ok(msg, &a))
				return -1;
			seen_fingerprint = 1;
		}
		if (cb && cb(&a, arg) < 0)
			return -1;
	}
	return r;
}

int stun_is_stun(const uint8_t *pkt, size_t len)
{
	size_t body;

	if (!pkt || len < STUN_HEADER_LEN)
		return 0;
	if (pkt[0] & 0xc0)
		return 0;
	body = get_u16(pkt + 2);
	if (body % 4 != 0)
		return 0;
	return len == STUN_HEADER_LEN + body;
}

/* Request attributes we refuse to act on: we answer only to the source address, from the
 * address the request came to (RESPONSE-ADDRESS would make us a reflector). */
static int stun_request_attr(const struct stun_attr *a, void *arg)
{
	(void)arg;
	switch (a->type) {
	case STUN_ATTR_RESPONSE_ADDRESS:
		return -1;
	case STUN_ATTR_CHANGE_REQUEST:
		if (a->len != 4 || (get_u32(a->val) & STUN_CHANGE_FLAGS))
			return -1;
		return 0;
	default:
		return 0;
	}
}

/* Source address as family (4 or 6, 0 if unsupported), 16 address bytes, port. */
static int stun_src(const struct sockaddr *src, socklen_t srclen, uint8_t addr[16],
    uint16_t *port)
{
	sa_family_t family;

	if (!src || srclen < (socklen_t)sizeof(family))
		return 0;
	memcpy(&family, (const uint8_t *)src + offsetof(struct sockaddr, sa_family),
	    sizeof(family));
	if (family == AF_INET && srclen >= (socklen_t)sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin;

		memcpy(&sin, src, sizeof(sin));
		memcpy(addr, &sin.sin_addr, 4);
		*port = ntohs(sin.sin_port);
		return 4;
	}
	if (family == AF_INET6 && srclen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, src, sizeof(sin6));
		*port = ntohs(sin6.sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
			memcpy(addr, sin6.sin6_addr.s6_addr + 12, 4);
			return 4;
		}
		memcpy(addr, sin6.sin6_addr.s6_addr, 16);
		return 6;
	}
	return 0;
}

/*
 * Answer sizes, against the 20-byte minimal request (DESIGN: at most twice a minimal request):
 * IPv4: 20 header + 4 attribute header + 8 value = 32 bytes (1.6x);
 * IPv6: 20 header + 4 attribute header + 20 value = 44 bytes (2.2x; the RFC fixes the form).
 */
int stun_answer(const uint8_t *req, size_t len, const struct sockaddr *src, socklen_t srclen,
    uint8_t *out, size_t cap)
{
	uint8_t addr[16];
	uint16_t port = 0;
	size_t alen, need;
	int family, modern;

	if (!stun_is_stun(req, len))
		return 0;
	if (get_u16(req) != STUN_BINDING_REQUEST)
		return 0;
	modern = get_u32(req + 4) == STUN_COOKIE;
	if (stun_walk(req, len, modern, stun_request_attr, NULL) != 0)
		return 0;
	family = stun_src(src, srclen, addr, &port);
	if (family == 0)
		return 0;
	alen = family == 4 ? 4 : 16;
	need = STUN_HEADER_LEN + 4 + 4 + alen;
	if (!out || cap < need)
		return -1;

	put_u16(out, STUN_BINDING_SUCCESS);
	put_u16(out + 2, (uint16_t)(need - STUN_HEADER_LEN));
	memcpy(out + 4, req + 4, 16); /* cookie + 12-byte id, or the classic 16-byte id */
	put_u16(out + 20, modern ? STUN_ATTR_XOR_MAPPED_ADDRESS : STUN_ATTR_MAPPED_ADDRESS);
	put_u16(out + 22, (uint16_t)(4 + alen));
	out[24] = 0;
	out[25] = family == 4 ? STUN_FAMILY_V4 : STUN_FAMILY_V6;
	if (modern) {
		/* X-Port: port ^ top of cookie; X-Address: address ^ (cookie || transaction id),
		 * which is exactly bytes 4.. of the header. */
		put_u16(out + 26, port ^ (STUN_COOKIE >> 16));
		for (size_t i = 0; i < alen; i++)
			out[28 + i] = addr[i] ^ req[4 + i];
	} else {
		put_u16(out + 26, port);
		memcpy(out + 28, addr, alen);
	}
	return (int)need;
}

void stun_request(uint8_t txid[12], uint8_t out[20])
{
	randombytes_buf(txid, 12);
	put_u16(out, STUN_BINDING_REQUEST);
	put_u16(out + 2, 0);
	put_u32(out + 4, STUN_COOKIE);
	memcpy(out + 8, txid, 12);
}

struct stun_resp {
	const uint8_t *hdr; /* the message, for the XOR key at bytes 4..19 */
	struct sockaddr_storage xor_addr, plain_addr;
	int have_xor, have_plain;
};

/* Decode a (XOR-)MAPPED-ADDRESS value into *ss; -1 if the family or length is wrong. */
static int stun_decode_addr(const struct stun_attr *a, const uint8_t *xor_key,
    struct sockaddr_storage *ss)
{
	uint16_t port;

	if (a->len < 4)
		return -1;
	port = get_u16(a->val + 2);
	if (xor_key)
		port ^= (uint16_t)(STUN_COOKIE >> 16);
	memset(ss, 0, sizeof(*ss));
	if (a->val[1] == STUN_FAMILY_V4 && a->len == 8) {
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		uint8_t *ip = (uint8_t *)&sin.sin_addr;
		for (size_t i = 0; i < 4; i++)
			ip[i] = a->val[4 + i] ^ (xor_key ? xor_key[i] : 0);
		memcpy(ss, &sin, sizeof(sin));
		return 0;
	}
	if (a->val[1] == STUN_FAMILY_V6 && a->len == 20) {
		struct sockaddr_in6 sin6;

		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		for (size_t i = 0; i < 16; i++)
			sin6.sin6_addr.s6_addr[i] = a->val[4 + i] ^ (xor_key ? xor_key[i] : 0);
		memcpy(ss, &sin6, sizeof(sin6));
		return 0;
	}
	return -1;
}

static int stun_response_attr(const struct stun_attr *a, void *arg)
{
	struct stun_resp *r = arg;

	switch (a->type) {
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
		if (r->have_xor)
			return 0; /* the first one counts */
		if (stun_decode_addr(a, r->hdr + 4, &r->xor_addr) < 0)
			return -1;
		r->have_xor = 1;
		return 0;
	case STUN_ATTR_MAPPED_ADDRESS:
		if (r->have_plain)
			return 0;
		if (stun_decode_addr(a, NULL, &r->plain_addr) < 0)
			return -1;
		r->have_plain = 1;
		return 0;
	default:
		return 0;
	}
}

int stun_parse_response(const uint8_t *pkt, size_t len, const uint8_t txid[12],
    struct sockaddr_storage *mapped)
{
	struct stun_resp r;

	if (!stun_is_stun(pkt, len) || !txid || !mapped)
		return -1;
	if (get_u16(pkt) != STUN_BINDING_SUCCESS || get_u32(pkt + 4) != STUN_COOKIE)
		return -1;
	if (memcmp(pkt + 8, txid, 12) != 0)
		return -1;
	memset(&r, 0, sizeof(r));
	r.hdr = pkt;
	if (stun_walk(pkt, len, 1, stun_response_attr, &r) != 0)
		return -1;
	if (r.have_xor)
		memcpy(mapped, &r.xor_addr, sizeof(*mapped));
	else if (r.have_plain)
		memcpy(mapped, &r.plain_addr, sizeof(*mapped));
	else
		return -1;
	return 0;
}
