/* test_rdvd.c: the rendezvous server core driven by test clients (Noise initiators + rel). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "noise.h"
#include "rdvd.h"
#include "rdvtest_core.h"
#include "rel.h"
#include "stun.h"
#include "util.h"

enum { MAXCLI = 8, INBOX = 4096, MAXMSG = 4096 };

struct cli {
	struct rtc_cli n;	/* first: the rel callbacks' arg is the cli */
	const char *label;
	uint8_t *msg[MAXMSG];	/* every message received, in order */
	size_t mlen[MAXMSG], nmsg;
	size_t raw_count, raw_max;	/* every packet the server sent here */
};

static struct cli clis[MAXCLI];
static int ncli;
static struct rtc_core core = { .rounds = 100, .now = 1000000 };
static size_t stray;	/* packets to addresses of no client */

static struct cli *cli_at(const struct sockaddr *sa)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
	for (int i = 0; i < ncli; i++)
		if (clis[i].n.addr.sin_addr.s_addr == in->sin_addr.s_addr &&
		    clis[i].n.addr.sin_port == in->sin_port)
			return &clis[i];
	return NULL;
}

static void srv_send(void *arg, uint32_t src, const struct sockaddr *sa, socklen_t salen,
    const uint8_t *pkt, size_t len)
{
	struct cli *c = cli_at(sa);
	(void)arg;
	(void)src;
	(void)salen;
	if (!c || c->n.ninbox == INBOX) {
		stray++;
		return;
	}
	c->raw_count++;
	if (len > c->raw_max)
		c->raw_max = len;
	rtc_keep(&c->n, pkt, len);
}

static void cli_deliver(void *arg, uint64_t seq, uint64_t ts, const char *text, size_t len)
{
	struct cli *c = arg;
	(void)seq;
	(void)ts;
	if (c->nmsg < MAXMSG) {
		c->msg[c->nmsg] = malloc(len);
		memcpy(c->msg[c->nmsg], text, len);
		c->mlen[c->nmsg++] = len;
	}
}

static const struct rel_ops cli_ops = { .deliver = cli_deliver };

static struct cli *cli_new(const char *label, int seed)
{
	struct cli *c = &clis[ncli++];
	memset(c, 0, sizeof(*c));
	c->label = label;
	rtc_cli_init(&c->n, &core, seed, (uint16_t)(40000 + seed), 0x0a000000u + (uint32_t)seed,
	    &cli_ops, c);
	c->n.resend = 1;
	return c;
}

static void cli_free(struct cli *c)
{
	for (size_t k = 0; k < c->nmsg; k++)
		free(c->msg[k]);
	rtc_cli_free(&c->n);
}

static void cli_send(struct cli *c, const struct rdv_msg *m)
{
	CHECK(rtc_queue(&c->n, m) > 0);
	rtc_run(&core);
}

static struct rdv_msg got;	/* the last message found by the helpers below */

/* Send a request and return its RESULT code (-1 if none came). */
static int req(struct cli *c, struct rdv_msg *m)
{
	m->req = ++c->n.next_req;
	size_t from = c->nmsg;
	cli_send(c, m);
	int code = -1, count = 0;
	for (size_t i = from; i < c->nmsg; i++)
		if (rdv_decode(c->msg[i], c->mlen[i], &got) == 0 && got.type == RDV_RESULT &&
		    got.req == m->req) {
			code = got.code;
			count++;
		}
	if (count > 1)
		code = -2;	/* one answer per request */
	if (code >= 0)	/* leave the RESULT in got */
		for (size_t i = from; i < c->nmsg; i++)
			if (rdv_decode(c->msg[i], c->mlen[i], &got) == 0 && got.type == RDV_RESULT &&
			    got.req == m->req)
				break;
	return code;
}

static int simple(struct cli *c, uint8_t type, const char *name, const uint8_t *pk)
{
	struct rdv_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	if (name)
		str_copy(m.name, name, sizeof(m.name));
	if (pk)
		memcpy(m.pk, pk, 32);
	return req(c, &m);
}

static int login(struct cli *c, int status, const char *text)
{
	struct rdv_msg m;
	memset(&m, 0, sizeof(m));
	m.type = RDV_LOGIN;
	m.status = (uint8_t)status;
	str_copy(m.text, text, sizeof(m.text));
	m.naddr = 1;
	m.addr[0].family = 4;
	m.addr[0].ip[0] = 192;
	m.addr[0].ip[1] = 168;
	m.addr[0].ip[3] = (uint8_t)(c - clis);
	m.addr[0].port = 7000;
	return req(c, &m);
}

