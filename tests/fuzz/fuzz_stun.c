/* fuzz_stun.c: libFuzzer target for the STUN request answerer and response parser. */
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "stun.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Answer from src; a non-empty answer must itself be a response that parses back to src. */
static void check_answer(const uint8_t *data, size_t size, const struct sockaddr *src,
    socklen_t srclen, int family)
{
	uint8_t out[STUN_ANSWER_MAX];
	struct sockaddr_storage ss;
	int n = stun_answer(data, size, src, srclen, out, sizeof(out));

	if (n < 0)
		abort(); /* STUN_ANSWER_MAX is always room enough */
	if (n == 0)
		return;
	if (!stun_is_stun(data, size) || n != (family == AF_INET ? 32 : 44))
		abort();
	if (!stun_is_stun(out, (size_t)n))
		abort();
	if (get_u32(data + 4) != STUN_COOKIE)
		return; /* classic answers are not for our client */
	if (stun_parse_response(out, (size_t)n, data + 8, &ss) != 0 || ss.ss_family != family)
		abort();
	if (family == AF_INET) {
		struct sockaddr_in a, b;

		memcpy(&a, &ss, sizeof(a));
		memcpy(&b, src, sizeof(b));
		if (a.sin_port != b.sin_port || a.sin_addr.s_addr != b.sin_addr.s_addr)
			abort();
	} else {
		struct sockaddr_in6 a, b;

		memcpy(&a, &ss, sizeof(a));
		memcpy(&b, src, sizeof(b));
		if (a.sin6_port != b.sin6_port || memcmp(&a.sin6_addr, &b.sin6_addr, 16) != 0)
			abort();
	}
	/* Too little room is -1, never a partial write. */
	if (stun_answer(data, size, src, srclen, out, (size_t)n - 1) != -1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_storage ss;
	uint8_t txid[12] = { 0 };
	uint8_t *copy;

	/* Exact-size copy so any read past the end trips AddressSanitizer. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(54321);
	sin.sin_addr.s_addr = htonl(0xc0000201);
	check_answer(copy, size, (struct sockaddr *)&sin, sizeof(sin), AF_INET);

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(7);
	memcpy(sin6.sin6_addr.s6_addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x09", 16);
	check_answer(copy, size, (struct sockaddr *)&sin6, sizeof(sin6), AF_INET6);

	/* Parse as a response to the transaction it names, so the matching path is reached. */
	if (size >= 20)
		memcpy(txid, copy + 8, 12);
	if (stun_parse_response(copy, size, txid, &ss) == 0 &&
	    ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
		abort();
	free(copy);
	return 0;
}
