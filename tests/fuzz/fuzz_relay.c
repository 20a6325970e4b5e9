/* fuzz_relay.c: libFuzzer target: two authenticated clients of the rendezvous core send arbitrary frames, FR_RELAY above all. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "noise.h"
#include "rdvd.h"
#include "rel.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Each input starts a fresh server with two clients, alice (UDP) and bob (TCP), registered,
 * logged in and allowing each other. The input is then a sequence of records
 * sel u8 | len u8 | len bytes (the last one may be short):
 *	sel & 1		the sender (alice or bob)
 *	sel >> 1 & 3	0: the bytes are a whole plaintext packet (frames of any type)
 *			1: one FR_RELAY frame to the other client with the bytes as the packet
 *			2: one FR_RELAY frame whose body is the bytes (any target, any length)
 *			3: time: advance 100 ms * bytes[0], tick; bytes[1..] set the relay limits
 *	sel & 8		make the bytes 10 times as long (repeated) for kinds 0..2
 * Everything the server sends is decrypted by its client and checked: a relayed frame comes
 * from the other client, holds 1..RDVD_RELAY_MAX bytes, and is never larger than its input.
 */

struct fcli {
	struct identity id;
	struct sockaddr_in addr;
	uint32_t src;
	struct noise_hs *hs;
	struct noise_keypair *kp;
	struct rel rel;
	int up;
};

static const struct rel_ops no_ops;	/* the clients' rel only sends */
static struct identity sid;
static struct fcli cl[2];
static struct rdvd *srv;
static uint64_t now;
static size_t last_in;		/* the largest packet a client sent since the last check */

static void trap_if(int bad)
{
	if (bad)
		__builtin_trap();
}

static void check_out(struct fcli *c, const uint8_t *pkt, size_t len)
{
	uint8_t pt[NOISE_MAX_PACKET];
	const uint8_t *body;
	size_t off = 0, blen;
	int type, n = noise_decrypt(c->kp, pkt, len, pt, sizeof(pt));
	if (n < 0)
		return;
	while (frame_next(pt, (size_t)n, &off, &type, &body, &blen) == 1) {
		if (type != FR_RELAY)
			continue;
		const struct fcli *other = &cl[c == &cl[0]];
		trap_if(blen <= 32 || blen > 32 + RDVD_RELAY_MAX);
		trap_if(memcmp(body, other->id.pk, 32) != 0);
		trap_if(len > last_in);
	}
}

static void srv_send(void *arg, uint32_t src, const struct sockaddr *sa, socklen_t salen,
    const uint8_t *pkt, size_t len)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
	(void)arg;
	(void)salen;
	for (int i = 0; i < 2; i++) {
		struct fcli *c = &cl[i];
		if (c->addr.sin_port != in->sin_port || c->src != (src & ~RDVD_SEND_DROPPABLE))
			continue;
		if (noise_pkt_type(pkt, len) == NOISE_RESP && !c->up) {
			c->up = noise_resp_consume(c->hs, pkt, len, c->kp) == 0;
			return;
		}
		check_out(c, pkt, len);
		return;
	}
	trap_if(1);	/* nobody else exists */
}

static void to_server(struct fcli *c, const uint8_t *pt, size_t len)
{
	uint8_t out[NOISE_MAX_PACKET];
	int n = noise_encrypt(c->kp, pt, len, out, sizeof(out));
	if (n < 0)
		return;
	if ((size_t)n > last_in)
		last_in = (size_t)n;
	rdvd_input(srv, c->src, (const struct sockaddr *)&c->addr, sizeof(c->addr), out, (size_t)n, now);
}

static void emit(void *arg, const uint8_t *pkt, size_t len)
{
	to_server(arg, pkt, len);
}

static void request(struct fcli *c, struct rdv_msg *m)
{
	uint8_t buf[RDV_MSG_MAX];
	static uint32_t req;
	m->req = ++req;
	size_t n = rdv_encode(m, buf, sizeof(buf));
	if (n)
		rel_queue(&c->rel, rel_next_seq(&c->rel), 0, (const char *)buf, n);
}