static int set_status(struct cli *c, int status, const char *text)
{
	struct rdv_msg m;
	memset(&m, 0, sizeof(m));
	m.type = RDV_STATUS;
	m.status = (uint8_t)status;
	str_copy(m.text, text, sizeof(m.text));
	return req(c, &m);
}

static int allow(struct cli *c, const struct cli *who, int mode)
{
	struct rdv_msg m;
	rtc_allow_msg(&m, who->n.id.pk, mode);
	return req(c, &m);
}

/* Messages of a type received since index from; the last one is left in got. */
static int count_type(const struct cli *c, size_t from, uint8_t type)
{
	int n = 0;
	struct rdv_msg m;
	for (size_t i = from; i < c->nmsg; i++)
		if (rdv_decode(c->msg[i], c->mlen[i], &m) == 0 && m.type == type) {
			n++;
			got = m;
		}
	return n;
}

/* --- tests --- */

static void test_stun(void)
{
	struct cli *c = cli_new("stun", 1);
	uint8_t txid[12], rq[20];
	struct sockaddr_storage mapped;
	stun_request(txid, rq);
	rtc_to_server(&c->n, rq, sizeof(rq));
	CHECK(c->n.ninbox == 1 && c->n.inbox[0].n == 32);	/* the documented exception: 32 for 20 */
	CHECK(c->n.ninbox == 1 &&
	    stun_parse_response(c->n.inbox[0].b, c->n.inbox[0].n, txid, &mapped) == 0);
	CHECK(!memcmp(&((struct sockaddr_in *)&mapped)->sin_addr, &c->n.addr.sin_addr, 4));
	CHECK(((struct sockaddr_in *)&mapped)->sin_port == c->n.addr.sin_port);
	rtc_process(&c->n);
}

/* Nothing an unverified source sends is answered with more bytes than it sent. */
static void test_amplification(void)
{
	struct cli *x = cli_new("unverified", 2);
	uint8_t buf[RDV_MSG_MAX + 64], pkt[RDV_MSG_MAX + 128];
	struct rdv_msg m;
	for (int type = 1; type <= 67; type++) {
		memset(&m, 0, sizeof(m));
		m.type = (uint8_t)type;
		strcpy(m.name, "bob");
		m.sealed = buf;
		m.sealed_len = 16;
		size_t n = rdv_encode(&m, buf, sizeof(buf));
		if (!n)
			continue;
		/* as a DATA packet with a made-up receiver index, and raw */
		pkt[0] = NOISE_WIRE_VERSION;
		pkt[1] = NOISE_DATA;
		pkt[2] = pkt[3] = 0;
		put_u32(pkt + 4, 0x12345678);
		memset(pkt + 8, 0, 8);
		memcpy(pkt + 16, buf, n);
		memset(pkt + 16 + n, 0, 16);
		x->raw_count = x->raw_max = 0;
		rtc_to_server(&x->n, pkt, 32 + n);
		rtc_to_server(&x->n, buf, n);
		rdvd_flush(core.srv, core.now);
		CHECK(x->raw_count == 0);
	}
	/* KEYREQ (64) -> KEY (36) with the server's key; a short one gets nothing */
	uint8_t kq[RDVD_KEYREQ_LEN] = { NOISE_WIRE_VERSION, RDVD_KEYREQ, 0, 0 };
	x->raw_count = x->raw_max = 0;
	rtc_to_server(&x->n, kq, sizeof(kq) - 1);
	CHECK(x->raw_count == 0);
	rtc_to_server(&x->n, kq, sizeof(kq));
	CHECK(x->raw_count == 1 && x->raw_max == RDVD_KEY_LEN && RDVD_KEY_LEN < RDVD_KEYREQ_LEN);
	CHECK(x->n.ninbox == 1 && x->n.inbox[0].b[1] == RDVD_KEY &&
	    !memcmp(x->n.inbox[0].b + 4, core.server_id.pk, 32));
	rtc_process(&x->n);
	/* INIT -> RESP (92 < 148); RESP and COOKIE from a client are ignored */
	x->raw_count = x->raw_max = 0;
	rtc_send_init(&x->n);
	CHECK(x->raw_count == 1 && x->raw_max == NOISE_RESP_LEN && NOISE_RESP_LEN < NOISE_INIT_LEN);
	uint8_t fake[NOISE_RESP_LEN];
	memcpy(fake, x->n.inbox[0].b, sizeof(fake));
	rtc_to_server(&x->n, fake, NOISE_RESP_LEN);
	memset(fake, 0, NOISE_COOKIE_LEN);
	fake[0] = NOISE_WIRE_VERSION;
	fake[1] = NOISE_COOKIE;
	rtc_to_server(&x->n, fake, NOISE_COOKIE_LEN);
	CHECK(x->raw_count == 1);
	/* a replayed INIT gets nothing */
	for (size_t i = 0; i < x->n.ninbox; i++)
		free(x->n.inbox[i].b);
	x->n.ninbox = 0;
	uint8_t init[NOISE_INIT_LEN];
	noise_init_create(x->n.hs, &x->n.id, core.server_id.pk, 77, NULL, init);
	rtc_to_server(&x->n, init, sizeof(init));
	size_t before = x->raw_count;
	rtc_to_server(&x->n, init, sizeof(init));
	CHECK(x->raw_count == before);
	rtc_run(&core);	/* x now has a verified session: its answers are not counted below */
	/* garbage of every length up to 200 */
	x->raw_count = 0;
	for (size_t len = 1; len < 200; len++) {
		randombytes_buf(buf, len);
		if (buf[0] <= 1)
			buf[0] = 0x42;
		rtc_to_server(&x->n, buf, len);
	}
	rdvd_flush(core.srv, core.now);
	CHECK(x->raw_count == 0);
}

