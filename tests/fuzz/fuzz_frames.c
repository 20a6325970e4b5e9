/* fuzz_frames.c: decrypted transport plaintext from a peer: the frame walker, the reliability
 * layer's DATA/ACK/PING/TS handling, the HELLO decoder, and the peer's FR_STREAM applied as the
 * engine does (log_peer_stream). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hello.h"
#include "rel.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t delivered;

static void deliver(void *arg, uint64_t seq, uint64_t ts, const char *text, size_t len)
{
	(void)arg;
	(void)ts;
	(void)text;
	if (seq != delivered + 1 || len > REL_MAX_TEXT)
		abort();	/* in order, bounded: the invariants the engine relies on */
	delivered = seq;
}

static void frame(void *arg, int type, const uint8_t *body, size_t len)
{
	struct hello h;
	struct rel *r = arg;
	uint64_t base;
	if (type == FR_STREAM && len >= 16 &&
	    rel_rx_stream(r, get_u64(body), get_u64(body + 8), &base) != REL_STREAM_SAME) {
		rel_rx_restart(r, get_u64(body), base);
		if (r->rx_stored != base || r->rx_durable > base)
			abort();
		delivered = base;	/* the numbering goes on from base */
	}
	if (type == FR_STREAM || type == FR_HELLO)
		rel_rx_hold(r, 0);
	if (type == FR_HELLO && hello_parse(body, len, &h) == 0) {
		uint8_t again[HELLO_MAX];
		if (strlen(h.nick) > HELLO_NICK_MAX || strlen(h.text) > HELLO_TEXT_MAX ||
		    hello_build(&h, again, sizeof(again)) == 0)
			abort();
	}
}

static void sink(void *arg, const uint8_t *pkt, size_t len)
{
	(void)arg;
	(void)pkt;
	if (len > REL_MAX_PKT)
		abort();
}

static const struct rel_ops ops = { .deliver = deliver, .frame = frame };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rel r;
	if (rel_init(&r, &ops, &r) < 0)
		return 0;
	delivered = 0;
	if (size && (data[0] & 1))
		rel_rx_hold(&r, 1);	/* a new session: held until FR_STREAM or HELLO */
	rel_tx_start(&r, 0);
	for (uint64_t s = 1; s <= 20; s++)
		rel_queue(&r, s, s, "queued text", 11);
	rel_poll(&r, 1000, 8, sink, NULL);
	/* The input is a series of packets split at 0xFF 0xFE 0xFD markers. */
	size_t start = 0;
	uint64_t now = 2000;
	for (size_t i = 0; i + 3 <= size; i++) {
		if (data[i] == 0xff && data[i + 1] == 0xfe && data[i + 2] == 0xfd) {
			rel_input(&r, data + start, i - start, now);
			rel_poll(&r, now += 50000, 8, sink, NULL);
			start = i + 3;
		}
	}
	rel_input(&r, data + start, size - start, now);
	rel_poll(&r, now + 400000, 8, sink, NULL);
	rel_free(&r);
	return 0;
}
