/* test_tincand.c: the real daemon on loopback: STUN, UDP and TCP sessions, SIGKILL, exit codes. */
#include <arpa/inet.h>
#include <errno.h>
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
#include "rdvmsg.h"
#include "rel.h"
#include "stun.h"
#include "util.h"

static int fails, checks;
#define CHECK(c) do { checks++; if (!(c)) { fails++; \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); } } while (0)

static const char *exe;
static char dir[] = "/tmp/test_tincand.XXXXXX";
static char listen_arg[64];
static int port;
static uint8_t server_pk[32];

/* --- a small client over a real socket --- */

struct client {
	int fd, tcp;
	struct identity id;
	struct noise_keypair kp;
	struct rel rel;
	uint32_t next_req;
	struct rdv_msg result;
	int have;
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

static ssize_t c_recv(struct client *c, uint8_t *p, size_t cap, int ms)
{
	struct pollfd pf = { c->fd, POLLIN, 0 };
	if (poll(&pf, 1, ms) <= 0)
		return -1;
	if (!c->tcp)
		return recv(c->fd, p, cap, 0);
	uint8_t h[2];
	if (read(c->fd, h, 2) != 2)
		return -1;
	size_t n = get_u16(h), got = 0;
	if (n > cap)
		return -1;
	while (got < n) {
		ssize_t k = read(c->fd, p + got, n - got);
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return (ssize_t)n;
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

static const struct rel_ops c_ops = { .deliver = c_deliver };

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

/* One request, its RESULT code (or -1 after 5 s). */
static int c_req(struct client *c, uint8_t type, const char *name)
{
	struct rdv_msg m;
	uint8_t b[RDV_MSG_MAX], p[8192], pt[8192];
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.req = ++c->next_req;
	m.status = type == RDV_LOGIN ? RDV_ONLINE : 0;
	if (name)
		str_copy(m.name, name, sizeof(m.name));
	size_t n = rdv_encode(&m, b, sizeof(b));
	rel_queue(&c->rel, rel_next_seq(&c->rel), 0, (const char *)b, n);
	c->have = 0;
	for (int i = 0; i < 50 && !(c->have && c->result.req == m.req); i++) {
		rel_poll(&c->rel, mono_us(), 8, c_emit, c);
		ssize_t k = c_recv(c, p, sizeof(p), 100);
		int q = k > 0 ? noise_decrypt(&c->kp, p, (size_t)k, pt, sizeof(pt)) : -1;
		if (q >= 0) {
			rel_input(&c->rel, pt, (size_t)q, mono_us());
			rel_synced(&c->rel, c->rel.rx_stored);
		}
	}
	rel_poll(&c->rel, mono_us(), 8, c_emit, c);
	return c->have && c->result.req == m.req ? c->result.code : -1;
}

/* --- the daemon --- */

static pid_t start(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execl(exe, exe, "-d", "-s", dir, "-f", "/dev/null", "-l", listen_arg, (char *)NULL);
		_exit(127);
	}
	/* ready when it answers STUN */
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	connect(fd, (struct sockaddr *)&a, sizeof(a));
	for (int i = 0; i < 100; i++) {
		uint8_t txid[12], rq[20], ans[64];
		struct sockaddr_storage mapped;
		struct pollfd pf = { fd, POLLIN, 0 };
		stun_request(txid, rq);
		send(fd, rq, sizeof(rq), 0);
		if (poll(&pf, 1, 100) > 0) {
			ssize_t k = recv(fd, ans, sizeof(ans), 0);
			if (k > 0 && stun_parse_response(ans, (size_t)k, txid, &mapped) == 0) {
				struct sockaddr_in me;
				socklen_t ml = sizeof(me);
				getsockname(fd, (struct sockaddr *)&me, &ml);
				CHECK(k == 32 && ((struct sockaddr_in *)&mapped)->sin_port == me.sin_port);
				close(fd);
				return pid;
			}
		}
		struct timespec ts = { 0, 50000000 };	/* not listening yet (ICMP refused) */
		nanosleep(&ts, NULL);
	}
	close(fd);
	kill(pid, SIGKILL);	/* never leave a daemon behind */
	waitpid(pid, NULL, 0);
	return -1;
}

static int wait_exit(pid_t pid)
{
	int st;
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static int run_status(const char *a1, const char *a2, const char *a3, const char *a4)
{
	pid_t pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execl(exe, exe, a1, a2, a3, a4, (char *)NULL);
		_exit(127);
	}
	return wait_exit(pid);
}

static int free_port(void)
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

int main(int argc, char **argv)
{
	char cmd[512], line[256];
	struct client a, b, c;
	if (argc != 2 || sodium_init() < 0 || !mkdtemp(dir))
		return 1;
	exe = argv[1];
	signal(SIGPIPE, SIG_IGN);
	/* --init prints the key; a bad configuration is exit status 78 */
	snprintf(cmd, sizeof(cmd), "%s -s %s -f /dev/null --init", exe, dir);
	FILE *f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "id ", 3)) {
			line[strcspn(line, "\n")] = '\0';
			CHECK(id_decode(line + 3, server_pk) == 0);
		}
	CHECK(f && pclose(f) == 0);
	snprintf(cmd, sizeof(cmd), "%s/bad.conf", dir);
	f = fopen(cmd, "w");
	fputs("no-such-setting 1\n", f);
	fclose(f);
	CHECK(run_status("-n", "-f", cmd, NULL) == 78);
	CHECK(run_status("-n", "-f", "/dev/null", NULL) == 0);
	CHECK(run_status("-x", NULL, NULL, NULL) == 64);

	port = free_port();
	snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", port);
	pid_t pid = start();
	CHECK(pid > 0);
	if (pid <= 0)
		return 1;
	CHECK(c_open(&a, 0, 1) == 0);
	CHECK(c_req(&a, RDV_REGISTER, "Alice") == RDV_OK);
	CHECK(c_open(&b, 1, 2) == 0);	/* over TCP */
	CHECK(c_req(&b, RDV_REGISTER, "bob") == RDV_OK);
	CHECK(c_req(&b, RDV_LOOKUP, "ALICE") == RDV_OK && !memcmp(b.result.pk, a.id.pk, 32));
	CHECK(c_req(&b, RDV_LOGIN, NULL) == RDV_OK);
	c_close(&a);
	c_close(&b);

	/* SIGKILL: what was answered is still there */
	kill(pid, SIGKILL);
	CHECK(wait_exit(pid) == 128 + SIGKILL);
	pid = start();
	CHECK(pid > 0);
	if (pid <= 0)
		return 1;
	CHECK(c_open(&c, 0, 3) == 0);
	CHECK(c_req(&c, RDV_LOOKUP, "bob") == RDV_OK);
	CHECK(c_req(&c, RDV_REGISTER, "alice") == RDV_TAKEN);
	CHECK(c_req(&c, RDV_LOGIN, NULL) == RDV_NOTREG);
	c_close(&c);
	/* a second daemon on the same state is refused (73) */
	char other[64];
	snprintf(other, sizeof(other), "-l127.0.0.1:%d", free_port());
	CHECK(run_status("-d", "-s", dir, other) == 73);
	kill(pid, SIGTERM);
	CHECK(wait_exit(pid) == 0);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	if (fails) {
		fprintf(stderr, "test_tincand: %d of %d checks failed\n", fails, checks);
		return 1;
	}
	printf("test_tincand: %d checks passed\n", checks);
	return 0;
}
