/* rdvtest_core.h: an in-process rdvd core and the Noise + rel test clients that talk to it. */
#ifndef RDVTEST_CORE_H
#define RDVTEST_CORE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "accounts.h"
#include "crypto.h"
#include "noise.h"
#include "rdvd.h"
#include "rdvmsg.h"
#include "rel.h"

enum { RTC_INBOX = 4096, RTC_MAXCLI = 64 };

struct rtc_cli;

struct rtc_core {
	struct identity server_id;
	struct acct_db *db;
	struct rdvd *srv;
	uint64_t now;		/* ms, what the tests pass to the core */
	int rounds;		/* rtc_run: at most this many rounds */
	struct rtc_cli *cli[RTC_MAXCLI];	/* every client, in order of rtc_cli_init */
	int ncli;
};

struct rtc_pkt {
	uint8_t *b;
	size_t n;
};

/* One client; the test's own client struct holds it and is the rel callbacks' arg. */
struct rtc_cli {
	struct rtc_core *core;
	struct identity id;
	struct sockaddr_in addr;
	uint32_t src;			/* 0: UDP socket 0; else a TCP source */
	struct noise_hs *hs;
	struct noise_keypair *kp;
	uint8_t cookie[16];
	int have_cookie;
	int mute;			/* neither reads nor sends: rtc_run leaves it alone */
	int resend;		/* answer a COOKIE; a new session queues again what was not answered */
	struct rel rel;
	const struct rel_ops *ops;
	void *arg;
	uint32_t next_req;
	struct rtc_pkt inbox[RTC_INBOX];	/* what the server sent, not yet handled */
	size_t ninbox;
};

/* sodium, no logging, server identity from seed byte, accounts in memory, conf defaulted. */
int rtc_open(struct rtc_core *core, int seed, int no_sync, struct rdvd_conf *conf);
/* Free the core. */
void rtc_end(struct rtc_core *core);
void rtc_cli_init(struct rtc_cli *n, struct rtc_core *core, int seed, uint16_t port, uint32_t ip,
    const struct rel_ops *ops, void *arg);
void rtc_cli_free(struct rtc_cli *n);
void rtc_to_server(struct rtc_cli *n, const uint8_t *pkt, size_t len);
/* rel emit callback: encrypts for the server; arg is the rtc_cli. */
void rtc_emit(void *arg, const uint8_t *pkt, size_t len);
void rtc_send_init(struct rtc_cli *n);
/* One packet from the server: RESP (new session), COOKIE (with resend), DATA into rel. */
void rtc_packet(struct rtc_cli *n, const uint8_t *p, size_t len);
void rtc_flush(struct rtc_cli *n);
/* Keep a copy of a packet the server sent (the caller checks its own cap); -1 when full. */
int rtc_keep(struct rtc_cli *n, const uint8_t *pkt, size_t len);
/* Handle and free the inbox, then send what rel has due; the number of packets handled. */
size_t rtc_process(struct rtc_cli *n);
/* m becomes an RDV_ALLOW of pk with mode. */
void rtc_allow_msg(struct rdv_msg *m, const uint8_t pk[32], int mode);
/* Encode m, queue it and send; the encoded length (0: did not encode). */
size_t rtc_queue(struct rtc_cli *n, const struct rdv_msg *m);
/* Run server and clients until nothing moves (or core->rounds rounds). */
void rtc_run(struct rtc_core *core);
/* ms in ticks of 500, rtc_run after each. */
void rtc_advance(struct rtc_core *core, uint64_t ms);
/* A handshake (a new session), then rtc_run. */
void rtc_connect(struct rtc_cli *n);

#endif
