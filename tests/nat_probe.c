/* nat_probe.c: drives struct nat from a loop for test_nat.py; prints one event per line. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "nat.h"
#include "util.h"

/*
 * nat_probe [-e] [-l lease_s] port      map UDP port; -e: echo datagrams ("echo <text>");
 *                                       a line "refresh" on stdin calls nat_refresh
 * nat_probe --selftest                  check nat_ipv4_reserved against a table
 * Output: "mapped <upnp|natpmp> <ip>:<port> <why>", "lost <proto> <ip>:<port> <why>",
 * "failed <why>", "recv <ip>:<port> <text>"; at the end "freed <ms>" (time nat_free took) and
 * "stats ticks <n> maxgap <ms> uptime <ms>" from a 100 ms timer that shows the loop kept
 * running. Ends on SIGTERM, SIGINT or end of stdin.
 */
enum { TICK_MS = 100 };

struct probe {
	struct loop *l;
	int fd;
	int echo;
	struct nat *nat;
	struct timer tick;
	uint64_t start_ms, last_tick_ms, max_gap_ms, ticks;
};

static void on_event(void *arg, int event, const struct nat_mapping *m, const char *why)
{
	(void)arg;
	char ip[INET_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	if (m && m->external.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&m->external;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		port = ntohs(sin->sin_port);
	}
	const char *proto = m && m->proto_upnp ? "upnp" : "natpmp";
	if (event == NAT_MAPPED)
		printf("mapped %s %s:%u %s\n", proto, ip, port, why);
	else if (event == NAT_LOST)
		printf("lost %s %s:%u %s\n", proto, ip, port, why);
	else
		printf("failed %s\n", why);
}

static void on_tick(struct loop *l, void *arg)
{
	struct probe *p = arg;
	uint64_t now = mono_ms();
	if (now - p->last_tick_ms > p->max_gap_ms)
		p->max_gap_ms = now - p->last_tick_ms;
	p->last_tick_ms = now;
	p->ticks++;
	timer_in(l, &p->tick, TICK_MS);
}

static void on_udp(struct loop *l, int fd, short revents, void *arg)
{
	struct probe *p = arg;
	uint8_t buf[512];
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	(void)l;
	(void)revents;
	ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &flen);
	if (n < 0 || flen != sizeof(from) || from.sin_family != AF_INET)
		return;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			buf[i] = '.';
	buf[n] = '\0';
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &from.sin_addr, ip, sizeof(ip));
	printf("recv %s:%u %s\n", ip, ntohs(from.sin_port), (char *)buf);
	if (p->echo) {
		char out[600];
		int k = snprintf(out, sizeof(out), "echo %s", (char *)buf);
		if (k > 0 && sendto(fd, out, (size_t)k, 0, (struct sockaddr *)&from, flen) < 0)
			log_warn("echo: %s", strerror(errno));
	}
}

/* A line "refresh" calls nat_refresh; end of input stops. */
static void on_stdin(struct loop *l, int fd, short revents, void *arg)
{
	struct probe *p = arg;
	char buf[256];
	(void)revents;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0 && !(n < 0 && errno == EINTR)) {
		loop_del(l, fd);
		loop_stop(l, 0);
		return;
	}
	buf[n > 0 ? n : 0] = '\0';
	if (strstr(buf, "refresh") && p->nat)
		nat_refresh(p->nat);
}

static void on_signal(struct loop *l, void *arg)
{
	(void)arg;
	loop_stop(l, 0);
}

static int selftest(void)
{
	static const struct {
		const char *ip;
		int reserved;
	} cases[] = {
		{ "10.1.2.3", 1 }, { "172.16.0.1", 1 }, { "172.31.255.255", 1 },
		{ "172.32.0.1", 0 }, { "192.168.1.1", 1 }, { "100.64.0.1", 1 },
		{ "100.127.255.255", 1 }, { "100.128.0.1", 0 }, { "127.0.0.1", 1 },
		{ "169.254.1.1", 1 }, { "192.0.2.7", 1 }, { "198.51.100.1", 1 },
		{ "203.0.113.9", 1 }, { "198.18.0.1", 1 }, { "198.19.255.1", 1 },
		{ "198.20.0.1", 0 }, { "224.0.0.1", 1 }, { "255.255.255.255", 1 },
		{ "0.0.0.0", 1 }, { "45.45.0.1", 0 }, { "11.0.0.1", 0 }, { "8.8.8.8", 0 },
		{ "1.1.1.1", 0 }, { "192.169.0.1", 0 }, { "9.255.255.255", 0 },
	};
	int bad = 0;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct in_addr a;
		if (inet_pton(AF_INET, cases[i].ip, &a) != 1 ||
		    nat_ipv4_reserved(a.s_addr) != cases[i].reserved) {
			fprintf(stderr, "FAIL: nat_ipv4_reserved(%s) != %d\n", cases[i].ip,
			        cases[i].reserved);
			bad++;
		}
	}
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct probe p;
	uint32_t lease = 0;
	int port = 0;
	memset(&p, 0, sizeof(p));
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && strcmp(argv[1], "--selftest") == 0)
		return selftest();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-e") == 0)
			p.echo = 1;
		else if (strcmp(argv[i], "-l") == 0 && i + 1 < argc)
			lease = (uint32_t)strtoul(argv[++i], NULL, 10);
		else
			port = atoi(argv[i]);
	}
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: nat_probe [-e] [-l lease_s] port | --selftest\n");
		return 2;
	}
	log_init("nat_probe", 0, 2);
	p.l = loop_new();
	p.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (!p.l || p.fd < 0 || bind(p.fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(stderr, "nat_probe: socket: %s\n", strerror(errno));
		return 1;
	}
	loop_add(p.l, p.fd, POLLIN, on_udp, &p);
	loop_add(p.l, STDIN_FILENO, POLLIN, on_stdin, &p);
	loop_signal(p.l, SIGTERM, on_signal, &p);
	loop_signal(p.l, SIGINT, on_signal, &p);
	timer_init(&p.tick, on_tick, &p);
	p.start_ms = p.last_tick_ms = mono_ms();
	timer_in(p.l, &p.tick, TICK_MS);

	struct nat *n = nat_new(p.l, (uint16_t)port, on_event, &p);
	p.nat = n;
	if (!n) {
		printf("error nat_new\n");
		return 1;
	}
	if (lease)
		nat_set_lease(n, lease);
	printf("started %d\n", port);
	int rc = loop_run(p.l);
	uint64_t end = mono_ms();
	on_tick(p.l, &p);	/* a gap up to the very end counts too */
	nat_free(n);
	printf("freed %llu\n", (unsigned long long)(mono_ms() - end));
	printf("stats ticks %llu maxgap %llu uptime %llu\n", (unsigned long long)p.ticks,
	       (unsigned long long)p.max_gap_ms, (unsigned long long)(end - p.start_ms));
	timer_stop(p.l, &p.tick);
	close(p.fd);
	loop_free(p.l);
	return rc < 0 ? 1 : 0;
}
