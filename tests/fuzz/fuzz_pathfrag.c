/* fuzz_pathfrag.c: relay pieces from the network into path_frag_add, many per input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input is a series of pieces, each a u16 length (big-endian) and that many bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct path_frag f;
	size_t off = 0;
	memset(&f, 0, sizeof(f));
	while (size - off >= 2) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (n > size - off)
			n = size - off;
		const uint8_t *out;
		size_t outlen;
		if (path_frag_add(&f, data + off, n, &out, &outlen) == 1) {
			if (outlen <= PATH_FRAG_PIECE || outlen > sizeof(f.buf))
				abort();
			volatile uint8_t sink = out[outlen - 1];
			(void)sink;
		}
		off += n;
	}
	return 0;
}
