/* test_relay.c: the rendezvous relay (FR_RELAY) driven by Noise clients over UDP and TCP sources. */
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
#include "util.h"

enum { MAXCLI = 48, NMANY = 40, INBOX = 512, MAXREL = 256, PKT = RDVD_RELAY_MAX };

struct relayed {
	uint8_t from[32];
	uint8_t *b;
	size_t n;
};

struct cli {
	struct rtc_cli n;
	struct relayed got[MAXREL];	/* every FR_RELAY frame received, in order */
	size_t ngot;
	size_t raw_count, raw_max;	/* packets the server sent here, and the largest */
	size_t last_len;		/* length of the last one */
	uint32_t last_src;		/* src the server passed with the last packet */
	int results, last_code;
};

static struct cli clis[MAXCLI];
static int ncli;
static struct rtc_core core = { .rounds = 50, .now = 5000000 };
static size_t stray;

static void srv_send(void *arg, uint32_t src, const struct sockaddr *sa, socklen_t salen,
    const uint8_t *pkt, size_t len)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
	(void)arg;
	for (int i = 0; i < ncli; i++) {
		struct cli *c = &clis[i];
		if (c->n.addr.sin_addr.s_addr != in->sin_addr.s_addr || c->n.addr.sin_port != in->sin_port ||
		    salen != sizeof(c->n.addr) || (src & ~RDVD_SEND_DROPPABLE) != c->n.src ||
		    c->n.ninbox == INBOX)
			continue;
		c->raw_count++;
		if (len > c->raw_max)
			c->raw_max = len;
		c->last_src = src;
		c->last_len = len;
		rtc_keep(&c->n, pkt, len);
		return;
	}
	stray++;
}

static void cli_deliver(void *arg, uint64_t seq, uint64_t ts, const char *text, size_t len)
{
	struct cli *c = arg;
	struct rdv_msg m;
	(void)seq;
	(void)ts;
	if (rdv_decode((const uint8_t *)text, len, &m) == 0 && m.type == RDV_RESULT &&
	    m.req == c->n.next_req) {
		c->results++;
		c->last_code = m.code;
	}
}

static void cli_frame(void *arg, int type, const uint8_t *body, size_t len)
{
	struct cli *c = arg;
	if (type != FR_RELAY || c->ngot == MAXREL)
		return;
	struct relayed *r = &c->got[c->ngot++];
	CHECK(len > 32);
	memcpy(r->from, body, len < 32 ? len : 32);
	r->n = len > 32 ? len - 32 : 0;
	r->b = malloc(r->n + 1);
	memcpy(r->b, body + 32, r->n);
}

static const struct rel_ops cli_ops = { .deliver = cli_deliver, .frame = cli_frame };

static struct cli *cli_new(int seed, uint32_t src)
{
	struct cli *c = &clis[ncli++];
	memset(c, 0, sizeof(*c));
	rtc_cli_init(&c->n, &core, seed, (uint16_t)(41000 + seed), 0x0a010000u + (uint32_t)seed,
	    &cli_ops, c);
	c->n.src = src;
	return c;
}

static void cli_free(struct cli *c)
{
	for (size_t k = 0; k < c->ngot; k++)
		free(c->got[k].b);
	rtc_cli_free(&c->n);
}

/* A request; returns its RESULT code, -1 if none came. */
static int req(struct cli *c, struct rdv_msg *m)
{
	m->req = ++c->n.next_req;
	c->results = 0;
	CHECK(rtc_queue(&c->n, m) > 0);
	rtc_run(&core);
	return c->results == 1 ? c->last_code : -1;
}

static int reg(struct cli *c, const char *name)
{
	struct rdv_msg m;
	memset(&m, 0, sizeof(m));
	m.type = RDV_REGISTER;
	str_copy(m.name, name, sizeof(m.name));
	return req(c, &m);
}

