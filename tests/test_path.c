/* test_path.c: relay pieces (path.h): split and put together, in any order, and what is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "path.h"
#include "util.h"

static uint8_t pieces[PATH_FRAG_MAX][RDV_RELAY_MAX];
static size_t plen[PATH_FRAG_MAX];

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

/* Every size that needs pieces, delivered in order and in reverse. */
static void test_roundtrip(void)
{
	static uint8_t pkt[PATH_PKT_MAX];
	struct path_frag *f = calloc(1, sizeof(*f));
	for (size_t len = PATH_FRAG_PIECE + 1; len <= PATH_PKT_MAX; len += 37) {
		fill(pkt, len, (unsigned)len);
		int n = path_frag_split(pkt, len, (uint16_t)len, pieces, plen);
		CHECK(n >= 2 && n <= PATH_FRAG_MAX);
		for (int rev = 0; rev < 2; rev++) {
			const uint8_t *out = NULL;
			size_t outlen = 0;
			int done = 0;
			for (int i = 0; i < n; i++) {
				int k = rev ? n - 1 - i : i;
				CHECK(plen[k] <= RDV_RELAY_MAX);
				int rc = path_frag_add(f, pieces[k], plen[k], &out, &outlen);
				CHECK(rc == (i == n - 1));
				done |= rc == 1;
			}
			CHECK(done && outlen == len && memcmp(out, pkt, len) == 0);
		}
	}
	/* the largest packet takes exactly what the constants say */
	CHECK(path_frag_split(pkt, PATH_PKT_MAX, 1, pieces, plen) == (PATH_PKT_MAX + PATH_FRAG_PIECE - 1) / PATH_FRAG_PIECE);
	/* sizes that need no pieces, or are too big, are refused */
	CHECK(path_frag_split(pkt, PATH_FRAG_PIECE, 1, pieces, plen) == 0);
	CHECK(path_frag_split(pkt, PATH_PKT_MAX + 1, 1, pieces, plen) == 0);
	free(f);
}

/* A lost piece loses the packet; the next packet (another id) is whole on its own. */
static void test_loss_and_restart(void)
{
	static uint8_t a[3000], b[2000];
	struct path_frag *f = calloc(1, sizeof(*f));
	const uint8_t *out;
	size_t outlen;
	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	int n = path_frag_split(a, sizeof(a), 7, pieces, plen);
	CHECK(n == 3);
	CHECK(path_frag_add(f, pieces[0], plen[0], &out, &outlen) == 0);
	CHECK(path_frag_add(f, pieces[2], plen[2], &out, &outlen) == 0);	/* piece 1 is lost */
	uint8_t keep[RDV_RELAY_MAX];
	size_t keeplen = plen[1];
	memcpy(keep, pieces[1], keeplen);
	n = path_frag_split(b, sizeof(b), 8, pieces, plen);
	CHECK(n == 2);
	CHECK(path_frag_add(f, pieces[1], plen[1], &out, &outlen) == 0);
	CHECK(path_frag_add(f, keep, keeplen, &out, &outlen) == 0);	/* late piece of id 7: starts over */
	CHECK(path_frag_add(f, pieces[1], plen[1], &out, &outlen) == 0);
	CHECK(path_frag_add(f, pieces[0], plen[0], &out, &outlen) == 1);
	CHECK(outlen == sizeof(b) && memcmp(out, b, sizeof(b)) == 0);
	/* a duplicate piece after completion does not complete it again */
	CHECK(path_frag_add(f, pieces[0], plen[0], &out, &outlen) == 0);
	free(f);
}

static void test_malformed(void)
{
	static uint8_t a[3000];
	struct path_frag *f = calloc(1, sizeof(*f));
	const uint8_t *out;
	size_t outlen;
	uint8_t p[RDV_RELAY_MAX];
	fill(a, sizeof(a), 3);
	path_frag_split(a, sizeof(a), 9, pieces, plen);
	memcpy(p, pieces[0], plen[0]);
	CHECK(path_frag_add(f, p, 5, &out, &outlen) == -1);		/* header only, short */
	CHECK(path_frag_add(f, p, PATH_FRAG_HDR, &out, &outlen) == -1);	/* no bytes */
	p[5] = 1;
	CHECK(path_frag_add(f, p, plen[0], &out, &outlen) == -1);	/* count 1 */
	p[5] = PATH_FRAG_MAX + 1;
	CHECK(path_frag_add(f, p, plen[0], &out, &outlen) == -1);	/* count too big */
	p[5] = 3;
	p[4] = 3;
	CHECK(path_frag_add(f, p, plen[0], &out, &outlen) == -1);	/* index out of range */
	p[4] = 0;
	CHECK(path_frag_add(f, p, plen[0] - 1, &out, &outlen) == -1);	/* a short middle piece */
	p[1] = 0x21;
	CHECK(path_frag_add(f, p, plen[0], &out, &outlen) == -1);	/* not a piece */
	CHECK(!path_is_frag(p, plen[0]));
	memcpy(p, pieces[2], plen[2]);
	CHECK(path_frag_add(f, p, RDV_RELAY_MAX + 1, &out, &outlen) == -1);	/* over the frame */
	free(f);
}

int main(void)
{
	test_roundtrip();
	test_loss_and_restart();
	test_malformed();
	return check_end("test_path");
}
