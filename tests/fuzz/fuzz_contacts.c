/* fuzz_contacts.c: the contacts file from disk. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "contacts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(void *arg, const uint8_t pk[32], unsigned flags, const char *name)
{
	(void)arg;
	(void)pk;
	(void)flags;
	if (!contacts_valid_name(name) || strlen(name) > CONTACT_NAME_MAX)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int bad;
	contacts_parse((const char *)data, size, check, NULL, &bad);
	char name[64];
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, n);
	name[n] = '\0';
	contacts_valid_name(name);
	return 0;
}