static void test_register(struct cli *a, struct cli *b)
{
	CHECK(simple(a, RDV_LOGIN, NULL, NULL) == RDV_NOTREG);
	CHECK(simple(a, RDV_REGISTER, "Alice", NULL) == RDV_OK);
	CHECK(simple(a, RDV_REGISTER, "alice", NULL) == RDV_OK);
	CHECK(simple(b, RDV_REGISTER, "ALICE", NULL) == RDV_TAKEN);
	CHECK(simple(b, RDV_REGISTER, "-bob", NULL) == RDV_BAD);
	CHECK(simple(b, RDV_REGISTER, "bob", NULL) == RDV_OK);
	CHECK(simple(b, RDV_LOOKUP, "ALICE", NULL) == RDV_OK && got.payload == RDV_PL_PK &&
	    !memcmp(got.pk, a->n.id.pk, 32));
	CHECK(simple(b, RDV_LOOKUP, "nobody", NULL) == RDV_NOTFOUND);
	/* a malformed request still gets its one answer */
	uint8_t bad[] = { RDV_REGISTER, 0, 0, 0, 99, 3, 'a', 0, 'b' };
	size_t from = a->nmsg;
	rel_queue(&a->n.rel, rel_next_seq(&a->n.rel), 0, (const char *)bad, sizeof(bad));
	rel_poll(&a->n.rel, core.now * 1000, 64, rtc_emit, &a->n);
	rtc_run(&core);
	CHECK(count_type(a, from, RDV_RESULT) == 1 && got.req == 99 && got.code == RDV_BAD);
}

static int sub(struct cli *c, const struct cli *who)
{
	return simple(c, RDV_SUBSCRIBE, NULL, who->n.id.pk);
}

/* Nothing but RESULTs reached c since from. */
static int only_results(const struct cli *c, size_t from)
{
	struct rdv_msg m;
	for (size_t i = from; i < c->nmsg; i++)
		if (rdv_decode(c->msg[i], c->mlen[i], &m) < 0 || m.type != RDV_RESULT)
			return 0;
	return 1;
}

