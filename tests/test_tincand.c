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

#include "check.h"
#include "crypto.h"
#include "noise.h"
#include "rdvmsg.h"
#include "rel.h"
#include "rdvtest_net.h"
#include "stun.h"
#include "util.h"

static const char *exe;
static char dir[] = "/tmp/test_tincand.XXXXXX";
static char listen_arg[64];
static int port;
static uint8_t server_pk[32];

/* One request, its RESULT code (or -1 after 5 s). */
static int c_req(struct rtn_client *c, uint8_t type, const char *name)
{
	struct rdv_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.status = type == RDV_LOGIN ? RDV_ONLINE : 0;
	if (name)
		str_copy(m.name, name, sizeof(m.name));
	return rtn_req(c, &m);
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

int main(int argc, char **argv)
{
	char cmd[512];
	int bad;
	struct rtn_client a, b, c;
	if (!(exe = rtn_begin(argc, argv, dir)))
		return 1;
	/* --init prints the key; a bad configuration is exit status 78 */
	CHECK(rtn_init_key(exe, dir, server_pk, &bad) == 0);
	CHECK(bad == 0);
	snprintf(cmd, sizeof(cmd), "%s/bad.conf", dir);
	FILE *f = fopen(cmd, "w");
	fputs("no-such-setting 1\n", f);
	fclose(f);
	CHECK(run_status("-n", "-f", cmd, NULL) == 78);
	CHECK(run_status("-n", "-f", "/dev/null", NULL) == 0);
	CHECK(run_status("-x", NULL, NULL, NULL) == 64);

	port = rtn_free_port();
	snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", port);
	pid_t pid = start();
	CHECK(pid > 0);
	if (pid <= 0)
		return 1;
	CHECK(rtn_open(&a, port, server_pk, 0, 1) == 0);
	CHECK(c_req(&a, RDV_REGISTER, "Alice") == RDV_OK);
	CHECK(rtn_open(&b, port, server_pk, 1, 2) == 0);	/* over TCP */
	CHECK(c_req(&b, RDV_REGISTER, "bob") == RDV_OK);
	CHECK(c_req(&b, RDV_LOOKUP, "ALICE") == RDV_OK && !memcmp(b.result.pk, a.id.pk, 32));
	CHECK(c_req(&b, RDV_LOGIN, NULL) == RDV_OK);
	rtn_close(&a);
	rtn_close(&b);

	/* SIGKILL: what was answered is still there */
	kill(pid, SIGKILL);
	CHECK(wait_exit(pid) == 128 + SIGKILL);
	pid = start();
	CHECK(pid > 0);
	if (pid <= 0)
		return 1;
	CHECK(rtn_open(&c, port, server_pk, 0, 3) == 0);
	CHECK(c_req(&c, RDV_LOOKUP, "bob") == RDV_OK);
	CHECK(c_req(&c, RDV_REGISTER, "alice") == RDV_TAKEN);
	CHECK(c_req(&c, RDV_LOGIN, NULL) == RDV_NOTREG);
	rtn_close(&c);
	/* a second daemon on the same state is refused (73) */
	char other[64];
	snprintf(other, sizeof(other), "-l127.0.0.1:%d", rtn_free_port());
	CHECK(run_status("-d", "-s", dir, other) == 73);
	kill(pid, SIGTERM);
	CHECK(wait_exit(pid) == 0);

	rtn_end(dir);
	return check_end("test_tincand");
}
