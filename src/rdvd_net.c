/* rdvd_net.c: tincand's UDP sockets (recvmmsg/sendmmsg batches) and TCP connections. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "noise.h"
#include "rdvd_net.h"
#include "rel.h"
#include "util.h"

enum {
	BATCH = 64,
	PKT_MAX = REL_MAX_PKT + NOISE_DATA_OVERHEAD + 512,	/* larger datagrams are not ours */
	RX_ROUNDS = 8,			/* batches per wake-up before others get a turn */
	TCP_SLOTS = 1 << 16,
};

struct udp_sock {
	struct rnet *n;
	int fd;
	uint32_t idx;
	int nout;
	struct mmsghdr out[BATCH];
	struct iovec oiov[BATCH];
	struct sockaddr_storage oaddr[BATCH];
	uint8_t obuf[BATCH][PKT_MAX];
};

struct tconn {
	struct rnet *n;
	int fd;
	uint32_t id;
	struct sockaddr_storage peer;
	socklen_t plen;
	uint64_t last_ms;
	size_t rlen;
	uint8_t rbuf[2 + PKT_MAX];
	uint8_t *wbuf;
	size_t wlen, wcap;
	int dirty, dead;
};

struct rnet {
	struct loop *loop;
	struct rdvd *srv;
	struct udp_sock *udp[RNET_MAX_LISTEN];
	int tcp_fd[RNET_MAX_LISTEN];
	int nlisten;
	struct tconn **conns;		/* TCP_SLOTS */
	uint32_t nconns, max_tcp, tcp_idle_ms;
	uint16_t gen;
	uint32_t *dirty, *dirty2;	/* TCP connections with queued output (two lists) */
	uint32_t ndirty, flush_all;
	/* receive batch */
	struct mmsghdr in[BATCH];
	struct iovec iiov[BATCH];
	struct sockaddr_storage iaddr[BATCH];
	uint8_t ibuf[BATCH][PKT_MAX];
};

void rnet_format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%u", ip, ntohs(s->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, ntohs(s->sin_port));
	} else {
		snprintf(out, cap, "?");
	}
}

