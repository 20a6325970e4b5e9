/* test_relay_net.c: the real tincand relays between a UDP client and a TCP client on loopback. */
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "noise.h"
#include "rdvd.h"
#include "rdvmsg.h"
#include "rel.h"
#include "util.h"

static int fails, checks;
#define CHECK(c) do { checks++; if (!(c)) { fails++; \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); } } while (0)

static const char *exe;
static char dir[] = "/tmp/test_relay_net.XXXXXX";
static int port;
static uint8_t server_pk[32];

struct client {
	int fd, tcp;
	struct identity id;
	struct noise_keypair kp;
	struct rel rel;
	uint32_t next_req;
	struct rdv_msg result;
	int have;
	uint8_t from[32];		/* the last relayed packet */
	uint8_t got[RDVD_RELAY_MAX];
	size_t ngot, count;
};

static void c_send(struct client *c, const uint8_t *p, size_t n)
{
	uint8_t b[8192];
	if (c->tcp) {
		put_u16(b, (uint16_t)n);
		memcpy(b + 2, p, n);
		if (write(c->fd, b, n + 2) != (ssize_t)(n + 2))
			perror("write");
	} else if (send(c->fd, p, n, 0) < 0) {
		perror("send");
	}
}

static int read_full(int fd, uint8_t *p, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t k = read(fd, p + got, n - got);
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

static ssize_t c_recv(struct client *c, uint8_t *p, size_t cap, int ms)
{
	struct pollfd pf = { c->fd, POLLIN, 0 };
	uint8_t h[2];
	if (poll(&pf, 1, ms) <= 0)
		return -1;
	if (!c->tcp)
		return recv(c->fd, p, cap, 0);
	if (read_full(c->fd, h, 2) < 0 || get_u16(h) > cap || read_full(c->fd, p, get_u16(h)) < 0)
		return -1;
	return get_u16(h);
}

static void c_emit(void *arg, const uint8_t *p, size_t n)
{
	struct client *c = arg;
	uint8_t ct[8192];
	int k = noise_encrypt(&c->kp, p, n, ct, sizeof(ct));
	if (k > 0)
		c_send(c, ct, (size_t)k);
}

static void c_deliver(void *arg, uint64_t seq, uint64_t ts, const char *text, size_t len)
{
	struct client *c = arg;
	struct rdv_msg m;
	(void)seq;
	(void)ts;
	if (rdv_decode((const uint8_t *)text, len, &m) == 0 && m.type == RDV_RESULT) {
		c->result = m;
		c->have = 1;
	}
}

static void c_frame(void *arg, int type, const uint8_t *body, size_t len)
{
	struct client *c = arg;
	if (type != FR_RELAY || len <= 32 || len > 32 + RDVD_RELAY_MAX)
		return;
	memcpy(c->from, body, 32);
	memcpy(c->got, body + 32, len - 32);
	c->ngot = len - 32;
	c->count++;
}

static const struct rel_ops c_ops = { .deliver = c_deliver, .frame = c_frame };

static int c_open(struct client *c, int tcp, int seed)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint8_t s[32], init[NOISE_INIT_LEN], p[8192];
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	memset(c, 0, sizeof(*c));
	c->tcp = tcp;
	c->fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	memset(s, seed, sizeof(s));
	identity_from_seed(s, &c->id);
	struct noise_hs *hs = noise_hs_new();
	int ok = -1;
	for (int tries = 0; tries < 5 && ok < 0; tries++) {
		noise_init_create(hs, &c->id, server_pk, 100 + (uint32_t)tries, NULL, init);
		c_send(c, init, sizeof(init));
		ssize_t k = c_recv(c, p, sizeof(p), 1000);
		if (k > 0 && noise_resp_consume(hs, p, (size_t)k, &c->kp) == 0)
			ok = 0;
	}
	noise_hs_free(hs);
	rel_init(&c->rel, &c_ops, c);
	return ok;
}

static void c_close(struct client *c)
{
	rel_free(&c->rel);
	identity_free(&c->id);
	close(c->fd);
}

/* Read what arrives for up to ms (stops early once until() is true). */
static void c_pump(struct client *c, int ms, int (*until)(const struct client *))
{
	uint8_t p[8192], pt[8192];
	uint64_t end = mono_ms() + (uint64_t)ms;
	while (mono_ms() < end && !(until && until(c))) {
		rel_poll(&c->rel, mono_us(), 8, c_emit, c);
		ssize_t k = c_recv(c, p, sizeof(p), 20);
		int q = k > 0 ? noise_decrypt(&c->kp, p, (size_t)k, pt, sizeof(pt)) : -1;
		if (q >= 0) {
			rel_input(&c->rel, pt, (size_t)q, mono_us());
			rel_synced(&c->rel, c->rel.rx_stored);
		}
	}
	rel_poll(&c->rel, mono_us(), 8, c_emit, c);
}

static uint32_t want_req;
static int answered(const struct client *c)
{
	return c->have && c->result.req == want_req;
}