static int login(struct cli *c)
{
	struct rdv_msg m;
	memset(&m, 0, sizeof(m));
	m.type = RDV_LOGIN;
	m.status = RDV_ONLINE;
	return req(c, &m);
}

static int allow(struct cli *c, const struct cli *who, int mode)
{
	struct rdv_msg m;
	rtc_allow_msg(&m, who->n.id.pk, mode);
	return req(c, &m);
}

static size_t sent_len;		/* the last DATA packet a client sent with relay_raw */
static uint8_t sent[32 + PKT + 128];

/* c sends an FR_RELAY frame (target's key, then n bytes of p) in a DATA packet of its session;
 * with_ping puts a rel PING frame before it in the same packet. */
static void relay_raw(struct cli *c, const uint8_t target[32], const uint8_t *p, size_t n,
    int with_ping)
{
	uint8_t body[32 + PKT + 64], pt[sizeof(body) + 16], out[sizeof(pt) + NOISE_DATA_OVERHEAD];
	size_t off = 0;
	memcpy(body, target, 32);
	memcpy(body + 32, p, n);
	if (with_ping)
		off = frame_put(pt, sizeof(pt), off, FR_PING, NULL, 0);
	off = frame_put(pt, sizeof(pt), off, FR_RELAY, body, 32 + n);
	CHECK(off > 0);
	int k = noise_encrypt(c->n.kp, pt, off, out, sizeof(out));
	CHECK(k > 0);
	sent_len = (size_t)k;
	memcpy(sent, out, sent_len);
	rtc_to_server(&c->n, out, (size_t)k);
	rtc_run(&core);
}

static void relay_to(struct cli *c, const struct cli *to, const uint8_t *p, size_t n)
{
	relay_raw(c, to->n.id.pk, p, n, 0);
}

/* The last relayed packet c received came from `from` and holds exactly p. */
static int got_exact(const struct cli *c, const struct cli *from, const uint8_t *p, size_t n)
{
	const struct relayed *r = c->ngot ? &c->got[c->ngot - 1] : NULL;
	return r && !memcmp(r->from, from->n.id.pk, 32) && r->n == n && !memcmp(r->b, p, n);
}

static void set_relay(uint32_t rate, uint32_t burst, uint32_t prate, uint32_t pburst, uint64_t daily)
{
	struct rdvd_conf conf;
	rdvd_conf_default(&conf);
	conf.lim.no_sync = 1;
	conf.relay_rate = rate;
	conf.relay_burst = burst;
	conf.relay_pkt_rate = prate;
	conf.relay_pkt_burst = pburst;
	conf.relay_daily = daily;
	rdvd_set_conf(core.srv, &conf);
}

static void set_default(void)
{
	set_relay(262144, 1048576, 400, 1000, 1ull << 30);
}

static uint8_t pkt[PKT + 1];	/* one more, for the packet that is too long */

/* --- tests --- */

static void test_forward(struct cli *a, struct cli *b)
{
	size_t b0 = b->ngot, a0 = a->ngot, braw = b->raw_count;
	/* a peer packet as a client would put it there: opaque to the server */
	relay_to(a, b, pkt, 148);
	CHECK(b->ngot == b0 + 1 && got_exact(b, a, pkt, 148));
	/* one packet out for one in, of the same size (only the key in front differs) */
	CHECK(b->raw_count == braw + 1 && b->last_len == sent_len);
	CHECK(b->last_src & RDVD_SEND_DROPPABLE);
	/* the largest packet, the other way */
	relay_to(b, a, pkt, PKT);
	CHECK(a->ngot == a0 + 1 && got_exact(a, b, pkt, PKT));
	/* one byte, and a relay frame after a rel frame in the same packet */
	relay_raw(a, b->n.id.pk, pkt + 7, 1, 1);
	CHECK(b->ngot == b0 + 2 && got_exact(b, a, pkt + 7, 1));
	/* too long or empty: dropped */
	relay_to(a, b, pkt, PKT + 1);
	relay_to(a, b, pkt, 0);
	CHECK(b->ngot == b0 + 2);
	/* to oneself: dropped */
	relay_to(a, a, pkt, 10);
	CHECK(a->ngot == a0 + 1);
	/* 50 in a row arrive in order */
	for (int i = 0; i < 50; i++) {
		pkt[0] = (uint8_t)i;
		relay_to(a, b, pkt, 100 + (size_t)i);
		CHECK(got_exact(b, a, pkt, 100 + (size_t)i));
	}
	CHECK(b->ngot == b0 + 52);
}