static void test_presence(struct cli *a, struct cli *b, struct cli *carol)
{
	CHECK(simple(carol, RDV_REGISTER, "carol", NULL) == RDV_OK);
	size_t c0 = carol->nmsg, a0 = a->nmsg;
	CHECK(login(b, RDV_ONLINE, "here") == RDV_OK);
	CHECK(allow(b, a, RDV_ALLOW_ALLOW) == RDV_OK);
	CHECK(sub(a, b) == RDV_OK);
	CHECK(count_type(a, a0, RDV_PRESENCE) == 1 && !memcmp(got.pk, b->n.id.pk, 32));
	CHECK(got.status == RDV_ONLINE && !strcmp(got.text, "here") && got.naddr == 2);
	/* the address the server sees first, then the reported local one */
	CHECK(got.addr[0].family == 4 && !memcmp(got.addr[0].ip, &b->n.addr.sin_addr, 4));
	CHECK(got.addr[0].port == ntohs(b->n.addr.sin_port));
	CHECK(got.addr[1].ip[0] == 192 && got.addr[1].port == 7000);
	CHECK(sub(carol, b) == RDV_OK);		/* accepted, and nothing follows */
	a0 = a->nmsg;
	CHECK(set_status(b, RDV_AWAY, "lunch") == RDV_OK);
	CHECK(count_type(a, a0, RDV_PRESENCE) == 1 && got.status == RDV_AWAY && !strcmp(got.text, "lunch"));
	a0 = a->nmsg;
	CHECK(set_status(b, RDV_INVISIBLE, "") == RDV_OK);
	CHECK(count_type(a, a0, RDV_PRESENCE) == 1 && got.status == RDV_OFFLINE && got.naddr == 0);
	a0 = a->nmsg;
	CHECK(set_status(b, RDV_BUSY, "") == RDV_OK);
	CHECK(count_type(a, a0, RDV_PRESENCE) == 1 && got.status == RDV_BUSY);
	/* removed: one offline, then silence */
	a0 = a->nmsg;
	CHECK(allow(b, a, RDV_ALLOW_REMOVE) == RDV_OK);
	CHECK(count_type(a, a0, RDV_PRESENCE) == 1 && got.status == RDV_OFFLINE);
	a0 = a->nmsg;
	CHECK(set_status(b, RDV_ONLINE, "x") == RDV_OK);
	CHECK(count_type(a, a0, RDV_PRESENCE) == 0);
	CHECK(allow(b, a, RDV_ALLOW_ALLOW) == RDV_OK);
	CHECK(count_type(a, a0, RDV_PRESENCE) == 1 && got.status == RDV_ONLINE);
	/* logging in again (as after every rekey) with nothing changed tells nobody */
	a0 = a->nmsg;
	CHECK(login(b, RDV_ONLINE, "x") == RDV_OK);
	CHECK(count_type(a, a0, RDV_PRESENCE) == 0);
	CHECK(login(b, RDV_ONLINE, "y") == RDV_OK);
	CHECK(count_type(a, a0, RDV_PRESENCE) == 1 && !strcmp(got.text, "y"));
	/* carol, never allowed, learned nothing but answers to her own requests */
	CHECK(only_results(carol, c0));
	CHECK(simple(carol, RDV_BUNDLE, NULL, b->n.id.pk) == RDV_NOTFOUND);
}

static void test_requests(struct cli *a, struct cli *b, struct cli *carol)
{
	struct rdv_msg m;
	size_t b0 = b->nmsg;
	memset(&m, 0, sizeof(m));
	m.type = RDV_REQUEST;
	strcpy(m.name, "BOB");
	strcpy(m.handle, "carol@here");
	strcpy(m.text, "let me in");
	CHECK(req(carol, &m) == RDV_OK);
	CHECK(count_type(b, b0, RDV_REQUESTED) == 1 && !memcmp(got.pk, carol->n.id.pk, 32));
	CHECK(!strcmp(got.handle, "carol@here") && !strcmp(got.text, "let me in"));
	/* pushed again at the next login until answered */
	b0 = b->nmsg;
	CHECK(login(b, RDV_ONLINE, "") == RDV_OK);
	CHECK(count_type(b, b0, RDV_REQUESTED) == 1);
	CHECK(allow(b, carol, RDV_ALLOW_BLOCK) == RDV_OK);
	b0 = b->nmsg;
	CHECK(login(b, RDV_ONLINE, "") == RDV_OK);
	CHECK(count_type(b, b0, RDV_REQUESTED) == 0);
	/* blocked: still OK, nothing arrives */
	CHECK(req(carol, &m) == RDV_OK);
	CHECK(count_type(b, b0, RDV_REQUESTED) == 0);
	strcpy(m.name, "nobody");
	CHECK(req(carol, &m) == RDV_NOTFOUND);
	/* 5 in a burst per sender key, then RATE */
	int rates = 0;
	for (int i = 0; i < 5; i++)
		rates += req(carol, &m) == RDV_RATE;
	CHECK(rates >= 3);
	(void)a;
}

