/* rdv_tcp.h: the rendezvous client's TCP fallback: the session's packets, each behind a u16
 * length, over one non-blocking stream per server; and the pure frame reader for its input. */
#ifndef TINCAN_RDV_TCP_H
#define TINCAN_RDV_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "noise.h"
#include "rel.h"

enum {
	/* The largest packet either side puts in one frame (tincand's PKT_MAX). */
	RDV_TCP_FRAME_MAX = REL_MAX_PKT + NOISE_DATA_OVERHEAD + 512,
	/* Unsent bytes beyond this end the session (a stream cannot drop the oldest). */
	RDV_TCP_WBUF_MAX = 1 << 19,
	RDV_TCP_AFTER_MS = 2000,	/* no answer over UDP this long in a cycle: TCP too */
};

struct rdv_tcp {
	int fd;				/* -1: no stream */
	int connecting;			/* connect(2) in progress */
	int used;			/* it carried a valid answer: the session is on TCP */
	int tried;			/* opened in this connection cycle */
	int said;			/* the "over TCP" info line went out for this session */
	const char *err;		/* a failure seen while sending: acted on from the timer */
	unsigned epoch;			/* bumped on close: a read loop stops when it changes */
	uint8_t *wbuf;
	size_t wlen, wcap;
	size_t rlen;
	uint8_t rbuf[2 + RDV_TCP_FRAME_MAX];
};

struct rdv_srv;

/* The next complete frame of buf[*off..len): 1 (*frame, *flen set, *off past it), 0 (more
 * bytes needed; *off is where the partial frame starts), -1 (a length of 0 or more than
 * RDV_TCP_FRAME_MAX: the stream is not ours). No I/O, no allocation. */
int rdv_tcp_frame_next(const uint8_t *buf, size_t len, size_t *off, const uint8_t **frame,
		       size_t *flen);

void rdv_tcp_init(struct rdv_tcp *t);
/* Start a non-blocking connection to s->addr (TCP, same port). 0 or -1 (logged). */
int rdv_tcp_open(struct rdv_srv *s);
/* Close the stream (if any) and forget its buffers and state. */
void rdv_tcp_close(struct rdv_srv *s);
/* A valid answer came for s: over TCP, the session stays on it until it ends (and the info
 * line goes out once); over UDP, an open TCP attempt is closed. */
void rdv_tcp_answered(struct rdv_srv *s, int over_tcp);
/* Queue one packet behind its length and write what the socket takes. A full queue or a
 * write error sets t->err; the caller's timer ends the session (never from inside a send). */
void rdv_tcp_send(struct rdv_srv *s, const uint8_t *pkt, size_t len);

#endif
