/* spray.c: the birthday method for a peer behind a NAT that gives each destination its own
 * port (endpoint-dependent mapping), tried a few times while a conversation is on the relay. */
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "engine_int.h"
#include "log.h"
#include "util.h"

/*
 * Hole punching needs each side to send to the address at which the other's NAT expects the
 * answer. A NAT with endpoint-dependent mapping picks a fresh external port for every new
 * destination, so the port the rendezvous saw says nothing about the port a packet to us will
 * leave from, and ordinary punching fails when the other side filters by port.
 *
 * Both sides do the same, at the same moment (path.c coordinates it like a punch round):
 *   1. open SPRAY_SOCKETS extra UDP sockets and send one authenticated probe from each to the
 *      peer's server-reflexive address: behind an endpoint-dependent NAT that opens as many
 *      mappings, on ports nobody can predict;
 *   2. send SPRAY_PROBES probes from the main socket to random ports of the peer's public
 *      address, twice, SPRAY_AGAIN_MS apart (the second batch finds mappings the first one
 *      overtook).
 * A probe from side A that lands on one of B's mappings passes B's NAT (it is the reply that
 * mapping waits for) and reaches one of B's extra sockets; B answers from that socket, and the
 * answer passes A's NAT, which has just sent there. With n mappings and m probes over the
 * r = 64,512 ports above 1023 the chance is about 1 - exp(-n m / r): 87 % for 256 and 2 x 256.
 * The socket that heard the peer becomes the contact's (struct session own_fd); the others are
 * closed after SPRAY_LIFE_MS. One spray at a time per client.
 */
enum {
	SPRAY_SOCKETS = 256,
	SPRAY_PROBES = 256,
	SPRAY_AGAIN_MS = 300,
	SPRAY_LIFE_MS = 4000,
	SPRAY_PORT_MIN = 1024,
};

struct spray {
	struct engine *e;
	struct contact *c;
	int fd[SPRAY_SOCKETS];
	int nfd;
	struct sockaddr_storage target;	/* the peer's server-reflexive address */
	socklen_t tlen;
	int batches;
	uint64_t end_ms;
	struct timer t;
};

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static uint16_t get_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

static void probe_batch(struct spray *sp)
{
	struct contact *c = sp->c;
	struct sockaddr_storage to = sp->target;
	uint16_t skip = get_port(&sp->target);
	for (int i = 0; i < SPRAY_PROBES && session_up(c); i++) {
		uint16_t port = (uint16_t)(SPRAY_PORT_MIN + randombytes_uniform(65536 - SPRAY_PORT_MIN));
		if (port == skip)
			continue;
		set_port(&to, port);
		session_probe(c, c->e->fd, &to, &sp->tlen, 1);
	}
	sp->batches++;
}

int spray_owns(const struct engine *e, int fd)
{
	const struct spray *sp = e->spray;
	for (int i = 0; sp && i < sp->nfd; i++)
		if (sp->fd[i] == fd)
			return 1;
	return 0;
}

int spray_for(const struct engine *e, const struct contact *c, int fd)
{
	return e->spray && e->spray->c == c && spray_owns(e, fd);
}

static void spray_end(struct spray *sp)
{
	struct engine *e = sp->e;
	int kept = 0;
	for (int i = 0; i < sp->nfd; i++) {
		if (sp->c && sp->c->s.own_fd == sp->fd[i]) {
			kept = 1;	/* the contact's now: it stays in the loop */
			continue;
		}
		loop_del(e->loop, sp->fd[i]);
		close(sp->fd[i]);
	}
	if (sp->c)
		log_info("%s: spray over: %s", sp->c->id, kept ? "a direct path through a fresh mapping"
								: "no direct path");
	timer_stop(e->loop, &sp->t);
	e->spray = NULL;
	free(sp);
}

static void spray_tick(struct loop *l, void *arg)
{
	struct spray *sp = arg;
	(void)l;
	if (!sp->c || !session_up(sp->c) || mono_ms() >= sp->end_ms) {
		spray_end(sp);
		return;
	}
	if (sp->batches < 2)
		probe_batch(sp);
	timer_at(sp->e->loop, &sp->t, sp->end_ms);
}

static int open_socket(const struct engine *e)
{
	int fd = socket(e->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && e->family == AF_INET6) {
		int off = 0;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	}
	return fd;
}

void spray_start(struct contact *c)
{
	struct engine *e = c->e;
	if (e->spray || !session_up(c) || c->s.ncand == 0 || rdv_udp_blocked(e->rdv))
		return;		/* one at a time; and where UDP is blocked, 768 packets for nothing */
	struct spray *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return;
	sp->e = e;
	sp->c = c;
	/* the server-reflexive candidate comes last (rdv_candidates) */
	sp->target = c->s.cand[c->s.ncand - 1];
	sp->tlen = c->s.cand_len[c->s.ncand - 1];
	e->spray = sp;
	for (int i = 0; i < SPRAY_SOCKETS; i++) {
		int fd = open_socket(e);
		if (fd < 0)
			break;
		if (loop_add(e->loop, fd, POLLIN, session_input, e) < 0) {
			close(fd);
			break;
		}
		sp->fd[sp->nfd++] = fd;
		session_probe(c, fd, &sp->target, &sp->tlen, 1);
	}
	char addr[80];
	addr_format((struct sockaddr *)&sp->target, sp->tlen, addr, sizeof(addr));
	log_info("%s: spray: %d sockets to %s, %d probes to its other ports", c->id, sp->nfd, addr,
		 2 * SPRAY_PROBES);
	probe_batch(sp);
	sp->end_ms = mono_ms() + SPRAY_LIFE_MS;
	timer_init(&sp->t, spray_tick, sp);
	timer_in(e->loop, &sp->t, SPRAY_AGAIN_MS);
}

/* c goes away: the spray no longer refers to it. */
void spray_forget(struct engine *e, const struct contact *c)
{
	if (e->spray && e->spray->c == c)
		e->spray->c = NULL;
}

/* The engine stops (before its contacts are freed: a socket a contact took stays its). */
void spray_free(struct engine *e)
{
	if (e->spray)
		spray_end(e->spray);
}
