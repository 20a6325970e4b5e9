/* test_relay_net.c: the real tincand relays between a UDP client and a TCP client on loopback. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "crypto.h"
#include "noise.h"
#include "rdvd.h"
#include "rdvmsg.h"
#include "rel.h"
#include "rdvtest_net.h"
#include "util.h"

static const char *exe;
static char dir[] = "/tmp/test_relay_net.XXXXXX";
static int port;
static uint8_t server_pk[32];

static int setup(struct rtn_client *c, const char *name, const struct rtn_client *other)
{
	struct rdv_msg m;
	memset(&m, 0, sizeof(m));
	m.type = RDV_REGISTER;
	str_copy(m.name, name, sizeof(m.name));
	if (rtn_req(c, &m) != RDV_OK)
		return -1;
	memset(&m, 0, sizeof(m));
	m.type = RDV_LOGIN;
	m.status = RDV_ONLINE;
	if (rtn_req(c, &m) != RDV_OK)
		return -1;
	memset(&m, 0, sizeof(m));
	m.type = RDV_ALLOW;
	m.mode = RDV_ALLOW_ALLOW;
	memcpy(m.pk, other->id.pk, 32);
	return rtn_req(c, &m) == RDV_OK ? 0 : -1;
}

static void c_relay(struct rtn_client *c, const struct rtn_client *to, const uint8_t *p, size_t n)
{
	uint8_t body[32 + RDVD_RELAY_MAX], pt[sizeof(body) + 8];
	memcpy(body, to->id.pk, 32);
	memcpy(body + 32, p, n);
	size_t k = frame_put(pt, sizeof(pt), 0, FR_RELAY, body, 32 + n);
	rtn_emit(c, pt, k);
}

static size_t want_count;
static int counted(const struct rtn_client *c)
{
	return c->count >= want_count;
}

/* c relays n bytes to `to`, which must get them, from c, within 2 s. */
static int relay_ok(struct rtn_client *c, struct rtn_client *to, const uint8_t *p, size_t n)
{
	want_count = to->count + 1;
	c_relay(c, to, p, n);
	rtn_pump(to, 2000, counted);
	return to->count == want_count && to->ngot == n && !memcmp(to->got, p, n) &&
	    !memcmp(to->from, c->id.pk, 32);
}

static pid_t start(const char *conf)
{
	char listen[64];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	pid_t pid = fork();
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		execl(exe, exe, "-d", "-s", dir, "-f", conf, "-l", listen, (char *)NULL);
		_exit(127);
	}
	/* ready when a TCP connection is accepted */
	for (int i = 0; i < 100; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return pid;
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static int status_of(const char *conf)
{
	int st;
	pid_t pid = fork();
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		execl(exe, exe, "-n", "-f", conf, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	char conf[128];
	int bad;
	struct rtn_client a, b;
	uint8_t pkt[RDVD_RELAY_MAX];
	if (!(exe = rtn_begin(argc, argv, dir)))
		return 1;
	CHECK(rtn_init_key(exe, dir, server_pk, &bad) == 0);
	CHECK(bad == 0);
	/* the relay keys: a burst below one packet is refused */
	snprintf(conf, sizeof(conf), "%s/tincand.conf", dir);
	write_file(conf, "relay-burst 100\n");
	CHECK(status_of(conf) == 78);
	write_file(conf, "relay-rate 0\nrelay-burst 0\nrelay-packet-rate 0\nrelay-packet-burst 0\n"
	    "relay-daily-bytes 0\n");
	CHECK(status_of(conf) == 0);
	write_file(conf, "relay-rate 1000000\nrelay-burst 4000\nrelay-packet-rate 100\n"
	    "relay-packet-burst 5\nrelay-daily-bytes 1099511627776\n");
	CHECK(status_of(conf) == 0);

	/* a UDP client and a TCP client, allowed both ways */
	port = rtn_free_port();
	pid_t pid = start(conf);
	CHECK(pid > 0);
	if (pid <= 0)
		return 1;
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 13 + 1);
	CHECK(rtn_open(&a, port, server_pk, 0, 1) == 0);
	CHECK(rtn_open(&b, port, server_pk, 1, 2) == 0);
	CHECK(setup(&a, "alice", &b) == 0);
	CHECK(setup(&b, "bob", &a) == 0);
	/* UDP -> TCP and TCP -> UDP, the largest packet and a small one */
	CHECK(relay_ok(&a, &b, pkt, sizeof(pkt)));
	CHECK(relay_ok(&b, &a, pkt, sizeof(pkt)));
	CHECK(relay_ok(&a, &b, pkt + 5, 92));
	CHECK(relay_ok(&b, &a, pkt + 9, 148));
	/* 5 packets of burst, then 100 a second: a burst of 20 passes 5 or a few more, not 20 */
	rtn_pump(&a, 100, NULL);	/* the packet bucket fills up again */
	size_t b0 = b.count;
	for (int i = 0; i < 20; i++)
		c_relay(&a, &b, pkt, 100);
	rtn_pump(&b, 500, NULL);
	CHECK(b.count - b0 >= 5 && b.count - b0 < 20);
	/* too long: dropped, the session goes on */
	b0 = b.count;
	uint8_t big[RDVD_RELAY_MAX + 1];
	memset(big, 1, sizeof(big));
	uint8_t body[32 + sizeof(big)], pt[sizeof(body) + 8];
	memcpy(body, b.id.pk, 32);
	memcpy(body + 32, big, sizeof(big));
	rtn_emit(&a, pt, frame_put(pt, sizeof(pt), 0, FR_RELAY, body, sizeof(body)));
	rtn_pump(&b, 300, NULL);
	CHECK(b.count == b0);
	CHECK(relay_ok(&a, &b, pkt, 10));
	rtn_close(&a);
	rtn_close(&b);
	kill(pid, SIGTERM);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	rtn_end(dir);
	return check_end("test_relay_net");
}
