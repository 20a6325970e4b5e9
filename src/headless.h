/* headless.h: the line front end: commands on stdin, one event a line on stdout. */
#ifndef TINCAN_HEADLESS_H
#define TINCAN_HEADLESS_H

#include <stdio.h>

#include "engine.h"

struct headless;
struct headless *headless_new(struct loop *l, int in_fd, FILE *out);
void headless_event(void *arg, const struct event *ev);
void headless_attach(struct headless *h, struct engine *e);
int headless_done(const struct headless *h);
void headless_free(struct headless *h);
/* Write s escaped for the protocol: \n, \\, and \xHH for other control bytes. */
void headless_escape(FILE *out, const char *s);

#endif
