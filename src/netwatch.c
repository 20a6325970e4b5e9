/* netwatch.c: notice that the machine's network changed (an address or a link came or went),
 * so that the port mapping, the addresses given to the rendezvous and the paths follow. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "netwatch.h"

/*
 * A route netlink socket subscribed to address and link changes. The messages are only a
 * wake-up: nothing in them is read, so a burst (a DHCP renewal, a Wi-Fi roam) becomes one
 * callback NETWATCH_SETTLE_MS after the last of it.
 */
enum { NETWATCH_SETTLE_MS = 1000 };

struct netwatch {
	struct loop *loop;
	int fd;
	netwatch_cb cb;
	void *arg;
	struct timer t;
};

static void settled(struct loop *l, void *arg)
{
	struct netwatch *w = arg;
	(void)l;
	log_info("the network changed");
	w->cb(w->arg);
}

static void readable(struct loop *l, int fd, short revents, void *arg)
{
	struct netwatch *w = arg;
	char buf[8192];
	int any = 0;
	(void)revents;
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
		any = 1;	/* ENOBUFS: we missed some; a change all the same */
	if (any)
		timer_in(l, &w->t, NETWATCH_SETTLE_MS);
}

struct netwatch *netwatch_new(struct loop *l, netwatch_cb cb, void *arg)
{
	struct netwatch *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->loop = l;
	w->cb = cb;
	w->arg = arg;
	timer_init(&w->t, settled, w);
	w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };
	if (w->fd < 0 || bind(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    loop_add(l, w->fd, POLLIN, readable, w) < 0) {
		log_info("network changes will not be noticed: netlink: %s", strerror(errno));
		if (w->fd >= 0)
			close(w->fd);
		free(w);
		return NULL;
	}
	return w;
}

void netwatch_free(struct netwatch *w)
{
	if (!w)
		return;
	timer_stop(w->loop, &w->t);
	loop_del(w->loop, w->fd);
	close(w->fd);
	free(w);
}
