/* test_rdv_tcp.c: the rendezvous client's TCP frame reader: whole, split and bad frames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rdv_tcp.h"
#include "util.h"

/* Append a frame of n bytes, each byte = fill. */
static size_t put_frame(uint8_t *buf, size_t at, size_t n, uint8_t fill)
{
	put_u16(buf + at, (uint16_t)n);
	memset(buf + at + 2, fill, n);
	return at + 2 + n;
}

static void test_empty_and_partial(void)
{
	uint8_t buf[16] = { 0 };
	const uint8_t *f = NULL;
	size_t off = 0, flen = 0;
	CHECK(rdv_tcp_frame_next(buf, 0, &off, &f, &flen) == 0 && off == 0);
	buf[0] = 0;
	CHECK(rdv_tcp_frame_next(buf, 1, &off, &f, &flen) == 0 && off == 0);	/* half a length */
	size_t n = put_frame(buf, 0, 5, 0xab);
	for (size_t cut = 0; cut < n; cut++) {
		off = 0;
		CHECK(rdv_tcp_frame_next(buf, cut, &off, &f, &flen) == 0 && off == 0);
	}
	off = 0;
	CHECK(rdv_tcp_frame_next(buf, n, &off, &f, &flen) == 1);
	CHECK(off == n && flen == 5 && f == buf + 2 && f[4] == 0xab);
	CHECK(rdv_tcp_frame_next(buf, n, &off, &f, &flen) == 0 && off == n);
	off = n + 1;	/* past the end: nothing, never a read */
	CHECK(rdv_tcp_frame_next(buf, n, &off, &f, &flen) == 0);
}

static void test_bad_lengths(void)
{
	uint8_t buf[4] = { 0, 0, 1, 2 };
	const uint8_t *f;
	size_t off = 0, flen;
	CHECK(rdv_tcp_frame_next(buf, 2, &off, &f, &flen) == -1);	/* length 0 */
	put_u16(buf, RDV_TCP_FRAME_MAX + 1);
	off = 0;
	CHECK(rdv_tcp_frame_next(buf, 2, &off, &f, &flen) == -1);	/* seen before the body */
	put_u16(buf, 0xffff);
	off = 0;
	CHECK(rdv_tcp_frame_next(buf, 4, &off, &f, &flen) == -1);
	put_u16(buf, RDV_TCP_FRAME_MAX);	/* the largest is fine, just incomplete */
	off = 0;
	CHECK(rdv_tcp_frame_next(buf, 4, &off, &f, &flen) == 0);
}

/* Frames of many sizes, the stream cut into every chunk size from 1 to 7 and into reads of
 * the largest frame, reassembled as rdv_tcp.c does: each comes out once, whole, in order. */
static void test_stream(void)
{
	static uint8_t stream[3 * (2 + RDV_TCP_FRAME_MAX) + 1024];
	static uint8_t rbuf[2 + RDV_TCP_FRAME_MAX];
	size_t sizes[] = { 1, 2, 148, 64, 36, 1000, RDV_TCP_FRAME_MAX, 92, RDV_TCP_FRAME_MAX - 1, 3 };
	size_t nf = sizeof(sizes) / sizeof(sizes[0]), len = 0;
	for (size_t i = 0; i < nf; i++)
		len = put_frame(stream, len, sizes[i], (uint8_t)(i + 1));
	size_t chunks[] = { 1, 2, 3, 5, 7, 4096, sizeof(rbuf) };
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		size_t rlen = 0, got = 0, pos = 0;
		int bad = 0;
		while (pos < len && !bad) {
			size_t k = chunks[c];
			if (k > len - pos)
				k = len - pos;
			if (k > sizeof(rbuf) - rlen)
				k = sizeof(rbuf) - rlen;
			CHECK(k > 0);
			memcpy(rbuf + rlen, stream + pos, k);
			pos += k;
			rlen += k;
			size_t off = 0, flen;
			const uint8_t *f;
			int rc;
			while ((rc = rdv_tcp_frame_next(rbuf, rlen, &off, &f, &flen)) == 1) {
				bad |= got >= nf || flen != sizes[got] || f[0] != got + 1 || f[flen - 1] != got + 1;
				got++;
			}
			bad |= rc < 0;
			memmove(rbuf, rbuf + off, rlen - off);
			rlen -= off;
		}
		CHECK(!bad);
		CHECK(got == nf);
		CHECK(rlen == 0);
	}
}

int main(void)
{
	test_empty_and_partial();
	test_bad_lengths();
	test_stream();
	return check_end("test_rdv_tcp");
}
