/* udp_echo.c: raw UDP round-trip baseline for bench_delivery.py: echo server, timed client, pipe relay. */
/*
 *	udp_echo server PORT		echo every datagram on 127.0.0.1:PORT to its sender
 *	udp_echo client PORT N SIZE	N round trips of SIZE-byte datagrams; prints
 *					"p50 <us> p99 <us> min <us> n <N>"
 *	udp_echo relay PORT SIZE	for each line on stdin: one round trip of a SIZE-byte
 *					datagram, then the line echoed on stdout (the same
 *					pipe hops as a headless tincan, for a fair baseline)
 *
 * Blocking sockets, no threads: what a round trip costs with nothing else in the way.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum {
	ECHO_MAX_SIZE = 1400,		/* bytes per datagram, at most */
	ECHO_MAX_N = 10000000,		/* round trips per client run, at most */
	ECHO_LINE_MAX = 4096,		/* relay: longest stdin line */
};

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "udp_echo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long parse_num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "udp_echo: %s: want %ld..%ld, got '%s'\n", what, lo, hi, s);
		exit(2);
	}
	return v;
}

static struct sockaddr_in echo_addr(int port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Noreturn void echo_server(int port)
{
	struct sockaddr_in sa = echo_addr(port), from;
	socklen_t fromlen;
	uint8_t buf[65536];
	ssize_t n;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		fromlen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recvfrom");
		}
		if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fromlen) < 0 &&
		    errno != EINTR)
			die("sendto");
	}
}

/* A connected socket whose receive gives up after one second (a lost echo is an error). */
static int echo_connect(int port)
{
	struct sockaddr_in sa = echo_addr(port);
	struct timeval tv = { .tv_sec = 1, .tv_usec = 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die("SO_RCVTIMEO");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	return fd;
}

/* One round trip: send size bytes tagged with seq, wait for the datagram carrying seq. */
static void echo_round(int fd, uint8_t *buf, size_t size, uint32_t seq)
{
	uint8_t in[ECHO_MAX_SIZE];
	ssize_t n;

	memcpy(buf, &seq, sizeof(seq));
	if (send(fd, buf, size, 0) < 0)
		die("send");
	for (;;) {
		n = recv(fd, in, sizeof(in), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recv (no echo within 1 s)");
		}
		if ((size_t)n == size && memcmp(in, &seq, sizeof(seq)) == 0)
			return;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int echo_client(int port, long n, size_t size)
{
	uint8_t buf[ECHO_MAX_SIZE];
	uint64_t *rtt = calloc((size_t)n, sizeof(*rtt));
	uint64_t t0;
	int fd = echo_connect(port);
	long i;

	if (!rtt)
		die("calloc");
	memset(buf, 'x', sizeof(buf));
	for (i = 0; i < n / 10 + 10; i++)	/* warm up: caches, branch predictors, frequency */
		echo_round(fd, buf, size, (uint32_t)i);
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		echo_round(fd, buf, size, (uint32_t)(i + n));
		rtt[i] = now_ns() - t0;
	}
	qsort(rtt, (size_t)n, sizeof(*rtt), cmp_u64);
	printf("p50 %.1f p99 %.1f min %.1f n %ld\n", rtt[n / 2] / 1e3,
	       rtt[(size_t)n * 99 / 100] / 1e3, rtt[0] / 1e3, n);
	free(rtt);
	close(fd);
	return 0;
}

static int echo_relay(int port, size_t size)
{
	uint8_t buf[ECHO_MAX_SIZE];
	char line[ECHO_LINE_MAX];
	int fd = echo_connect(port);
	uint32_t seq = 0;

	memset(buf, 'x', sizeof(buf));
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		echo_round(fd, buf, size, seq++);
		fputs(line, stdout);	/* line buffered: one write(2) per round trip */
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "server") == 0)
		echo_server((int)parse_num(argv[2], 1, 65535, "port"));
	if (argc == 5 && strcmp(argv[1], "client") == 0)
		return echo_client((int)parse_num(argv[2], 1, 65535, "port"),
				   parse_num(argv[3], 1, ECHO_MAX_N, "count"),
				   (size_t)parse_num(argv[4], 4, ECHO_MAX_SIZE, "size"));
	if (argc == 4 && strcmp(argv[1], "relay") == 0)
		return echo_relay((int)parse_num(argv[2], 1, 65535, "port"),
				  (size_t)parse_num(argv[3], 4, ECHO_MAX_SIZE, "size"));
	fprintf(stderr, "usage: udp_echo server PORT | client PORT N SIZE | relay PORT SIZE\n");
	return 2;
}