/* Both must allow each other: one way, a block, a removal stop it. */
static void test_allow(struct cli *a, struct cli *b, struct cli *carol)
{
	size_t b0 = b->ngot, c0 = carol->ngot, a0 = a->ngot;
	CHECK(allow(b, carol, RDV_ALLOW_ALLOW) == RDV_OK);	/* carol does not allow bob */
	relay_to(carol, b, pkt, 60);
	relay_to(b, carol, pkt, 60);
	CHECK(b->ngot == b0 && carol->ngot == c0);
	CHECK(allow(carol, b, RDV_ALLOW_ALLOW) == RDV_OK);
	relay_to(carol, b, pkt, 60);
	CHECK(b->ngot == b0 + 1 && got_exact(b, carol, pkt, 60));
	CHECK(allow(carol, b, RDV_ALLOW_BLOCK) == RDV_OK);
	relay_to(carol, b, pkt, 61);
	relay_to(b, carol, pkt, 61);
	CHECK(b->ngot == b0 + 1 && carol->ngot == c0);
	/* alice never allowed carol, carol never allowed alice */
	relay_to(carol, a, pkt, 62);
	relay_to(a, carol, pkt, 62);
	CHECK(a->ngot == a0 && carol->ngot == c0);
	/* bob removes alice: nothing either way until he allows her again */
	CHECK(allow(b, a, RDV_ALLOW_REMOVE) == RDV_OK);
	relay_to(a, b, pkt, 63);
	relay_to(b, a, pkt, 63);
	CHECK(b->ngot == b0 + 1 && a->ngot == a0);
	CHECK(allow(b, a, RDV_ALLOW_ALLOW) == RDV_OK);
	relay_to(a, b, pkt, 64);
	CHECK(b->ngot == b0 + 2 && got_exact(b, a, pkt, 64));
}

/* A target whose session died, or is only half made, gets nothing. A key with no account
 * here (a contact whose home is another server) relays to and from an account that allows
 * it, and only then; two keys with no account here cannot relay at all. */
