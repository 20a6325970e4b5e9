/* fuzz_id.c: libFuzzer target for id_decode (and the encode/decode round trip). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256], enc[ID_STRLEN + 1], fpr[FPR_STRLEN + 1];
	uint8_t pk[32], pk2[32], xpk[32];
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1, i, start;
	int rc;

	if (sodium_init() < 0)
		abort();
	memcpy(s, data, n);
	s[n] = '\0';
	rc = id_decode(s, pk);
	if (rc != 0 && rc != ID_EBADLEN && rc != ID_EBADCHAR && rc != ID_ECHECKSUM && rc != ID_EBADKEY)
		abort();
	if (id_strerror(rc) == NULL)
		abort();
	if (rc == 0) {
		/* a valid ID is its own canonical form once trimmed and lower-cased */
		id_encode(pk, enc);
		for (start = 0; s[start] != '\0' && strchr(" \t\n\r\v\f", s[start]) != NULL; start++)
			;
		for (i = 0; i < ID_STRLEN; i++)
			if (lower((unsigned char)s[start + i]) != enc[i])
				abort();
		if (id_decode(enc, pk2) != 0 || memcmp(pk, pk2, 32) != 0)
			abort();
		if (id_pk_to_x25519(pk, xpk) != 0)
			abort();
		id_fingerprint(pk, fpr);
		if (strlen(fpr) != FPR_STRLEN)
			abort();
	}
	/* any 32 bytes encode to an ID that decodes back (or is refused as a bad key) */
	if (size >= 32) {
		id_encode(data, enc);
		rc = id_decode(enc, pk2);
		if (rc == 0 ? memcmp(pk2, data, 32) != 0 : rc != ID_EBADKEY)
			abort();
	}
	return 0;
}
