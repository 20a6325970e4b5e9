/* fuzz_seal.c: libFuzzer target: open arbitrary sealed blobs with a fixed recipient key, parse
 * arbitrary plaintexts of both versions (what only a real sender's key could reach through the
 * AEAD), and seal-then-open arbitrary texts (the round trip must give back the same message,
 * its stream included). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct identity me, peer;
static uint8_t spk_sk[32], opk_sk[32];
static struct seal_bundle bundle;
static struct seal_msg msg;

static void setup(void)
{
	uint8_t seed[32];
	if (sodium_init() < 0)
		abort();
	memset(seed, 0x42, sizeof(seed));
	if (identity_from_seed(seed, &me) < 0)
		abort();
	memset(seed, 0x17, sizeof(seed));
	if (identity_from_seed(seed, &peer) < 0)
		abort();
	memset(spk_sk, 0x33, sizeof(spk_sk));
	memset(opk_sk, 0x44, sizeof(opk_sk));
	bundle.spk_id = 7;
	crypto_scalarmult_base(bundle.spk, spk_sk);
	if (seal_spk_sign(&me, 7, bundle.spk, bundle.sig) < 0)
		abort();
	bundle.opk_id = 42;
	crypto_scalarmult_base(bundle.opk, opk_sk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static uint8_t blob[SEAL_MAX];
	uint8_t from[32];
	uint32_t spk_id, opk_id;
	if (!ready) {
		setup();
		ready = 1;
	}
	/* arbitrary bytes as a blob */
	int rc = seal_peek(data, size, from, &spk_id, &opk_id);
	if (rc != 0 && rc != SEAL_EFORMAT)
		abort();
	rc = seal_open_with(&me, spk_sk, opk_id ? opk_sk : NULL, data, size, &msg);
	if (rc != 0 && rc != SEAL_EFORMAT && rc != SEAL_ENOKEY && rc != SEAL_EAUTH)
		abort();
	if (rc == 0 && (msg.len > SEAL_OPEN_TEXT ||
			size != SEAL_OVERHEAD - (msg.has_stream ? 0 : SEAL_STREAM_LEN) + msg.len))
		abort();
	/* the input after its first byte as the plaintext of that version */
	if (size >= 1) {
		rc = seal_payload_parse(data[0], data + 1, size - 1, &msg);
		size_t head = data[0] == SEAL_VERSION ? 32 : data[0] == SEAL_V1 ? 16 : 0;
		if (rc != 0 && rc != SEAL_EFORMAT)
			abort();
		if ((rc == 0) != (head && size - 1 >= head && size - 1 <= SEAL_PAYLOAD_HEAD + SEAL_OPEN_TEXT))
			abort();
		if (rc == 0 && (msg.len != size - 1 - head || msg.has_stream != (data[0] == SEAL_VERSION) ||
				msg.text[msg.len] != '\0' || memcmp(msg.text, data + 1 + head, msg.len) != 0))
			abort();
	}
	/* the input as a text: sealed by peer, opened by me, with and without the OPK */
	if (size >= 1) {
		struct seal_bundle b = bundle;
		if (data[0] & 1) {
			b.opk_id = 0;
			memset(b.opk, 0, 32);
		}
		/* bit 1: a version 1 blob (no stream), as a sender before stream ids */
		int v1 = data[0] & 2;
		struct seal_stream st = { .sid = size * 0x9e3779b97f4a7c15ULL, .first = size / 3 };
		size_t max = v1 ? SEAL_OPEN_TEXT : SEAL_MAX_TEXT;
		size_t tl = size - 1 > max ? max : size - 1;
		int n = seal_mail(&peer, me.pk, &b, size, 99, v1 ? NULL : &st, (const char *)data + 1, tl, blob,
				  sizeof(blob));
		if (n != (int)(SEAL_OVERHEAD - (v1 ? SEAL_STREAM_LEN : 0) + tl))
			abort();
		if (seal_open_with(&me, spk_sk, b.opk_id ? opk_sk : NULL, blob, (size_t)n, &msg) != 0)
			abort();
		if (msg.seq != size || msg.ts != 99 || msg.len != tl || memcmp(msg.text, data + 1, tl) != 0 ||
		    memcmp(msg.from, peer.pk, 32) != 0 || msg.has_stream != !v1 ||
		    (!v1 && (msg.st.sid != st.sid || msg.st.first != st.first)))
			abort();
		/* one flipped bit anywhere (chosen by the input) must be refused */
		size_t at = (size * 31) % (size_t)n;
		blob[at] ^= (uint8_t)(1u << (size % 8));
		if (seal_open_with(&me, spk_sk, b.opk_id ? opk_sk : NULL, blob, (size_t)n, &msg) == 0)
			abort();
	}
	return 0;
}