static void test_offline(struct cli *a, struct cli *b, struct cli *erin, struct cli *eve)
{
	struct rdvd_stats st0, st;
	rdvd_stats(core.srv, &st0);
	relay_to(a, erin, pkt, 70);
	CHECK(erin->ngot == 1 && got_exact(erin, a, pkt, 70));
	/* eve is connected and has no account: nothing until bob allows her, never to alice,
	 * never to herself */
	size_t b0 = b->ngot, a0 = a->ngot;
	relay_to(eve, b, pkt, 71);
	relay_to(b, eve, pkt, 71);
	relay_to(eve, a, pkt, 71);
	relay_to(eve, eve, pkt, 71);
	CHECK(b->ngot == b0 && eve->ngot == 0 && a->ngot == a0);
	CHECK(allow(b, eve, RDV_ALLOW_ALLOW) == RDV_OK);
	relay_to(eve, b, pkt, 75);
	relay_to(b, eve, pkt, 76);
	CHECK(b->ngot == b0 + 1 && got_exact(b, eve, pkt, 75));
	CHECK(eve->ngot == 1 && got_exact(eve, b, pkt, 76));
	relay_to(eve, a, pkt, 77);
	CHECK(a->ngot == a0);
	/* erin goes silent while alice and bob keep their sessions: after the timeout she is gone */
	erin->n.mute = 1;
	for (int i = 0; i < 65; i++) {
		rel_ask_ack(&a->n.rel);
		rel_poll(&a->n.rel, core.now * 1000, 4, rtc_emit, &a->n);
		rel_ask_ack(&b->n.rel);
		rel_poll(&b->n.rel, core.now * 1000, 4, rtc_emit, &b->n);
		rtc_advance(&core, 1000);
	}
	size_t e0 = erin->raw_count;
	relay_to(a, erin, pkt, 72);
	CHECK(erin->raw_count == e0);
	/* a handshake without DATA yet is not a live session */
	uint8_t init[NOISE_INIT_LEN];
	noise_init_create(erin->n.hs, &erin->n.id, core.server_id.pk, 99, NULL, init);
	rtc_to_server(&erin->n, init, sizeof(init));
	CHECK(erin->raw_count == e0 + 1);	/* the RESP, kept unread for now */
	relay_to(a, erin, pkt, 73);
	CHECK(erin->raw_count == e0 + 1 && erin->ngot == 1);
	erin->n.mute = 0;
	rtc_run(&core);		/* erin reads the RESP; her first DATA makes the session live */
	relay_to(a, erin, pkt, 74);
	CHECK(erin->ngot == 2 && got_exact(erin, a, pkt, 74));
	rdvd_stats(core.srv, &st);
	CHECK(st.relay_denied == st0.relay_denied + 7);
	CHECK(st.relay_limited == st0.relay_limited);
	CHECK(st.relayed == st0.relayed + 4);
}

static void test_quota(struct cli *a, struct cli *b)
{
	struct rdvd_stats st0, st;
	size_t b0;
	rdvd_stats(core.srv, &st0);
	/* bytes: a burst of 3000 passes two packets of 1400; 1400 bytes/s gives one more a second */
	set_relay(1400, 3000, 1000, 1000, 1ull << 30);
	b0 = b->ngot;
	for (int i = 0; i < 3; i++)
		relay_to(a, b, pkt, PKT);
	CHECK(b->ngot == b0 + 2);
	b0 = b->ngot;
	relay_to(a, b, pkt, PKT);
	CHECK(b->ngot == b0);
	core.now += 1000;
	relay_to(a, b, pkt, PKT);
	CHECK(b->ngot == b0 + 1);
	relay_to(a, b, pkt, PKT);
	CHECK(b->ngot == b0 + 1);
	/* bob's quota is his own */
	size_t a0 = a->ngot;
	relay_to(b, a, pkt, PKT);
	CHECK(a->ngot == a0 + 1);
	/* packets: 3 in a burst at 1 a second */
	set_relay(1 << 20, 1 << 20, 1, 3, 1ull << 30);
	core.now += 10000;
	b0 = b->ngot;
	for (int i = 0; i < 6; i++)
		relay_to(a, b, pkt, 20);
	CHECK(b->ngot == b0 + 3);
	core.now += 1000;
	relay_to(a, b, pkt, 20);
	relay_to(a, b, pkt, 20);
	CHECK(b->ngot == b0 + 4);
	/* daily bytes: 5000 a day, whatever the rates */
	set_relay(1 << 20, 1 << 20, 1000, 1000, 5000);
	uint64_t day = 86400000;
	core.now = (core.now / day + 1) * day + 1000;	/* a new day: counts start over */
	b0 = b->ngot;
	for (int i = 0; i < 5; i++)
		relay_to(a, b, pkt, 1000);
	CHECK(b->ngot == b0 + 5);
	relay_to(a, b, pkt, 1);
	CHECK(b->ngot == b0 + 5);
	core.now += 3600000;		/* an hour later: still today */
	relay_to(a, b, pkt, 1);
	CHECK(b->ngot == b0 + 5);
	core.now = (core.now / day + 1) * day + 10;
	relay_to(a, b, pkt, 1000);
	CHECK(b->ngot == b0 + 6 && got_exact(b, a, pkt, 1000));
	rdvd_stats(core.srv, &st);
	CHECK(st.relay_limited == st0.relay_limited + 9);
	CHECK(st.relay_users >= 1);
	/* off: any zero */
	set_relay(0, 1 << 20, 1000, 1000, 1 << 20);
	b0 = b->ngot;
	relay_to(a, b, pkt, 10);
	set_relay(1 << 20, 1 << 20, 1000, 1000, 0);
	relay_to(a, b, pkt, 10);
	CHECK(b->ngot == b0);
	set_default();
	relay_to(a, b, pkt, 10);
	CHECK(b->ngot == b0 + 1);
}

