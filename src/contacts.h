/* contacts.h: the contacts file: one pinned key per line, replaced atomically. */
#ifndef TINCAN_CONTACTS_H
#define TINCAN_CONTACTS_H

#include <stddef.h>
#include <stdint.h>

enum {
	CONTACT_NAME_MAX = 32,		/* bytes of UTF-8 */
	CONTACT_BLOCKED = 1 << 0,	/* flags */
	CONTACT_VERIFIED = 1 << 1,
	CONTACT_PENDING = 1 << 2,	/* a request from them, not yet answered */
	CONTACT_FRIEND = 1 << 3,	/* pinned as a contact */
};

/* File format, one line per key, '#' comments:  <ID> <flags-decimal> <name>
 * The name may hold any UTF-8 except control characters and spaces. */
typedef int (*contacts_cb)(void *arg, const uint8_t pk[32], unsigned flags, const char *name);
/* Returns the number of lines accepted; bad lines are skipped and counted in *bad. */
int contacts_parse(const char *buf, size_t len, contacts_cb cb, void *arg, int *bad);
/* 1 if name is a valid nick: 1..CONTACT_NAME_MAX bytes of UTF-8, no spaces or controls. */
int contacts_valid_name(const char *name);

#endif
