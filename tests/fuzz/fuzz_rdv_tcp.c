/* fuzz_rdv_tcp.c: libFuzzer target for the rendezvous client's TCP frame reader. */
#include <stdlib.h>
#include <string.h>

#include "rdv_tcp.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Frames of the whole input at once, until the end or a bad length: their count and bytes. */
static int parse_all(const uint8_t *data, size_t size, size_t *nframes, size_t *used)
{
	size_t off = 0, flen;
	const uint8_t *f;
	int rc;
	*nframes = 0;
	while ((rc = rdv_tcp_frame_next(data, size, &off, &f, &flen)) == 1) {
		if (flen == 0 || flen > RDV_TCP_FRAME_MAX || f != data + off - flen || off > size)
			abort();
		(*nframes)++;
	}
	*used = off;
	return rc;
}

/* The first byte picks a read size; the rest is the stream, fed through a reader buffer the
 * size of rdv_tcp.c's. It must find the same frames as one pass over the whole input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rbuf[2 + RDV_TCP_FRAME_MAX];
	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] * 37 + 1;
	data++;
	size--;
	size_t want_n, want_used;
	int want_rc = parse_all(data, size, &want_n, &want_used);
	size_t rlen = 0, pos = 0, n = 0, consumed = 0;
	int rc = 0;
	while (pos < size && rc >= 0) {
		size_t k = step < size - pos ? step : size - pos;
		if (k > sizeof(rbuf) - rlen)
			k = sizeof(rbuf) - rlen;
		if (k == 0)
			abort();	/* a full buffer must always hold a complete frame */
		memcpy(rbuf + rlen, data + pos, k);
		pos += k;
		rlen += k;
		size_t off = 0, flen;
		const uint8_t *f;
		while ((rc = rdv_tcp_frame_next(rbuf, rlen, &off, &f, &flen)) == 1) {
			if (memcmp(f, data + consumed + 2, flen) != 0)
				abort();
			consumed += 2 + flen;
			n++;
		}
		memmove(rbuf, rbuf + off, rlen - off);
		rlen -= off;
	}
	if (n != want_n || consumed != want_used || (rc < 0) != (want_rc < 0))
		abort();
	return 0;
}
