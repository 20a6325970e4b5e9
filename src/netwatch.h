/* netwatch.h: a callback when the machine's addresses or links change (Linux netlink). */
#ifndef TINCAN_NETWATCH_H
#define TINCAN_NETWATCH_H

#include "loop.h"

typedef void (*netwatch_cb)(void *arg);

/* Watch for changes; cb runs once a burst of them has settled (about a second). NULL if
 * netlink is not available (logged): the caller goes on without. */
struct netwatch *netwatch_new(struct loop *l, netwatch_cb cb, void *arg);
void netwatch_free(struct netwatch *w);

#endif
