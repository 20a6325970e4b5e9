/* stun.h: STUN Binding (RFC 8489 and classic RFC 3489) encode/decode, no I/O. */
#ifndef TINCAN_STUN_H
#define TINCAN_STUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	STUN_HEADER_LEN = 20,
	STUN_COOKIE = 0x2112A442,
	/* Largest answer stun_answer() writes: header + XOR-MAPPED-ADDRESS for IPv6. */
	STUN_ANSWER_MAX = 44,
};

/* Is this datagram a STUN message at all (first two bits 0, length multiple of 4 and matching,
 * with or without the magic cookie)? Our own protocol's packets start with 0xF1 and never match. */
int stun_is_stun(const uint8_t *pkt, size_t len);

/* Answer a Binding request from `src`: RFC 5389/8489 form (magic cookie present) -> Binding
 * success with XOR-MAPPED-ADDRESS only; RFC 3489 form (no cookie) -> MAPPED-ADDRESS only,
 * echoing the 16-byte transaction id. IPv4 and IPv6 (an IPv4-mapped IPv6 source is answered
 * as IPv4). The answer is 32 bytes for IPv4 and 44 for IPv6.
 * Returns the response length, 0 when the request must be ignored (not a Binding request, a
 * response, an indication, malformed attributes, a bad FINGERPRINT, an unknown
 * comprehension-required attribute, RESPONSE-ADDRESS or a CHANGE-REQUEST asking to change
 * address or port), -1 when cap is too small. */
int stun_answer(const uint8_t *req, size_t len, const struct sockaddr *src, socklen_t srclen,
    uint8_t *out, size_t cap);

/* Client side: 20-byte Binding request with a fresh random transaction id (randombytes_buf). */
void stun_request(uint8_t txid[12], uint8_t out[20]);

/* Parse a Binding success response matching txid; fill *mapped (XOR-MAPPED-ADDRESS preferred,
 * MAPPED-ADDRESS accepted). 0 ok, -1 otherwise. */
int stun_parse_response(const uint8_t *pkt, size_t len, const uint8_t txid[12],
    struct sockaddr_storage *mapped);

#endif
