/* rdvtest_core.c: the in-process rdvd driver shared by test_rdvd and test_relay. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "rdvtest_core.h"

int rtc_open(struct rtc_core *core, int seed, int no_sync, struct rdvd_conf *conf)
{
	struct acct_limits lim;
	char err[128];
	uint8_t s[32];
	if (sodium_init() < 0)
		return -1;
	log_set_file(-1);
	memset(s, seed, sizeof(s));
	identity_from_seed(s, &core->server_id);
	acct_limits_default(&lim);
	if (no_sync)
		lim.no_sync = 1;
	if (acct_open(&core->db, NULL, &lim, err, sizeof(err)) < 0)
		return -1;
	rdvd_conf_default(conf);
	conf->lim = lim;
	return 0;
}

void rtc_end(struct rtc_core *core)
{
	rdvd_free(core->srv);
	acct_close(core->db);
	identity_free(&core->server_id);
}

void rtc_cli_init(struct rtc_cli *n, struct rtc_core *core, int seed, uint16_t port, uint32_t ip,
    const struct rel_ops *ops, void *arg)
{
	uint8_t s[32];
	memset(n, 0, sizeof(*n));
	memset(s, seed, sizeof(s));
	n->core = core;
	if (core->ncli < RTC_MAXCLI)
		core->cli[core->ncli++] = n;
	identity_from_seed(s, &n->id);
	n->addr.sin_family = AF_INET;
	n->addr.sin_port = htons(port);
	n->addr.sin_addr.s_addr = htonl(ip);
	n->hs = noise_hs_new();
	n->kp = noise_kp_new();
	n->ops = ops;
	n->arg = arg;
	rel_init(&n->rel, ops, arg);
}

void rtc_cli_free(struct rtc_cli *n)
{
	for (size_t k = 0; k < n->ninbox; k++)
		free(n->inbox[k].b);
	n->ninbox = 0;
	rel_free(&n->rel);
	noise_hs_free(n->hs);
	noise_kp_free(n->kp);
	identity_free(&n->id);
}

void rtc_to_server(struct rtc_cli *n, const uint8_t *pkt, size_t len)
{
	rdvd_input(n->core->srv, n->src, (struct sockaddr *)&n->addr, sizeof(n->addr), pkt, len,
	    n->core->now);
}

void rtc_emit(void *arg, const uint8_t *pkt, size_t len)
{
	struct rtc_cli *n = arg;
	uint8_t out[REL_MAX_PKT + NOISE_DATA_OVERHEAD];
	int k = noise_encrypt(n->kp, pkt, len, out, sizeof(out));
	if (k > 0)
		rtc_to_server(n, out, (size_t)k);
}

void rtc_send_init(struct rtc_cli *n)
{
	uint8_t init[NOISE_INIT_LEN];
	noise_init_create(n->hs, &n->id, n->core->server_id.pk, 1 + randombytes_uniform(1u << 30),
	    n->have_cookie ? n->cookie : NULL, init);
	rtc_to_server(n, init, sizeof(init));
}

/* A new session: a fresh rel; with resend, requests not answered are sent again. */
static void new_session(struct rtc_cli *n)
{
	struct rel old = n->rel;
	rel_init(&n->rel, n->ops, n->arg);
	for (size_t k = 0; n->resend && k < old.cnt; k++) {
		struct rel_out *o = &old.q[(old.head + k) % old.cap];
		rel_queue(&n->rel, rel_next_seq(&n->rel), 0, o->text, o->len);
	}
	rel_free(&old);
	rel_ask_ack(&n->rel);
}

void rtc_packet(struct rtc_cli *n, const uint8_t *p, size_t len)
{
	uint8_t pt[NOISE_MAX_PACKET];
	int k;
	switch (noise_pkt_type(p, len)) {
	case NOISE_RESP:
		if (noise_resp_consume(n->hs, p, len, n->kp) == 0)
			new_session(n);
		break;
	case NOISE_COOKIE:
		if (n->resend && noise_cookie_consume(n->hs, p, len, n->cookie) == 0) {
			n->have_cookie = 1;
			rtc_send_init(n);
		}
		break;
	case NOISE_DATA:
		if ((k = noise_decrypt(n->kp, p, len, pt, sizeof(pt))) >= 0) {
			rel_input(&n->rel, pt, (size_t)k, n->core->now * 1000);
			rel_synced(&n->rel, n->rel.rx_stored);
		}
		break;
	default:
		break;
	}
}

void rtc_flush(struct rtc_cli *n)
{
	rel_poll(&n->rel, n->core->now * 1000, 64, rtc_emit, n);
}

int rtc_keep(struct rtc_cli *n, const uint8_t *pkt, size_t len)
{
	if (n->ninbox == RTC_INBOX)
		return -1;
	n->inbox[n->ninbox].b = malloc(len);
	memcpy(n->inbox[n->ninbox].b, pkt, len);
	n->inbox[n->ninbox++].n = len;
	return 0;
}

size_t rtc_process(struct rtc_cli *n)
{
	size_t count = n->ninbox;
	for (size_t i = 0; i < n->ninbox; i++) {
		rtc_packet(n, n->inbox[i].b, n->inbox[i].n);
		free(n->inbox[i].b);
	}
	n->ninbox = 0;
	rtc_flush(n);
	return count;
}

void rtc_allow_msg(struct rdv_msg *m, const uint8_t pk[32], int mode)
{
	memset(m, 0, sizeof(*m));
	m->type = RDV_ALLOW;
	memcpy(m->pk, pk, 32);
	m->mode = (uint8_t)mode;
}

size_t rtc_queue(struct rtc_cli *n, const struct rdv_msg *m)
{
	uint8_t buf[RDV_MSG_MAX];
	size_t len = rdv_encode(m, buf, sizeof(buf));
	rel_queue(&n->rel, rel_next_seq(&n->rel), 0, (const char *)buf, len);
	rtc_flush(n);
	return len;
}

void rtc_run(struct rtc_core *core)
{
	for (int round = 0; round < core->rounds; round++) {
		rdvd_flush(core->srv, core->now);
		size_t moved = 0;
		for (int i = 0; i < core->ncli; i++)
			if (!core->cli[i]->mute)
				moved += rtc_process(core->cli[i]);
		if (!moved)
			break;
	}
}

void rtc_advance(struct rtc_core *core, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += 500) {
		core->now += 500;
		rdvd_tick(core->srv, core->now);
		rtc_run(core);
	}
}

void rtc_connect(struct rtc_cli *n)
{
	rtc_send_init(n);
	rtc_run(n->core);
}
