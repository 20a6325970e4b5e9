/* syncer.h: fdatasync in a helper thread, so that group commit never blocks the event loop. */
#ifndef TINCAN_SYNCER_H
#define TINCAN_SYNCER_H

#include <stddef.h>

#include "loop.h"

struct syncer;
/* done(arg, ok) runs in the loop thread when the batch handed to syncer_start is on disk. */
typedef void (*syncer_done)(void *arg, int ok);
struct syncer *syncer_new(struct loop *l, syncer_done done, void *arg);
/* Start fdatasync of fds[0..n) (copied); 0 ok, -1 when a batch is still running. */
int syncer_start(struct syncer *s, const int *fds, size_t n);
int syncer_busy(const struct syncer *s);
/* Waits for a running batch, stops the thread. */
void syncer_free(struct syncer *s);

#endif