/* dave's session is over TCP: relaying works both ways, and stops when the connection closes. */
static void test_tcp(struct cli *a, struct cli *dave)
{
	size_t d0 = dave->ngot, a0 = a->ngot;
	relay_to(a, dave, pkt, 500);
	CHECK(dave->ngot == d0 + 1 && got_exact(dave, a, pkt, 500));
	CHECK((dave->last_src & ~RDVD_SEND_DROPPABLE) == dave->n.src && (dave->last_src & RDVD_SRC_TCP));
	relay_to(dave, a, pkt + 3, PKT - 3);
	CHECK(a->ngot == a0 + 1 && got_exact(a, dave, pkt + 3, PKT - 3));
	rdvd_source_closed(core.srv, dave->n.src, core.now);
	size_t draw = dave->raw_count;
	relay_to(a, dave, pkt, 500);
	CHECK(dave->raw_count == draw && dave->ngot == d0 + 1);
}

/* Nothing unauthenticated is relayed or answered. */
static void test_unverified(struct cli *a, struct cli *b, struct cli *x)
{
	uint8_t body[32 + 100], p[256], d[sizeof(p) + 64];
	size_t b0 = b->ngot, braw = b->raw_count, xraw = x->raw_count;
	memcpy(body, b->n.id.pk, 32);
	memset(body + 32, 0x5a, 100);
	/* a plaintext FR_RELAY frame, raw */
	size_t n = frame_put(p, sizeof(p), 0, FR_RELAY, body, sizeof(body));
	rtc_to_server(&x->n, p, n);
	/* the same in DATA packets under made-up receiver indices, with forged tags */
	d[0] = NOISE_WIRE_VERSION;
	d[1] = NOISE_DATA;
	d[2] = d[3] = 0;
	for (int i = 0; i < 20; i++) {
		put_u32(d + 4, i == 0 ? 0x12345678u : randombytes_random());
		memset(d + 8, 0, 8);
		memcpy(d + 16, p, n);
		randombytes_buf(d + 16 + n, 16);
		rtc_to_server(&x->n, d, 32 + n);
	}
	rdvd_flush(core.srv, core.now);
	CHECK(x->raw_count == xraw && b->raw_count == braw && b->ngot == b0);
	/* alice's real packet, replayed from x's address and from hers: relayed once only */
	relay_to(a, b, pkt, 90);
	CHECK(b->ngot == b0 + 1 && b->raw_count == braw + 1);
	uint8_t copy[sizeof(sent)];
	size_t clen = sent_len;
	memcpy(copy, sent, clen);
	rtc_to_server(&x->n, copy, clen);
	rtc_to_server(&a->n, copy, clen);
	/* and with one bit flipped in the ciphertext */
	copy[20] ^= 1;
	rtc_to_server(&a->n, copy, clen);
	rtc_run(&core);
	CHECK(x->raw_count == xraw && b->raw_count == braw + 1 && b->ngot == b0 + 1);
}

