/* fuzz_beacon.c: libFuzzer target for lan_beacon_parse, with re-signed inputs to pass the signature. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "lan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct identity fz;

/* Check what a successful parse claims: a valid nick, lengths that agree, a rebuild that matches. */
static void check(const uint8_t *pkt, size_t len, const struct lan_beacon *b)
{
	uint8_t again[LAN_BEACON_MAX];
	size_t n = strlen(b->nick);

	if (n > LAN_NICK_MAX || len != LAN_BEACON_MIN + n || !lan_nick_ok(b->nick))
		abort();
	if (memcmp(b->pk, fz.pk, 32) == 0) {
		/* Ed25519 is deterministic: our own key must rebuild the very same bytes. */
		size_t m = lan_beacon_build(&fz, b->nick, b->port, b->flags, b->ts_ms, again, sizeof(again));
		if (m != len || memcmp(again, pkt, len) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t buf[LAN_BEACON_MAX + 16];
	struct lan_beacon b;

	if (!ready) {
		uint8_t seed[32];
		memset(seed, 7, sizeof(seed));
		if (sodium_init() < 0 || identity_from_seed(seed, &fz) != 0)
			abort();
		ready = 1;
	}
	if (lan_beacon_parse(data, size, &b) == 0)
		check(data, size, &b);

	/* The same bytes with our key and a fresh signature reach everything after the signature. */
	if (size < 4 + 32 || size > sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	memcpy(buf + 4, fz.pk, 32);
	if (size >= LAN_BEACON_MIN) {
		uint8_t msg[16 + LAN_BEACON_MAX];
		memcpy(msg, "tincan-beacon-v1", 16);
		memcpy(msg + 16, buf, size - 64);
		if (identity_sign(&fz, msg, 16 + size - 64, buf + size - 64) != 0)
			abort();
	}
	if (lan_beacon_parse(buf, size, &b) == 0)
		check(buf, size, &b);
	return 0;
}
