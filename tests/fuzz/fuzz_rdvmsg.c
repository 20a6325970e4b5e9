/* fuzz_rdvmsg.c: libFuzzer target for the rendezvous message decoder (decode, re-encode). */
#include <stdlib.h>
#include <string.h>

#include "rdvmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Anything that decodes must encode back to exactly the same bytes, and its strings must be
 * NUL-terminated within their buffers. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rdv_msg m;
	static uint8_t out[RDV_MSG_MAX];
	uint8_t type;
	uint32_t req;
	char norm[RDV_NAME_MAX + 1];

	(void)rdv_peek_req(data, size, &type, &req);
	if (rdv_decode(data, size, &m) != 0)
		return 0;
	if (size > RDV_MSG_MAX || m.naddr > RDV_ADDR_MAX || m.nopk > RDV_OPK_MSG_MAX)
		abort();
	if (!memchr(m.name, 0, sizeof(m.name)) || !memchr(m.text, 0, sizeof(m.text)) ||
	    !memchr(m.handle, 0, sizeof(m.handle)))
		abort();
	if (m.sealed && (m.sealed < data || m.sealed + m.sealed_len > data + size))
		abort();
	size_t n = rdv_encode(&m, out, sizeof(out));
	if (n != size || memcmp(out, data, size) != 0)
		abort();
	if (rdv_name_norm(m.name, norm) == 0 && strlen(norm) != strlen(m.name))
		abort();
	return 0;
}
