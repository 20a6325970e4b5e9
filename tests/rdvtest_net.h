/* rdvtest_net.h: a Noise + rel test client of the real tincand, over UDP or TCP on loopback. */
#ifndef RDVTEST_NET_H
#define RDVTEST_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto.h"
#include "noise.h"
#include "rdvd.h"
#include "rdvmsg.h"
#include "rel.h"

struct rtn_client {
	int fd, tcp;
	struct identity id;
	struct noise_keypair kp;
	struct rel rel;
	uint32_t next_req;
	struct rdv_msg result;	/* the last RESULT */
	int have;
	uint8_t from[32];		/* the last relayed packet */
	uint8_t got[RDVD_RELAY_MAX];
	size_t ngot, count;
};

/* Connect to 127.0.0.1:port and finish the handshake (5 tries); 0 or -1. */
int rtn_open(struct rtn_client *c, int port, const uint8_t server_pk[32], int tcp, int seed);
void rtn_close(struct rtn_client *c);
void rtn_send(struct rtn_client *c, const uint8_t *p, size_t n);
ssize_t rtn_recv(struct rtn_client *c, uint8_t *p, size_t cap, int ms);
/* rel emit callback: encrypts and sends; arg is the client. */
void rtn_emit(void *arg, const uint8_t *p, size_t n);
/* Read what arrives for up to ms (stops early once until() is true). */
void rtn_pump(struct rtn_client *c, int ms, int (*until)(const struct rtn_client *));
/* One request; its RESULT code, or -1 after 5 s. */
int rtn_req(struct rtn_client *c, struct rdv_msg *m);
/* The common start of a daemon test `test <tincand>`: sodium_init, mkdtemp(dir), SIGPIPE
 * ignored; the daemon's path, or NULL. */
const char *rtn_begin(int argc, char **argv, char *dir);
/* Run `exe -s dir -f /dev/null --init` and decode the "id " line it prints into pk;
 * *bad counts the id lines that did not decode. 0 when it ran and exited 0, else -1. */
int rtn_init_key(const char *exe, const char *dir, uint8_t pk[32], int *bad);
/* rm -rf dir (saying so on stderr when that fails). */
void rtn_end(const char *dir);
/* A loopback port free for both UDP and TCP, or -1. */
int rtn_free_port(void);

#endif
