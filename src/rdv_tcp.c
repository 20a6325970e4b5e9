/* rdv_tcp.c: the rendezvous client over TCP when UDP gets no answer: one non-blocking stream
 * per server carrying the session's packets, each behind a big-endian u16 length. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "rdv_int.h"
#include "util.h"

enum { TCP_READ_ROUNDS = 16, TCP_WBUF_MIN = 16384 };

int rdv_tcp_frame_next(const uint8_t *buf, size_t len, size_t *off, const uint8_t **frame,
		       size_t *flen)
{
	if (*off > len || len - *off < 2)
		return 0;
	size_t n = get_u16(buf + *off);
	if (n == 0 || n > RDV_TCP_FRAME_MAX)
		return -1;
	if (len - *off - 2 < n)
		return 0;
	*frame = buf + *off + 2;
	*flen = n;
	*off += 2 + n;
	return 1;
}

void rdv_tcp_init(struct rdv_tcp *t)
{
	memset(t, 0, offsetof(struct rdv_tcp, rbuf));
	t->fd = -1;
}

/* s->addr is in the engine socket's family: an IPv4 server may be a v4-mapped IPv6 address,
 * which a TCP socket of its own takes as plain IPv4. */
static socklen_t tcp_addr(const struct rdv_srv *s, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *a6 = (const void *)&s->addr;
	if (s->addr.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
		struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = a6->sin6_port };
		memcpy(&a4.sin_addr, a6->sin6_addr.s6_addr + 12, 4);
		memset(out, 0, sizeof(*out));
		memcpy(out, &a4, sizeof(a4));
		return sizeof(a4);
	}
	*out = s->addr;
	return s->addrlen;
}

void rdv_tcp_close(struct rdv_srv *s)
{
	struct rdv_tcp *t = &s->tcp;
	if (t->fd >= 0) {
		loop_del(s->r->e->loop, t->fd);
		close(t->fd);
	}
	free(t->wbuf);
	unsigned epoch = t->epoch + 1;
	rdv_tcp_init(t);
	t->epoch = epoch;
}

/* Poll for output only while some is waiting (or the connection is being made). */
static void tcp_events(struct rdv_srv *s)
{
	struct rdv_tcp *t = &s->tcp;
	short ev = t->connecting ? POLLOUT : (short)(POLLIN | (t->wlen ? POLLOUT : 0));
	loop_mod(s->r->e->loop, t->fd, ev);
}