static void test_mail(struct cli *a, struct cli *b, struct cli *carol)
{
	struct rdv_msg m;
	uint8_t msg[RDV_SPK_SIGMSG_LEN], sealed[RDV_SEALED_MAX];
	memset(&m, 0, sizeof(m));
	m.type = RDV_PREKEYS;
	m.spk_id = 5;
	memset(m.spk, 0x55, 32);
	rdv_spk_sigmsg(5, m.spk, msg);
	identity_sign(&b->n.id, msg, sizeof(msg), m.sig);
	m.nopk = 2;
	m.opk[0].id = 1;
	m.opk[1].id = 2;
	memset(m.opk[0].pk, 1, 32);
	memset(m.opk[1].pk, 2, 32);
	CHECK(req(b, &m) == RDV_OK);
	CHECK(simple(a, RDV_BUNDLE, NULL, b->n.id.pk) == RDV_OK && got.payload == RDV_PL_BUNDLE);
	CHECK(got.spk_id == 5 && got.opk[0].id == 1 && got.opk[0].pk[0] == 1);
	CHECK(simple(a, RDV_BUNDLE, NULL, b->n.id.pk) == RDV_OK && got.opk[0].id == 2);
	CHECK(simple(a, RDV_BUNDLE, NULL, b->n.id.pk) == RDV_OK && got.opk[0].id == 0);
	/* bob logs out; alice leaves 40 mails (more than one window), carol none */
	size_t a0 = a->nmsg;
	CHECK(set_status(b, RDV_OFFLINE, "") == RDV_OK);
	CHECK(count_type(a, a0, RDV_PRESENCE) == 1 && got.status == RDV_OFFLINE);
	for (int i = 0; i < 40; i++) {
		memset(&m, 0, sizeof(m));
		m.type = RDV_MAILPUT;
		memcpy(m.pk, b->n.id.pk, 32);
		memset(sealed, i, sizeof(sealed));
		m.sealed = sealed;
		m.sealed_len = i == 7 ? RDV_SEALED_MAX : 100 + (size_t)i;
		CHECK(req(a, &m) == RDV_OK);
	}
	m.sealed_len = 10;
	CHECK(req(carol, &m) == RDV_NOTFOUND);
	size_t b0 = b->nmsg;
	CHECK(login(b, RDV_ONLINE, "") == RDV_OK);
	rtc_advance(&core, 2000);
	CHECK(count_type(b, b0, RDV_MAIL) == 40);
	int order = 1, k = 0;
	uint64_t last = 0, ids[40];
	for (size_t i = b0; i < b->nmsg; i++) {
		if (rdv_decode(b->msg[i], b->mlen[i], &m) < 0 || m.type != RDV_MAIL)
			continue;
		if (m.mail_id <= last || m.sealed[0] != k || memcmp(m.pk, a->n.id.pk, 32))
			order = 0;
		if (k == 7 && m.sealed_len != RDV_SEALED_MAX)
			order = 0;
		last = m.mail_id;
		ids[k++] = m.mail_id;
	}
	CHECK(order && k == 40);
	for (int i = 0; i < k; i++) {
		memset(&m, 0, sizeof(m));
		m.type = RDV_MAILACK;
		m.mail_id = ids[i];
		CHECK(req(b, &m) == RDV_OK);
	}
	CHECK(req(b, &m) == RDV_NOTFOUND);
	b0 = b->nmsg;
	CHECK(login(b, RDV_ONLINE, "") == RDV_OK);
	CHECK(count_type(b, b0, RDV_MAIL) == 0);
	/* mail to a logged-in user goes out at once */
	memset(&m, 0, sizeof(m));
	m.type = RDV_MAILPUT;
	memcpy(m.pk, b->n.id.pk, 32);
	m.sealed = sealed;
	m.sealed_len = 50;
	CHECK(req(a, &m) == RDV_OK);
	CHECK(count_type(b, b0, RDV_MAIL) == 1);
}