int rnet_parse_addr(const char *s, int default_port, struct sockaddr_storage *ss, socklen_t *len,
    char *err, size_t errlen)
{
	char host[256], port[16];
	const char *p;
	snprintf(port, sizeof(port), "%d", default_port);
	if (s[0] == '[') {
		if (!(p = strchr(s, ']')) || (size_t)(p - s - 1) >= sizeof(host) ||
		    (p[1] && (p[1] != ':' || !p[2]))) {
			snprintf(err, errlen, "%s: expected [address]:port", s);
			return -1;
		}
		memcpy(host, s + 1, (size_t)(p - s - 1));
		host[p - s - 1] = '\0';
		if (p[1])
			snprintf(port, sizeof(port), "%s", p + 2);
	} else if ((p = strrchr(s, ':')) && strchr(s, ':') == p) {
		if ((size_t)(p - s) >= sizeof(host) || !p[1]) {
			snprintf(err, errlen, "%s: expected address:port", s);
			return -1;
		}
		memcpy(host, s, (size_t)(p - s));
		host[p - s] = '\0';
		snprintf(port, sizeof(port), "%s", p + 1);
	} else {
		snprintf(host, sizeof(host), "%s", s);	/* a bare address (IPv6 without port too) */
	}
	char *end;
	long pv = strtol(port, &end, 10);
	if (*end || pv < 1 || pv > 65535) {
		snprintf(err, errlen, "%s: bad port %s", s, port);
		return -1;
	}
	struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_DGRAM }, *res;
	int any = !strcmp(host, "*") || !host[0];
	if (any)
		hints.ai_family = AF_INET;	/* "*" is any IPv4 address; "[::]" any IPv6 one */
	int rc = getaddrinfo(any ? NULL : host, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "%s: %s", s, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

struct rnet *rnet_new(struct loop *l)
{
	struct rnet *n = calloc(1, sizeof(*n));
	if (!n || !(n->conns = calloc(TCP_SLOTS, sizeof(*n->conns))) ||
	    !(n->dirty = calloc(TCP_SLOTS, sizeof(*n->dirty))) ||
	    !(n->dirty2 = calloc(TCP_SLOTS, sizeof(*n->dirty2)))) {
		if (n) {
			free(n->conns);
			free(n->dirty);
		}
		free(n);
		return NULL;
	}
	n->loop = l;
	n->max_tcp = 4096;
	n->tcp_idle_ms = 120000;
	for (int i = 0; i < BATCH; i++) {
		n->iiov[i].iov_base = n->ibuf[i];
		n->iiov[i].iov_len = PKT_MAX;
	}
	return n;
}

void rnet_set_limits(struct rnet *n, uint32_t max_tcp, uint32_t tcp_idle_ms)
{
	n->max_tcp = max_tcp < TCP_SLOTS - 1 ? max_tcp : TCP_SLOTS - 1;
	n->tcp_idle_ms = tcp_idle_ms;
}

static int sock_for(const struct sockaddr *sa, int type)
{
	int fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_DGRAM) {
		int sz = 8 << 20;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	return fd;
}

int rnet_listen(struct rnet *n, const struct sockaddr *sa, socklen_t salen, char *err, size_t errlen)
{
	char name[80];
	rnet_format_addr(sa, name, sizeof(name));
	if (n->nlisten == RNET_MAX_LISTEN) {
		snprintf(err, errlen, "%s: at most %d listen addresses", name, RNET_MAX_LISTEN);
		return -1;
	}
	struct udp_sock *u = calloc(1, sizeof(*u));
	int ufd = sock_for(sa, SOCK_DGRAM), tfd = sock_for(sa, SOCK_STREAM);
	if (!u || ufd < 0 || tfd < 0 || bind(ufd, sa, salen) < 0 || bind(tfd, sa, salen) < 0 ||
	    listen(tfd, 512) < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		free(u);
		if (ufd >= 0)
			close(ufd);
		if (tfd >= 0)
			close(tfd);
		return -1;
	}
	u->n = n;
	u->fd = ufd;
	u->idx = (uint32_t)n->nlisten;
	n->udp[n->nlisten] = u;
	n->tcp_fd[n->nlisten++] = tfd;
	log_info("listening on %s (UDP and TCP)", name);
	return 0;
}

/* --- UDP --- */

static void udp_flush(struct udp_sock *u)
{
	int done = 0;
	while (done < u->nout) {
		int k = sendmmsg(u->fd, u->out + done, (unsigned)(u->nout - done), 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			log_debug("UDP send: %s (%d packets dropped)", strerror(errno), u->nout - done);
			break;
		}
		done += k;
	}
	u->nout = 0;
}

static void udp_read(struct loop *l, int fd, short revents, void *arg)
{
	struct udp_sock *u = arg;
	struct rnet *n = u->n;
	(void)l;
	(void)revents;
	for (int round = 0; round < RX_ROUNDS; round++) {
		for (int i = 0; i < BATCH; i++) {
			n->in[i].msg_hdr = (struct msghdr){ .msg_name = &n->iaddr[i],
				.msg_namelen = sizeof(n->iaddr[i]), .msg_iov = &n->iiov[i], .msg_iovlen = 1 };
		}
		int k = recvmmsg(fd, n->in, BATCH, MSG_DONTWAIT, NULL);
		if (k <= 0)
			break;
		uint64_t now = mono_ms();
		for (int i = 0; i < k; i++) {
			if (n->in[i].msg_hdr.msg_flags & MSG_TRUNC)
				continue;
			rdvd_input(n->srv, u->idx, (struct sockaddr *)&n->iaddr[i], n->in[i].msg_hdr.msg_namelen,
			    n->ibuf[i], n->in[i].msg_len, now);
		}
		rnet_flush(n);
		if (k < BATCH)
			break;
	}
}

/* --- TCP --- */

static struct tconn *conn_of(const struct rnet *n, uint32_t id)
{
	struct tconn *c = n->conns[id & 0xffff];
	return c && c->id == id ? c : NULL;
}

static void conn_close(struct rnet *n, struct tconn *c, const char *why)
{
	char name[80];
	rnet_format_addr((struct sockaddr *)&c->peer, name, sizeof(name));
	log_debug("TCP %s: %s", name, why);
	n->conns[c->id & 0xffff] = NULL;
	n->nconns--;
	loop_del(n->loop, c->fd);
	close(c->fd);
	uint32_t id = c->id;
	free(c->wbuf);
	free(c);
	rdvd_source_closed(n->srv, id, mono_ms());
}

static void conn_write(struct rnet *n, struct tconn *c)
{
	while (c->wlen) {
		ssize_t k = write(c->fd, c->wbuf, c->wlen);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (k <= 0) {
			conn_close(n, c, "write failed");
			return;
		}
		memmove(c->wbuf, c->wbuf + k, c->wlen - (size_t)k);
		c->wlen -= (size_t)k;
	}
	loop_mod(n->loop, c->fd, (short)(POLLIN | (c->wlen ? POLLOUT : 0)));
}

static void conn_io(struct loop *l, int fd, short revents, void *arg)
{
	struct tconn *c = arg;
	struct rnet *n = c->n;
	uint32_t id = c->id;
	(void)l;
	if (revents & POLLOUT)
		conn_write(n, c);
	if (!(revents & (POLLIN | POLLHUP | POLLERR)) || !conn_of(n, id))
		return;
	uint64_t now = mono_ms();
	for (int round = 0; round < 16; round++) {
		ssize_t k = read(fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (k <= 0) {
			conn_close(n, c, k == 0 ? "closed by the client" : strerror(errno));
			return;
		}
		c->rlen += (size_t)k;
		c->last_ms = now;
		size_t off = 0;
		while (c->rlen - off >= 2) {
			size_t len = get_u16(c->rbuf + off);
			if (len == 0 || len > PKT_MAX) {
				conn_close(n, c, "bad frame length");
				return;
			}
			if (c->rlen - off - 2 < len)
				break;
			rdvd_input(n->srv, id, (struct sockaddr *)&c->peer, c->plen, c->rbuf + off + 2, len, now);
			off += 2 + len;
			if (!conn_of(n, id))
				return;
		}
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	rnet_flush(n);
}

static void tcp_accept(struct loop *l, int fd, short revents, void *arg)
{
	struct rnet *n = arg;
	(void)l;
	(void)revents;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int cfd = accept4(fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		uint32_t slot = 0;
		if (n->nconns < n->max_tcp)
			for (slot = 1; slot < TCP_SLOTS && n->conns[slot]; slot++)
				;
		struct tconn *c = slot && slot < TCP_SLOTS ? calloc(1, sizeof(*c)) : NULL;
		if (!c || loop_add(n->loop, cfd, POLLIN, conn_io, c) < 0) {
			free(c);
			close(cfd);
			continue;
		}
		int one = 1;
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		n->gen = (uint16_t)((n->gen + 1) & 0x3fff);	/* bit 30 is RDVD_SEND_DROPPABLE */
		c->n = n;
		c->fd = cfd;
		c->id = RDVD_SRC_TCP | (uint32_t)n->gen << 16 | slot;
		c->peer = peer;
		c->plen = plen;
		c->last_ms = mono_ms();
		n->conns[slot] = c;
		n->nconns++;
	}
}

void rnet_send(void *arg, uint32_t src, const struct sockaddr *sa, socklen_t salen,
    const uint8_t *pkt, size_t len)
{
	struct rnet *n = arg;
	int droppable = !!(src & RDVD_SEND_DROPPABLE);
	src &= ~RDVD_SEND_DROPPABLE;
	if (!(src & RDVD_SRC_TCP)) {
		if (src >= (uint32_t)n->nlisten || len > PKT_MAX || salen > sizeof(struct sockaddr_storage))
			return;
		struct udp_sock *u = n->udp[src];
		if (u->nout == BATCH)
			udp_flush(u);
		int i = u->nout++;
		memcpy(u->obuf[i], pkt, len);
		memcpy(&u->oaddr[i], sa, salen);
		u->oiov[i] = (struct iovec){ u->obuf[i], len };
		u->out[i].msg_hdr = (struct msghdr){ .msg_name = &u->oaddr[i], .msg_namelen = salen,
			.msg_iov = &u->oiov[i], .msg_iovlen = 1 };
		return;
	}
	/* Called from inside the server core: never close or write here, only queue. */
	struct tconn *c = conn_of(n, src);
	if (!c || c->dead || len > 0xffff)
		return;
	/* A relayed datagram waits behind at most RNET_TCP_RELAY_QUEUE bytes, or is dropped as a
	 * router would (the clients retransmit); the connection is not closed for it. */
	if (droppable && c->wlen + 2 + len > RNET_TCP_RELAY_QUEUE)
		return;
	if (c->wlen + 2 + len > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 4096;
		while (cap < c->wlen + 2 + len)
			cap *= 2;
		uint8_t *p = cap <= RNET_TCP_WBUF_MAX ? realloc(c->wbuf, cap) : NULL;
		if (!p) {
			c->dead = 1;	/* does not read its answers: closed at the next flush */
			cap = 0;
		} else {
			c->wbuf = p;
			c->wcap = cap;
		}
	}
	if (!c->dead) {
		put_u16(c->wbuf + c->wlen, (uint16_t)len);
		memcpy(c->wbuf + c->wlen + 2, pkt, len);
		c->wlen += 2 + len;
	}
	if (!c->dirty) {
		c->dirty = 1;
		if (n->ndirty < TCP_SLOTS)
			n->dirty[n->ndirty++] = c->id;
		else
			n->flush_all = 1;
	}
}

void rnet_flush(struct rnet *n)
{
	for (int i = 0; i < n->nlisten; i++)
		if (n->udp[i]->nout)
			udp_flush(n->udp[i]);
	/* Closing a connection reaches into the server, which may queue more: that goes to the
	 * other list, written at the next flush. */
	uint32_t *list = n->dirty, nd = n->ndirty, all = n->flush_all;
	n->dirty = n->dirty2;
	n->dirty2 = list;
	n->ndirty = 0;
	n->flush_all = 0;
	for (uint32_t i = 0; i < (all ? TCP_SLOTS : nd); i++) {
		struct tconn *c = all ? n->conns[i] : conn_of(n, list[i]);
		if (!c || !c->dirty)
			continue;
		c->dirty = 0;
		if (c->dead)
			conn_close(n, c, "does not read its answers");
		else
			conn_write(n, c);
	}
}

void rnet_tick(struct rnet *n, uint64_t now)
{
	for (uint32_t i = 1; i < TCP_SLOTS && n->nconns; i++) {
		struct tconn *c = n->conns[i];
		if (c && now - c->last_ms > n->tcp_idle_ms)
			conn_close(n, c, "idle");
	}
}

int rnet_start(struct rnet *n, struct rdvd *srv)
{
	n->srv = srv;
	for (int i = 0; i < n->nlisten; i++)
		if (loop_add(n->loop, n->udp[i]->fd, POLLIN, udp_read, n->udp[i]) < 0 ||
		    loop_add(n->loop, n->tcp_fd[i], POLLIN, tcp_accept, n) < 0)
			return -1;
	return 0;
}

void rnet_free(struct rnet *n)
{
	if (!n)
		return;
	for (uint32_t i = 0; i < TCP_SLOTS; i++) {
		struct tconn *c = n->conns[i];
		if (c) {
			close(c->fd);
			free(c->wbuf);
			free(c);
		}
	}
	for (int i = 0; i < n->nlisten; i++) {
		close(n->udp[i]->fd);
		close(n->tcp_fd[i]);
		free(n->udp[i]);
	}
	free(n->conns);
	free(n->dirty);
	free(n->dirty2);
	free(n);
}