/* One request; its RESULT code, or -1 after 5 s. */
static int c_req(struct client *c, struct rdv_msg *m)
{
	uint8_t b[RDV_MSG_MAX];
	m->req = want_req = ++c->next_req;
	size_t n = rdv_encode(m, b, sizeof(b));
	rel_queue(&c->rel, rel_next_seq(&c->rel), 0, (const char *)b, n);
	c->have = 0;
	c_pump(c, 5000, answered);
	return answered(c) ? c->result.code : -1;
}

static int setup(struct client *c, const char *name, const struct client *other)
{
	struct rdv_msg m;
	memset(&m, 0, sizeof(m));
	m.type = RDV_REGISTER;
	str_copy(m.name, name, sizeof(m.name));
	if (c_req(c, &m) != RDV_OK)
		return -1;
	memset(&m, 0, sizeof(m));
	m.type = RDV_LOGIN;
	m.status = RDV_ONLINE;
	if (c_req(c, &m) != RDV_OK)
		return -1;
	memset(&m, 0, sizeof(m));
	m.type = RDV_ALLOW;
	m.mode = RDV_ALLOW_ALLOW;
	memcpy(m.pk, other->id.pk, 32);
	return c_req(c, &m) == RDV_OK ? 0 : -1;
}

static void c_relay(struct client *c, const struct client *to, const uint8_t *p, size_t n)
{
	uint8_t body[32 + RDVD_RELAY_MAX], pt[sizeof(body) + 8];
	memcpy(body, to->id.pk, 32);
	memcpy(body + 32, p, n);
	size_t k = frame_put(pt, sizeof(pt), 0, FR_RELAY, body, 32 + n);
	c_emit(c, pt, k);
}

static size_t want_count;
static int counted(const struct client *c)
{
	return c->count >= want_count;
}

/* c relays n bytes to `to`, which must get them, from c, within 2 s. */
static int relay_ok(struct client *c, struct client *to, const uint8_t *p, size_t n)
{
	want_count = to->count + 1;
	c_relay(c, to, p, n);
	c_pump(to, 2000, counted);
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
	char cmd[512], line[256], conf[128];
	struct client a, b;
	uint8_t pkt[RDVD_RELAY_MAX];
	if (argc != 2 || sodium_init() < 0 || !mkdtemp(dir))
		return 1;
	exe = argv[1];
	signal(SIGPIPE, SIG_IGN);
	snprintf(cmd, sizeof(cmd), "%s -s %s -f /dev/null --init", exe, dir);
	FILE *f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "id ", 3)) {
			line[strcspn(line, "\n")] = '\0';
			CHECK(id_decode(line + 3, server_pk) == 0);
		}
	CHECK(f && pclose(f) == 0);
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
	port = 0;
	for (int tries = 0; tries < 20 && !port; tries++) {
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t sl = sizeof(sa);
		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		bind(u, (struct sockaddr *)&sa, sizeof(sa));
		getsockname(u, (struct sockaddr *)&sa, &sl);
		if (bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			port = ntohs(sa.sin_port);
		close(u);
		close(t);
	}
	pid_t pid = start(conf);
	CHECK(pid > 0);
	if (pid <= 0)
		return 1;
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 13 + 1);
	CHECK(c_open(&a, 0, 1) == 0);
	CHECK(c_open(&b, 1, 2) == 0);
	CHECK(setup(&a, "alice", &b) == 0);
	CHECK(setup(&b, "bob", &a) == 0);
	/* UDP -> TCP and TCP -> UDP, the largest packet and a small one */
	CHECK(relay_ok(&a, &b, pkt, sizeof(pkt)));
	CHECK(relay_ok(&b, &a, pkt, sizeof(pkt)));
	CHECK(relay_ok(&a, &b, pkt + 5, 92));
	CHECK(relay_ok(&b, &a, pkt + 9, 148));
	/* 5 packets of burst, then 100 a second: a burst of 20 passes 5 or a few more, not 20 */
	c_pump(&a, 100, NULL);	/* the packet bucket fills up again */
	size_t b0 = b.count;
	for (int i = 0; i < 20; i++)
		c_relay(&a, &b, pkt, 100);
	c_pump(&b, 500, NULL);
	CHECK(b.count - b0 >= 5 && b.count - b0 < 20);
	/* too long: dropped, the session goes on */
	b0 = b.count;
	uint8_t big[RDVD_RELAY_MAX + 1];
	memset(big, 1, sizeof(big));
	uint8_t body[32 + sizeof(big)], pt[sizeof(body) + 8];
	memcpy(body, b.id.pk, 32);
	memcpy(body + 32, big, sizeof(big));
	c_emit(&a, pt, frame_put(pt, sizeof(pt), 0, FR_RELAY, body, sizeof(body)));
	c_pump(&b, 300, NULL);
	CHECK(b.count == b0);
	CHECK(relay_ok(&a, &b, pkt, 10));
	c_close(&a);
	c_close(&b);
	kill(pid, SIGTERM);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	if (fails) {
		fprintf(stderr, "test_relay_net: %d of %d checks failed\n", fails, checks);
		return 1;
	}
	printf("test_relay_net: %d checks passed\n", checks);
	return 0;
}