/* Rekey: a new handshake restarts rel on both sides; the session carries on. */
static void test_rekey(struct cli *a, struct cli *b)
{
	size_t a0 = a->nmsg;
	rtc_connect(&a->n);
	CHECK(simple(a, RDV_LOOKUP, "bob", NULL) == RDV_OK && !memcmp(got.pk, b->n.id.pk, 32));
	CHECK(set_status(b, RDV_AWAY, "") == RDV_OK);
	CHECK(count_type(a, a0, RDV_PRESENCE) == 1 && got.status == RDV_AWAY);
}

static void test_dead(struct cli *a, struct cli *b)
{
	size_t a0 = a->nmsg;
	/* alice keeps pinging, bob vanishes */
	for (int i = 0; i < 70; i++) {
		rel_ask_ack(&a->n.rel);
		rel_poll(&a->n.rel, core.now * 1000, 4, rtc_emit, &a->n);
		rtc_advance(&core, 1000);
	}
	CHECK(count_type(a, a0, RDV_PRESENCE) == 1 && got.status == RDV_OFFLINE &&
	    !memcmp(got.pk, b->n.id.pk, 32));
	struct rdvd_stats st;
	rdvd_stats(core.srv, &st);
	CHECK(st.dead >= 1);
}

/* Garbage and a handshake flood from one source do not stop another client's login. */
static void test_flood(void)
{
	struct cli *x = cli_new("flood", 6), *d = cli_new("dave", 7);
	uint8_t junk[NOISE_INIT_LEN];
	for (int i = 0; i < 20000; i++) {
		size_t len = 1 + (size_t)i % sizeof(junk);
		randombytes_buf(junk, len);
		junk[0] = i % 3 ? NOISE_WIRE_VERSION : 0x42;
		if (len > 1)
			junk[1] = (uint8_t)(1 + i % 4);
		rtc_to_server(&x->n, junk, len);
	}
	for (int i = 0; i < 500; i++)
		rtc_send_init(&x->n);
	rdvd_flush(core.srv, core.now);
	struct rdvd_stats st;
	rdvd_stats(core.srv, &st);
	CHECK(st.rate_limited > 400 && st.bad_packets > 10000);
	rtc_process(&x->n);
	rtc_connect(&d->n);
	CHECK(simple(d, RDV_REGISTER, "dave", NULL) == RDV_OK);
	CHECK(login(d, RDV_ONLINE, "") == RDV_OK);
}

/* Under load an INIT without a valid mac2 gets a 64-byte COOKIE; with it, a RESP. */
static void test_cookie(void)
{
	struct rdvd_conf conf;
	rdvd_conf_default(&conf);
	conf.hs_load = 3;
	rdvd_set_conf(core.srv, &conf);
	struct cli *e = cli_new("erin", 8);
	for (int i = 0; i < 5; i++) {	/* load from others */
		struct cli *o = &clis[0];
		rtc_send_init(&o->n);
		rtc_process(&o->n);
	}
	e->raw_count = e->raw_max = 0;
	rtc_send_init(&e->n);
	CHECK(e->n.ninbox == 1 && e->n.inbox[0].n == NOISE_COOKIE_LEN && e->raw_max < NOISE_INIT_LEN);
	rtc_run(&core);	/* the client echoes the cookie */
	CHECK(e->n.have_cookie && e->raw_count >= 2);
	CHECK(simple(e, RDV_LOOKUP, "alice", NULL) == RDV_OK);
	rdvd_conf_default(&conf);
	rdvd_set_conf(core.srv, &conf);
}

int main(void)
{
	struct rdvd_conf conf;
	if (rtc_open(&core, 0xee, 0, &conf) < 0)
		return 1;
	core.srv = rdvd_new(&core.server_id, core.db, &conf, srv_send, NULL);
	if (!core.srv)
		return 1;

	test_stun();
	test_amplification();
	struct cli *a = cli_new("alice", 3), *b = cli_new("bob", 4), *carol = cli_new("carol", 5);
	rtc_connect(&a->n);
	rtc_connect(&b->n);
	rtc_connect(&carol->n);
	test_register(a, b);
	test_presence(a, b, carol);
	test_requests(a, b, carol);
	test_mail(a, b, carol);
	test_rekey(a, b);
	test_cookie();
	test_flood();
	test_dead(a, b);
	CHECK(stray == 0);

	for (int i = 0; i < ncli; i++)
		cli_free(&clis[i]);
	rtc_end(&core);
	return check_end("test_rdvd");
}
