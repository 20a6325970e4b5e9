/* fuzz_noise.c: libFuzzer target feeding arbitrary packets to every Noise consumer, fixed keys. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "noise.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* alice (seed 0x01..) has an INIT outstanding to bob (seed 0x02..), index 0x0a0b0c0d, the same
 * INIT as test_noise's known answer; ka/kb are an established session between them. */
static struct identity alice, bob;
static struct noise_hs *hs_a, *hs_b;
static struct noise_keypair *ka, *kb;
static struct noise_cookie_checker cc;
static uint8_t buf[NOISE_MAX_PACKET + 64], pt[NOISE_MAX_PACKET];

static void start_init(void)
{
	uint8_t e[32], ts[NOISE_TS_LEN] = { 0, 0, 0, 0, 0x65, 0, 0, 0, 0x12, 0x34, 0x56, 0x78 };
	uint8_t init[NOISE_INIT_LEN];

	memset(e, 3, sizeof(e));
	if (noise_init_create_det(hs_a, &alice, bob.pk, 0x0a0b0c0d, NULL, e, ts, init) != 0)
		abort();
}

static void setup(void)
{
	uint8_t seed[32], init[NOISE_INIT_LEN], resp[NOISE_RESP_LEN], peer[32], ts[NOISE_TS_LEN];
	struct noise_hs *h = noise_hs_new();

	if (sodium_init() < 0)
		abort();
	memset(seed, 1, sizeof(seed));
	if (identity_from_seed(seed, &alice) != 0)
		abort();
	memset(seed, 2, sizeof(seed));
	if (identity_from_seed(seed, &bob) != 0)
		abort();
	hs_a = noise_hs_new();
	hs_b = noise_hs_new();
	ka = noise_kp_new();
	kb = noise_kp_new();
	if (h == NULL || hs_a == NULL || hs_b == NULL || ka == NULL || kb == NULL)
		abort();
	if (noise_init_create(h, &alice, bob.pk, 1, NULL, init) != 0 ||
	    noise_init_consume(hs_b, &bob, init, sizeof(init), peer, ts) != 0 ||
	    noise_resp_create(hs_b, 2, resp, kb) != 0 || noise_resp_consume(h, resp, sizeof(resp), ka) != 0)
		abort();
	noise_hs_free(h);
	noise_cookie_checker_init(&cc, &bob);
	start_init();
}

/* Let mutated handshakes get past mac1 (anyone can compute it) to reach the decryption. */
static void fix_mac1(uint8_t *p, size_t len, const struct identity *to)
{
	crypto_generichash_state st;
	uint8_t key[32];
	size_t off = noise_pkt_type(p, len) == NOISE_INIT ? 116 : 60;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"mac1----", 8);
	crypto_generichash_update(&st, to->xpk, 32);
	crypto_generichash_final(&st, key, 32);
	crypto_generichash(p + off, 16, p, off, key, 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t peer[32], ts[NOISE_TS_LEN], cookie[16], out[NOISE_RESP_LEN], reply[NOISE_COOKIE_LEN];
	const uint8_t src[6] = { 198, 51, 100, 7, 0x12, 0x34 };
	int type, n, mode;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1 || size > NOISE_MAX_PACKET + 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	ka->created_ms = kb->created_ms = mono_ms();  /* keep the session young however long we run */

	if (mode == 'E') {
		/* round trip of arbitrary plaintext through the established session */
		n = noise_encrypt(ka, data, size, buf, sizeof(buf));
		if (size > NOISE_MAX_PLAINTEXT) {
			if (n != -1)
				abort();
			return 0;
		}
		if (n != (int)size + NOISE_DATA_OVERHEAD ||
		    noise_decrypt(kb, buf, (size_t)n, pt, sizeof(pt)) != (int)size ||
		    memcmp(pt, data, size) != 0 || noise_decrypt(kb, buf, (size_t)n, pt, sizeof(pt)) != -1)
			abort();
		return 0;
	}

	memcpy(buf, data, size);
	type = noise_pkt_type(buf, size);
	if (mode == 'M' && (type == NOISE_INIT || type == NOISE_RESP))
		fix_mac1(buf, size, type == NOISE_INIT ? &bob : &alice);
	(void)noise_pkt_receiver_idx(buf, size);

	if (noise_mac1_ok(&bob, buf, size) && type != NOISE_INIT && type != NOISE_RESP)
		abort();
	if (noise_init_consume(hs_b, &bob, buf, size, peer, ts) == 0) {
		struct noise_keypair *k = noise_kp_new();

		if (k == NULL || noise_resp_create(hs_b, 9, out, k) != 0)
			abort();
		noise_kp_free(k);
	}
	if (noise_mac2_ok(&cc, buf, size, src, sizeof(src)) && type != NOISE_INIT)
		abort();
	n = noise_cookie_reply(&cc, buf, size, src, sizeof(src), reply);
	if (n != -1 && (n != NOISE_COOKIE_LEN || type != NOISE_INIT))
		abort();

	if (noise_cookie_consume(hs_a, buf, size, cookie) == 0 && type != NOISE_COOKIE)
		abort();
	{
		struct noise_keypair *k = noise_kp_new();

		if (k == NULL)
			abort();
		if (noise_resp_consume(hs_a, buf, size, k) == 0)
			start_init();  /* consumed: start a new one */
		noise_kp_free(k);
	}
	n = noise_decrypt(kb, buf, size, pt, sizeof(pt));
	if (n != -1 && (type != NOISE_DATA || n != (int)size - NOISE_DATA_OVERHEAD))
		abort();
	n = noise_decrypt(ka, buf, size, pt, 3);  /* small buffer */
	if (n > 3)
		abort();
	return 0;
}