/* Write what the socket takes. 0, or -1 with t->err set. */
static int tcp_write(struct rdv_srv *s)
{
	struct rdv_tcp *t = &s->tcp;
	size_t done = 0;
	while (done < t->wlen) {
		ssize_t k = send(t->fd, t->wbuf + done, t->wlen - done, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (k <= 0) {
			t->err = k < 0 && errno == ECONNRESET ? "connection reset" : "write failed";
			return -1;
		}
		done += (size_t)k;
	}
	memmove(t->wbuf, t->wbuf + done, t->wlen - done);
	t->wlen -= done;
	tcp_events(s);
	return 0;
}

static int tcp_reserve(struct rdv_tcp *t, size_t need)
{
	if (need <= t->wcap)
		return 0;
	size_t cap = t->wcap ? t->wcap : TCP_WBUF_MIN;
	while (cap < need)
		cap *= 2;
	if (cap > RDV_TCP_WBUF_MAX)
		cap = RDV_TCP_WBUF_MAX;
	uint8_t *p = realloc(t->wbuf, cap);
	if (!p)
		return -1;
	t->wbuf = p;
	t->wcap = cap;
	return 0;
}

/* Note a failure now, act on it from the server's timer, out of the caller's stack. */
static void tcp_defer(struct rdv_srv *s, const char *why)
{
	s->tcp.err = why;
	timer_at(s->r->e->loop, &s->t, mono_ms());
}

void rdv_tcp_send(struct rdv_srv *s, const uint8_t *pkt, size_t len)
{
	struct rdv_tcp *t = &s->tcp;
	if (t->fd < 0 || t->connecting || t->err || len == 0 || len > RDV_TCP_FRAME_MAX)
		return;
	if (t->wlen + 2 + len > RDV_TCP_WBUF_MAX) {
		tcp_defer(s, "output queue full");
		return;
	}
	if (tcp_reserve(t, t->wlen + 2 + len) < 0) {
		tcp_defer(s, "out of memory");
		return;
	}
	put_u16(t->wbuf + t->wlen, (uint16_t)len);
	memcpy(t->wbuf + t->wlen + 2, pkt, len);
	t->wlen += 2 + len;
	if (tcp_write(s) < 0)
		tcp_defer(s, t->err);
}

/* Read what is there and hand each complete frame to the session. 0, or -1 with why. */
static int tcp_read(struct rdv_srv *s, const char **why)
{
	struct rdv_tcp *t = &s->tcp;
	unsigned epoch = t->epoch;
	for (int round = 0; round < TCP_READ_ROUNDS; round++) {
		ssize_t k = read(t->fd, t->rbuf + t->rlen, sizeof(t->rbuf) - t->rlen);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (k <= 0) {
			*why = k == 0 ? "closed by the server" : strerror(errno);
			return -1;
		}
		t->rlen += (size_t)k;
		size_t off = 0, flen;
		const uint8_t *frame;
		int rc;
		while ((rc = rdv_tcp_frame_next(t->rbuf, t->rlen, &off, &frame, &flen)) == 1) {
			srv_tcp_input(s, frame, flen);
			if (t->epoch != epoch)
				return 0;	/* the session ended and took the stream along */
		}
		if (rc < 0) {
			*why = "bad frame length";
			return -1;
		}
		memmove(t->rbuf, t->rbuf + off, t->rlen - off);
		t->rlen -= off;
	}
	return 0;
}

static void tcp_connected(struct rdv_srv *s)
{
	struct rdv_tcp *t = &s->tcp;
	t->connecting = 0;
	tcp_events(s);
	log_debug("rendezvous %s: TCP connected", s->label);
	srv_tcp_connected(s);
}

static void tcp_io(struct loop *l, int fd, short revents, void *arg)
{
	struct rdv_srv *s = arg;
	struct rdv_tcp *t = &s->tcp;
	const char *why = NULL;
	(void)l;
	if (fd != t->fd)
		return;
	if (t->err) {
		srv_tcp_failed(s, t->err);
		return;
	}
	if (t->connecting) {
		int e = 0;
		socklen_t elen = sizeof(e);
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
			e = errno;
		if (e) {
			srv_tcp_failed(s, strerror(e));
			return;
		}
		tcp_connected(s);
		return;
	}
	if (revents & POLLOUT && tcp_write(s) < 0) {
		srv_tcp_failed(s, t->err);
		return;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR) && tcp_read(s, &why) < 0)
		srv_tcp_failed(s, why);
}

void rdv_tcp_answered(struct rdv_srv *s, int over_tcp)
{
	struct rdv_tcp *t = &s->tcp;
	if (!over_tcp) {
		if (t->fd >= 0 && !t->used) {
			log_debug("rendezvous %s: UDP answered: TCP attempt closed", s->label);
			rdv_tcp_close(s);
		}
		return;
	}
	if (t->used || t->fd < 0)
		return;
	t->used = 1;
	log_debug("rendezvous %s: TCP answered: the session uses TCP until it ends", s->label);
	if (!t->said) {
		t->said = 1;
		log_info("rendezvous %s: no answer over UDP: connected over TCP", s->label);
		rdv_info(s->r, "rendezvous %s: no answer over UDP: connected over TCP", s->label);
	}
}

int rdv_tcp_open(struct rdv_srv *s)
{
	struct rdv_tcp *t = &s->tcp;
	struct sockaddr_storage to;
	socklen_t tolen = tcp_addr(s, &to);
	int one = 1;
	rdv_tcp_close(s);
	t->tried = 1;
	int fd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_debug("rendezvous %s: TCP socket: %s", s->label, strerror(errno));
		return -1;
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		log_debug("rendezvous %s: TCP_NODELAY: %s", s->label, strerror(errno));
	if (connect(fd, (struct sockaddr *)&to, tolen) < 0 && errno != EINPROGRESS) {
		log_debug("rendezvous %s: TCP connect: %s", s->label, strerror(errno));
		close(fd);
		return -1;
	}
	if (loop_add(s->r->e->loop, fd, POLLOUT, tcp_io, s) < 0) {
		close(fd);
		return -1;
	}
	t->fd = fd;
	t->connecting = 1;
	log_debug("rendezvous %s: no answer over UDP: trying TCP as well", s->label);
	return 0;
}
