/* rdv_resolve.c: a rendezvous server's address without blocking the loop: numeric hosts at
 * once, names through getaddrinfo_a polled from the server's timer. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv_int.h"
#include "util.h"

/* A name lookup in the resolver's hands; its strings live with it. */
struct rdv_gai {
	struct gaicb cb;
	struct addrinfo hints;
	char host[RDV_HOST_MAX + 1];
	char port[8];
};

/* The first address the engine's socket can reach, in its family. */
static int take_addr(struct rdv_srv *s, const struct addrinfo *ai)
{
	struct engine *e = s->r->e;
	for (; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET6 && e->family != AF_INET6)
			continue;
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		s->addrlen = addr_for_socket(e, ai->ai_addr, ai->ai_addrlen, &s->addr);
		return 0;
	}
	return -1;
}

int rdv_resolve(struct rdv_srv *s, const char **why)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", s->port);
	if (getaddrinfo(s->host, port, &hints, &res) == 0) {
		int ok = take_addr(s, res) == 0;
		freeaddrinfo(res);
		*why = "no address this socket can reach";
		return ok ? 0 : -1;
	}
	struct rdv_gai *g = calloc(1, sizeof(*g));
	*why = "out of memory";
	if (!g)
		return -1;
	g->hints = (struct addrinfo){ .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV };
	str_copy(g->host, s->host, sizeof(g->host));
	str_copy(g->port, port, sizeof(g->port));
	g->cb.ar_name = g->host;
	g->cb.ar_service = g->port;
	g->cb.ar_request = &g->hints;
	struct gaicb *list[1] = { &g->cb };
	if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
		free(g);
		*why = "the name lookup did not start";
		return -1;
	}
	s->gai = g;
	return 1;
}

int rdv_resolve_poll(struct rdv_srv *s, const char **why)
{
	if (!s->gai) {
		*why = "no lookup";
		return -1;
	}
	int rc = gai_error(&s->gai->cb);
	if (rc == EAI_INPROGRESS) {
		if (mono_ms() - s->phase_ms <= RDV_RESOLVE_MS)
			return 1;
		rdv_resolve_free(s);
		*why = "the name lookup timed out";
		return -1;
	}
	struct addrinfo *res = s->gai->cb.ar_result;
	free(s->gai);
	s->gai = NULL;
	int ok = rc == 0 && take_addr(s, res) == 0;
	if (res)
		freeaddrinfo(res);
	*why = rc ? gai_strerror(rc) : "no address this socket can reach";
	return ok ? 0 : -1;
}

void rdv_resolve_free(struct rdv_srv *s)
{
	struct rdv_gai *g = s->gai;
	s->gai = NULL;
	if (!g)
		return;
	if (gai_cancel(&g->cb) != EAI_CANCELED && gai_error(&g->cb) == EAI_INPROGRESS)
		return;		/* still in the resolver's hands: left to it (a small leak) */
	if (g->cb.ar_result)
		freeaddrinfo(g->cb.ar_result);
	free(g);
}