static int setup(void)
{
	struct rdvd_conf conf;
	static struct acct_db *db;
	char err[128];
	uint8_t init[NOISE_INIT_LEN];
	if (db) {
		rdvd_free(srv);
		acct_close(db);
		db = NULL;
	}
	rdvd_conf_default(&conf);
	conf.lim.no_sync = 1;
	if (acct_open(&db, NULL, &conf.lim, err, sizeof(err)) < 0 ||
	    !(srv = rdvd_new(&sid, db, &conf, srv_send, NULL)))
		return -1;
	for (int i = 0; i < 2; i++) {
		struct fcli *c = &cl[i];
		c->up = 0;
		rel_free(&c->rel);
		rel_init(&c->rel, &no_ops, c);
		noise_init_create(c->hs, &c->id, sid.pk, 100 + (uint32_t)i, NULL, init);
		rdvd_input(srv, c->src, (const struct sockaddr *)&c->addr, sizeof(c->addr), init,
		    sizeof(init), now);
		if (!c->up)
			return -1;
	}
	for (int i = 0; i < 2; i++) {
		struct rdv_msg m;
		memset(&m, 0, sizeof(m));
		m.type = RDV_REGISTER;
		str_copy(m.name, i ? "bob" : "alice", sizeof(m.name));
		request(&cl[i], &m);
		memset(&m, 0, sizeof(m));
		m.type = RDV_LOGIN;
		m.status = RDV_ONLINE;
		request(&cl[i], &m);
		memset(&m, 0, sizeof(m));
		m.type = RDV_ALLOW;
		m.mode = RDV_ALLOW_ALLOW;
		memcpy(m.pk, cl[!i].id.pk, 32);
		request(&cl[i], &m);
		rel_poll(&cl[i].rel, now * 1000, 64, emit, &cl[i]);
		rdvd_flush(srv, now);
	}
	return 0;
}

static void control(const uint8_t *b, size_t n)
{
	struct rdvd_conf conf;
	now += n ? 100u * b[0] : 100;
	rdvd_tick(srv, now);
	if (n < 6)
		return;
	rdvd_conf_default(&conf);
	conf.lim.no_sync = 1;
	conf.relay_rate = (uint32_t)b[1] << 8;
	conf.relay_burst = (uint32_t)b[2] << 8;
	conf.relay_pkt_rate = b[3];
	conf.relay_pkt_burst = b[4];
	conf.relay_daily = (uint64_t)b[5] << 10;
	rdvd_set_conf(srv, &conf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static uint8_t pkt[32 + 10 * 256 + 8], pt[sizeof(pkt) + 64];
	if (!ready) {
		uint8_t seed[32];
		if (sodium_init() < 0)
			return 0;
		log_set_file(-1);
		memset(seed, 0x51, sizeof(seed));
		identity_from_seed(seed, &sid);
		for (int i = 0; i < 2; i++) {
			memset(seed, 0x61 + i, sizeof(seed));
			identity_from_seed(seed, &cl[i].id);
			cl[i].addr.sin_family = AF_INET;
			cl[i].addr.sin_port = htons((uint16_t)(5000 + i));
			cl[i].addr.sin_addr.s_addr = htonl(0x7f000001);
			cl[i].src = i ? RDVD_SRC_TCP | 0x10001 : 0;
			cl[i].hs = noise_hs_new();
			cl[i].kp = noise_kp_new();
			rel_init(&cl[i].rel, &no_ops, &cl[i]);
		}
		ready = 1;
	}
	now = 1000000;
	if (setup() < 0)
		return 0;
	for (size_t off = 0; off + 2 <= size;) {
		uint8_t sel = data[off];
		size_t n = data[off + 1], reps = sel & 8 ? 10 : 1, len = 0;
		off += 2;
		if (n > size - off)
			n = size - off;
		const uint8_t *b = data + off;
		off += n;
		struct fcli *c = &cl[sel & 1];
		int kind = sel >> 1 & 3;
		if (kind == 3) {
			control(b, n);
			continue;
		}
		if (kind == 1) {
			memcpy(pkt, cl[!(sel & 1)].id.pk, 32);
			len = 32;
		}
		for (size_t r = 0; r < reps; r++) {
			memcpy(pkt + len, b, n);
			len += n;
		}
		last_in = 0;
		if (kind == 0) {
			to_server(c, pkt, len);
		} else {
			size_t k = frame_put(pt, sizeof(pt), 0, FR_RELAY, pkt, len);
			if (k)
				to_server(c, pt, k);
		}
		rdvd_flush(srv, now);
	}
	return 0;
}
