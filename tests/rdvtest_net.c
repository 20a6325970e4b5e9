/* rdvtest_net.c: the real-daemon test client shared by test_tincand and test_relay_net. */
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto.h"
#include "rdvtest_net.h"
#include "util.h"

void rtn_send(struct rtn_client *c, const uint8_t *p, size_t n)
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

ssize_t rtn_recv(struct rtn_client *c, uint8_t *p, size_t cap, int ms)
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

void rtn_emit(void *arg, const uint8_t *p, size_t n)
{
	struct rtn_client *c = arg;
	uint8_t ct[8192];
	int k = noise_encrypt(&c->kp, p, n, ct, sizeof(ct));
	if (k > 0)
		rtn_send(c, ct, (size_t)k);
}

static void c_deliver(void *arg, uint64_t seq, uint64_t ts, const char *text, size_t len)
{
	struct rtn_client *c = arg;
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
	struct rtn_client *c = arg;
	if (type != FR_RELAY || len <= 32 || len > 32 + RDVD_RELAY_MAX)
		return;
	memcpy(c->from, body, 32);
	memcpy(c->got, body + 32, len - 32);
	c->ngot = len - 32;
	c->count++;
}

static const struct rel_ops c_ops = { .deliver = c_deliver, .frame = c_frame };

int rtn_open(struct rtn_client *c, int port, const uint8_t server_pk[32], int tcp, int seed)
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
		rtn_send(c, init, sizeof(init));
		ssize_t k = rtn_recv(c, p, sizeof(p), 1000);
		if (k > 0 && noise_resp_consume(hs, p, (size_t)k, &c->kp) == 0)
			ok = 0;
	}
	noise_hs_free(hs);
	rel_init(&c->rel, &c_ops, c);
	return ok;
}

void rtn_close(struct rtn_client *c)
{
	rel_free(&c->rel);
	identity_free(&c->id);
	close(c->fd);
}

void rtn_pump(struct rtn_client *c, int ms, int (*until)(const struct rtn_client *))
{
	uint8_t p[8192], pt[8192];
	uint64_t end = mono_ms() + (uint64_t)ms;
	while (mono_ms() < end && !(until && until(c))) {
		rel_poll(&c->rel, mono_us(), 8, rtn_emit, c);
		ssize_t k = rtn_recv(c, p, sizeof(p), 20);
		int q = k > 0 ? noise_decrypt(&c->kp, p, (size_t)k, pt, sizeof(pt)) : -1;
		if (q >= 0) {
			rel_input(&c->rel, pt, (size_t)q, mono_us());
			rel_synced(&c->rel, c->rel.rx_stored);
		}
	}
	rel_poll(&c->rel, mono_us(), 8, rtn_emit, c);
}

static uint32_t want_req;
static int answered(const struct rtn_client *c)
{
	return c->have && c->result.req == want_req;
}

int rtn_req(struct rtn_client *c, struct rdv_msg *m)
{
	uint8_t b[RDV_MSG_MAX];
	m->req = want_req = ++c->next_req;
	size_t n = rdv_encode(m, b, sizeof(b));
	rel_queue(&c->rel, rel_next_seq(&c->rel), 0, (const char *)b, n);
	c->have = 0;
	rtn_pump(c, 5000, answered);
	return answered(c) ? c->result.code : -1;
}

int rtn_free_port(void)
{
	for (int tries = 0; tries < 20; tries++) {
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t al = sizeof(a);
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		bind(u, (struct sockaddr *)&a, sizeof(a));
		getsockname(u, (struct sockaddr *)&a, &al);
		int ok = bind(t, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(u);
		close(t);
		if (ok)
			return ntohs(a.sin_port);
	}
	return -1;
}

int rtn_init_key(const char *exe, const char *dir, uint8_t pk[32], int *bad)
{
	char cmd[512], line[256];
	snprintf(cmd, sizeof(cmd), "%s -s %s -f /dev/null --init", exe, dir);
	FILE *f = popen(cmd, "r");
	*bad = 0;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "id ", 3)) {
			line[strcspn(line, "\n")] = '\0';
			*bad += id_decode(line + 3, pk) != 0;
		}
	return f && pclose(f) == 0 ? 0 : -1;
}

void rtn_end(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

const char *rtn_begin(int argc, char **argv, char *dir)
{
	if (argc != 2 || sodium_init() < 0 || !mkdtemp(dir))
		return NULL;
	signal(SIGPIPE, SIG_IGN);
	return argv[1];
}
