/* fuzz_keyfile.c: the identity key file from disk: whatever its bytes, loading either gives a
 * key pair whose halves match or a clean error, and never creates a new key over it. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	if (!path[0]) {
		if (sodium_init() < 0)
			abort();
		snprintf(path, sizeof(path), "%s/fuzz-key-%d", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
			 (int)getpid());
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	struct identity id;
	char err[256];
	int created = 0;
	memset(&id, 0, sizeof(id));
	if (identity_load_or_create(path, &id, &created, err, sizeof(err)) >= 0) {
		uint8_t pk[32];
		if (created)
			abort();	/* an existing file is never replaced */
		crypto_sign_ed25519_sk_to_pk(pk, id.sk);
		if (memcmp(pk, id.pk, 32) != 0)
			abort();	/* a loaded key's halves match */
		identity_free(&id);
	}
	unlink(path);
	return 0;
}