/* Many senders to one target: each arrives with its own key (the accounting table grows). */
static void test_many(struct cli *b)
{
	struct cli *m[NMANY];
	char name[16];
	size_t b0 = b->ngot;
	for (int i = 0; i < NMANY; i++) {
		m[i] = cli_new(100 + i, 0);
		rtc_connect(&m[i]->n);
		snprintf(name, sizeof(name), "many%d", i);
		CHECK(reg(m[i], name) == RDV_OK && allow(m[i], b, RDV_ALLOW_ALLOW) == RDV_OK);
		CHECK(allow(b, m[i], RDV_ALLOW_ALLOW) == RDV_OK);
	}
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < NMANY; i++) {
			pkt[0] = (uint8_t)i;
			relay_to(m[i], b, pkt, 40 + (size_t)i);
			CHECK(got_exact(b, m[i], pkt, 40 + (size_t)i));
		}
	CHECK(b->ngot == b0 + 2 * NMANY);
	struct rdvd_stats st;
	rdvd_stats(core.srv, &st);
	CHECK(st.relay_users >= NMANY);
}

/* Rekey of the target: relayed packets follow it to its new keys. */
static void test_rekey(struct cli *a, struct cli *b)
{
	size_t b0 = b->ngot;
	rtc_connect(&b->n);
	relay_to(a, b, pkt, 200);
	CHECK(b->ngot == b0 + 1 && got_exact(b, a, pkt, 200));
	rtc_connect(&a->n);
	relay_to(a, b, pkt, 201);
	CHECK(b->ngot == b0 + 2 && got_exact(b, a, pkt, 201));
}

int main(void)
{
	struct rdvd_conf conf;
	if (rtc_open(&core, 0xdd, 1, &conf) < 0)
		return 1;
	CHECK(conf.relay_rate && conf.relay_burst >= RDVD_RELAY_MIN_BURST && conf.relay_daily);
	core.srv = rdvd_new(&core.server_id, core.db, &conf, srv_send, NULL);
	if (!core.srv)
		return 1;
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 7 + 3);

	struct cli *a = cli_new(1, 0), *b = cli_new(2, 0), *carol = cli_new(3, 0);
	struct cli *dave = cli_new(4, RDVD_SRC_TCP | 0x10005), *erin = cli_new(5, 0);
	struct cli *eve = cli_new(6, 0), *x = cli_new(7, 0);
	rtc_connect(&a->n);
	rtc_connect(&b->n);
	rtc_connect(&carol->n);
	rtc_connect(&dave->n);
	rtc_connect(&erin->n);
	rtc_connect(&eve->n);
	CHECK(reg(a, "alice") == RDV_OK && reg(b, "bob") == RDV_OK && reg(carol, "carol") == RDV_OK);
	CHECK(reg(dave, "dave") == RDV_OK && reg(erin, "erin") == RDV_OK);
	CHECK(login(a) == RDV_OK && login(b) == RDV_OK && login(carol) == RDV_OK);
	CHECK(login(dave) == RDV_OK && login(erin) == RDV_OK);
	/* before anyone allows anyone: nothing */
	relay_to(a, b, pkt, 100);
	CHECK(b->ngot == 0);
	CHECK(allow(a, b, RDV_ALLOW_ALLOW) == RDV_OK && allow(b, a, RDV_ALLOW_ALLOW) == RDV_OK);
	CHECK(allow(a, dave, RDV_ALLOW_ALLOW) == RDV_OK && allow(dave, a, RDV_ALLOW_ALLOW) == RDV_OK);
	CHECK(allow(a, erin, RDV_ALLOW_ALLOW) == RDV_OK && allow(erin, a, RDV_ALLOW_ALLOW) == RDV_OK);
	test_forward(a, b);
	test_allow(a, b, carol);
	test_tcp(a, dave);
	test_unverified(a, b, x);
	test_rekey(a, b);
	test_many(b);
	test_offline(a, b, erin, eve);
	test_quota(a, b);
	CHECK(stray == 0);

	struct rdvd_stats st;
	rdvd_stats(core.srv, &st);
	CHECK(st.relayed > 60 && st.relay_bytes > 10000);
	for (int i = 0; i < ncli; i++)
		cli_free(&clis[i]);
	rtc_end(&core);
	return check_end("test_relay");
}
