/* rdvd_net.h: tincand's sockets: UDP (batched receive and send) and TCP (u16-framed packets). */
#ifndef TINCAN_RDVD_NET_H
#define TINCAN_RDVD_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"
#include "rdvd.h"

enum {
	RNET_MAX_LISTEN = 16,
	RNET_TCP_WBUF_MAX = 1 << 20,	/* a TCP client that reads slower than this is dropped */
	RNET_TCP_RELAY_QUEUE = 1 << 16,	/* relayed packets beyond this much unsent are dropped */
};

struct rnet;
struct rnet *rnet_new(struct loop *l);
void rnet_free(struct rnet *n);
/* Bind UDP and TCP on the same address and port (IPV6_V6ONLY on IPv6). 0 ok, -1 + err. */
int rnet_listen(struct rnet *n, const struct sockaddr *sa, socklen_t salen, char *err, size_t errlen);
/* Start reading once the server exists (after privileges are dropped). */
int rnet_start(struct rnet *n, struct rdvd *srv);
void rnet_set_limits(struct rnet *n, uint32_t max_tcp, uint32_t tcp_idle_ms);
/* The rdvd_send_fn; arg is the rnet. */
void rnet_send(void *arg, uint32_t src, const struct sockaddr *sa, socklen_t salen,
    const uint8_t *pkt, size_t len);
/* Push out what was queued (sendmmsg, TCP writes). */
void rnet_flush(struct rnet *n);
/* Close idle TCP connections. */
void rnet_tick(struct rnet *n, uint64_t now_ms);

/* "1.2.3.4:7787", "[::1]:7787", "[::]", "host:port", "*:port" -> sockaddr; 0 ok, -1 + err. */
int rnet_parse_addr(const char *s, int default_port, struct sockaddr_storage *ss, socklen_t *len,
    char *err, size_t errlen);
void rnet_format_addr(const struct sockaddr *sa, char *out, size_t cap);

#endif
