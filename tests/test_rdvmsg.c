/* test_rdvmsg.c: rendezvous codec: round trips, truncations, known encodings, rejections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "check.h"
#include "rdvmsg.h"
#include "util.h"

static uint8_t sealed_buf[RDV_SEALED_MAX];

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* A fully populated message of each type, maximal where asked. */
static void make(struct rdv_msg *m, uint8_t type, int big)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->req = 0x01020304u + type;
	fill(m->pk, 32, type);
	strcpy(m->name, big ? "abcdefghijklmnopqrstuvwxyz012345" : "Alice.B_c-d");
	if (big) {
		memset(m->text, 'x', RDV_STR8_MAX);
		m->text[RDV_STR8_MAX] = '\0';
		memset(m->handle, 'h', RDV_STR8_MAX);
		m->handle[RDV_STR8_MAX] = '\0';
	} else {
		strcpy(m->text, "out to lunch \xc3\xa9\xe6\x97\xa5");
		strcpy(m->handle, "bob@example.org:7787");
	}
	m->status = RDV_AWAY;
	m->mode = RDV_ALLOW_BLOCK;
	size_t na = type == RDV_PRESENCE ? RDV_ADDR_MAX : RDV_LOCAL_ADDR_MAX;
	m->naddr = (uint8_t)(big ? na : 2);
	for (size_t i = 0; i < m->naddr; i++) {
		m->addr[i].family = i % 2 ? 6 : 4;
		fill(m->addr[i].ip, m->addr[i].family == 4 ? 4 : 16, (uint8_t)i);
		m->addr[i].port = (uint16_t)(1000 + i);
	}
	fill(m->sig, 64, 0x40);
	m->spk_id = 77;
	fill(m->spk, 32, 0x33);
	m->nopk = (uint8_t)(big ? RDV_OPK_MSG_MAX : 3);
	for (size_t i = 0; i < m->nopk; i++) {
		m->opk[i].id = (uint32_t)(i + 1);
		fill(m->opk[i].pk, 32, (uint8_t)(0x80 + i));
	}
	m->mail_id = 0x1122334455667788ULL;
	fill(sealed_buf, sizeof(sealed_buf), 9);
	m->sealed = sealed_buf;
	m->sealed_len = big ? RDV_SEALED_MAX : 200;
	if (type == RDV_RESULT) {
		m->code = RDV_OK;
		m->payload = big ? RDV_PL_BUNDLE : RDV_PL_PK;
	}
}

static const uint8_t all_types[] = {
	RDV_REGISTER, RDV_LOGIN, RDV_ALLOW, RDV_REQUEST, RDV_LOOKUP, RDV_SUBSCRIBE, RDV_STATUS,
	RDV_PREKEYS, RDV_BUNDLE, RDV_MAILPUT, RDV_MAILACK, RDV_RELEASE, RDV_MOVE,
	RDV_RESULT, RDV_PRESENCE, RDV_REQUESTED, RDV_MAIL,
};

static void test_roundtrips(void)
{
	static uint8_t buf[RDV_MSG_MAX + 64], buf2[RDV_MSG_MAX + 64];
	static struct rdv_msg m, d;
	for (size_t t = 0; t < ARRAY_LEN(all_types); t++) {
		for (int big = 0; big < 2; big++) {
			make(&m, all_types[t], big);
			size_t n = rdv_encode(&m, buf, sizeof(buf));
			CHECK(n > 0 && n <= RDV_MSG_MAX);
			if (!n) {
				fprintf(stderr, "type %u big %d did not encode\n", all_types[t], big);
				continue;
			}
			CHECK(buf[0] == all_types[t]);
			CHECK(rdv_decode(buf, n, &d) == 0);
			CHECK(d.type == m.type);
			size_t n2 = rdv_encode(&d, buf2, sizeof(buf2));
			CHECK(n2 == n && memcmp(buf, buf2, n) == 0);
			/* every truncation is rejected, and so is one trailing byte */
			int trunc_ok = 1;
			for (size_t k = 0; k < n; k++) {
				if (rdv_decode(buf, k, &d) != 0)
					continue;
				/* a RESULT's payload is known by its length: a shorter one
				 * of another kind is still a RESULT */
				if (m.type != RDV_RESULT || (k != 6 && k != 38) ||
				    d.payload == m.payload)
					trunc_ok = 0;
			}
			CHECK(trunc_ok);
			buf[n] = 0;
			CHECK(rdv_decode(buf, n + 1, &d) == -1);
			/* a cap one short fails cleanly */
			CHECK(rdv_encode(&m, buf2, n - 1) == 0);
		}
	}
	/* field-level checks on a few */
	make(&m, RDV_LOGIN, 0);
	size_t n = rdv_encode(&m, buf, sizeof(buf));
	CHECK(rdv_decode(buf, n, &d) == 0);
	CHECK(d.req == m.req && d.status == RDV_AWAY && !strcmp(d.text, m.text));
	CHECK(d.naddr == 2 && d.addr[1].family == 6 && d.addr[1].port == 1001);
	CHECK(!memcmp(d.addr[1].ip, m.addr[1].ip, 16));
	make(&m, RDV_MAIL, 1);
	n = rdv_encode(&m, buf, sizeof(buf));
	CHECK(n == 1 + 8 + 32 + 2 + RDV_SEALED_MAX && n <= RDV_MSG_MAX);
	CHECK(rdv_decode(buf, n, &d) == 0);
	CHECK(d.mail_id == m.mail_id && d.sealed == buf + 43 && d.sealed_len == RDV_SEALED_MAX);
	CHECK(!memcmp(d.sealed, sealed_buf, RDV_SEALED_MAX));
	make(&m, RDV_PREKEYS, 1);
	n = rdv_encode(&m, buf, sizeof(buf));
	CHECK(rdv_decode(buf, n, &d) == 0);
	CHECK(d.nopk == RDV_OPK_MSG_MAX && d.opk[99].id == 100 && !memcmp(d.opk[99].pk, m.opk[99].pk, 32));
	make(&m, RDV_RESULT, 1);
	n = rdv_encode(&m, buf, sizeof(buf));
	CHECK(n == 6 + RDV_BUNDLE_LEN);
	CHECK(rdv_decode(buf, n, &d) == 0 && d.payload == RDV_PL_BUNDLE && d.opk[0].id == 1);
	CHECK(d.spk_id == 77 && !memcmp(d.sig, m.sig, 64));
}

static void hex(const char *h, uint8_t *out, size_t *n)
{
	*n = 0;
	while (h[0] && h[1]) {
		if (h[0] == ' ') {
			h++;
			continue;
		}
		unsigned v;
		sscanf(h, "%2x", &v);
		out[(*n)++] = (uint8_t)v;
		h += 2;
	}
}

static void test_kats(void)
{
	uint8_t buf[256], want[256];
	size_t n, wn;
	struct rdv_msg m;

	memset(&m, 0, sizeof(m));
	m.type = RDV_REGISTER;
	m.req = 7;
	strcpy(m.name, "bob");
	n = rdv_encode(&m, buf, sizeof(buf));
	hex("01 00000007 03 626f62", want, &wn);
	CHECK(n == wn && !memcmp(buf, want, n));

	n = rdv_encode_result(0xdeadbeef, RDV_TAKEN, buf, sizeof(buf));
	hex("40 deadbeef 01", want, &wn);
	CHECK(n == wn && !memcmp(buf, want, n));
	CHECK(rdv_decode(buf, n, &m) == 0 && m.req == 0xdeadbeef && m.code == RDV_TAKEN);

	memset(&m, 0, sizeof(m));
	m.type = RDV_LOGIN;
	m.req = 1;
	m.status = RDV_ONLINE;
	strcpy(m.text, "hi");
	m.naddr = 1;
	m.addr[0].family = 4;
	m.addr[0].ip[0] = 192; m.addr[0].ip[1] = 168; m.addr[0].ip[2] = 1; m.addr[0].ip[3] = 2;
	m.addr[0].port = 7787;
	n = rdv_encode(&m, buf, sizeof(buf));
	hex("02 00000001 01 02 6869 01 04 c0a80102 1e6b", want, &wn);
	CHECK(n == wn && !memcmp(buf, want, n));

	memset(&m, 0, sizeof(m));
	m.type = RDV_PRESENCE;
	memset(m.pk, 0xab, 32);
	m.status = RDV_OFFLINE;
	n = rdv_encode(&m, buf, sizeof(buf));
	hex("41 abababababababababababababababababababababababababababababababab 00 00 00", want, &wn);
	CHECK(n == wn && !memcmp(buf, want, n));

	memset(&m, 0, sizeof(m));
	m.type = RDV_MAILACK;
	m.req = 0x10;
	m.mail_id = 0x0102030405060708ULL;
	n = rdv_encode(&m, buf, sizeof(buf));
	hex("0b 00000010 0102030405060708", want, &wn);
	CHECK(n == wn && !memcmp(buf, want, n));
}

static void test_rejects(void)
{
	uint8_t buf[RDV_MSG_MAX + 64] = { 0 }, b2[64];
	size_t n, wn;
	struct rdv_msg m;

	CHECK(rdv_decode(buf, 0, &m) == -1);
	hex("00 00000001", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* type 0 */
	hex("0e 00000001", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* type 14 unknown */
	hex("01 00000001 00", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* empty name */
	hex("01 00000001 02 6100", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* NUL inside */
	hex("07 00000001 01 02 c328", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* bad UTF-8 */
	hex("07 00000001 01 02 c0af", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* overlong */
	hex("07 00000001 01 03 eda080", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* surrogate */
	hex("07 00000001 05 00", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* status 5 */
	hex("07 00000001 04 04 f09f9880", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == 0 && m.status == RDV_INVISIBLE);	/* emoji ok */
	hex("40 00000001 06", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == 0 && m.code == RDV_NOTREG);
	hex("40 00000001 07", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* code 7 */
	hex("40 00000001 01 0000000000000000000000000000000000000000000000000000000000000000", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* payload with TAKEN */
	hex("40 00000001 00 00000000000000000000000000000000000000000000000000000000000000", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* payload of 31 bytes */
	hex("02 00000001 01 00 01 05 01020304 0001", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* family 5 */
	hex("02 00000001 01 00 09", b2, &wn);
	CHECK(rdv_decode(b2, wn, &m) == -1);		/* 9 local addresses */

	make(&m, RDV_ALLOW, 0);
	m.mode = 3;
	CHECK(rdv_encode(&m, buf, sizeof(buf)) == 0);
	m.mode = 1;
	n = rdv_encode(&m, buf, sizeof(buf));
	buf[n - 1] = 3;
	CHECK(rdv_decode(buf, n, &m) == -1);

	make(&m, RDV_PRESENCE, 0);
	m.status = RDV_OFFLINE;
	CHECK(rdv_encode(&m, buf, sizeof(buf)) == 0);	/* offline with addresses */
	m.naddr = 0;
	CHECK(rdv_encode(&m, buf, sizeof(buf)) > 0);

	make(&m, RDV_MAILPUT, 0);
	m.sealed_len = RDV_SEALED_MAX + 1;
	CHECK(rdv_encode(&m, buf, sizeof(buf)) == 0);
	m.sealed_len = 10;
	n = rdv_encode(&m, buf, sizeof(buf));
	put_u16(buf + 37, RDV_SEALED_MAX + 1);
	CHECK(rdv_decode(buf, n, &m) == -1);

	make(&m, RDV_PREKEYS, 0);
	m.nopk = RDV_OPK_MSG_MAX + 1;
	CHECK(rdv_encode(&m, buf, sizeof(buf)) == 0);

	make(&m, RDV_RESULT, 0);
	m.code = RDV_NOTFOUND;
	CHECK(rdv_encode(&m, buf, sizeof(buf)) == 0);	/* payload only with OK */
	m.payload = RDV_PL_BUNDLE;
	m.code = RDV_OK;
	m.opk[0].id = 0;
	CHECK(rdv_encode(&m, buf, sizeof(buf)) == 0);	/* opk_id 0 with nonzero opk */
	memset(m.opk[0].pk, 0, 32);
	n = rdv_encode(&m, buf, sizeof(buf));
	CHECK(n > 0);
	buf[n - 1] = 1;
	CHECK(rdv_decode(buf, n, &m) == -1);

	make(&m, RDV_REGISTER, 0);
	strcpy(m.name, "");
	CHECK(rdv_encode(&m, buf, sizeof(buf)) == 0);
	memset(m.name, 'a', sizeof(m.name));		/* unterminated 33 bytes: too long */
	CHECK(rdv_encode(&m, buf, sizeof(buf)) == 0);

	uint8_t type;
	uint32_t req;
	hex("0d 0000002a ff", b2, &wn);
	CHECK(rdv_peek_req(b2, wn, &type, &req) == 0 && type == RDV_MOVE && req == 42);
	CHECK(rdv_decode(b2, wn, &m) == -1);
	hex("40 0000002a 00", b2, &wn);
	CHECK(rdv_peek_req(b2, wn, &type, &req) == -1);	/* RESULT is not a request */
	CHECK(rdv_peek_req(b2, 4, &type, &req) == -1);
}

static void test_names(void)
{
	char out[RDV_NAME_MAX + 1];
	CHECK(rdv_name_norm("Alice", out) == 0 && !strcmp(out, "alice"));
	CHECK(rdv_name_norm("0day.x_y-z", out) == 0 && !strcmp(out, "0day.x_y-z"));
	CHECK(rdv_name_norm("abcdefghijklmnopqrstuvwxyz012345", out) == 0);
	CHECK(rdv_name_norm("abcdefghijklmnopqrstuvwxyz0123456", out) == -1);
	CHECK(rdv_name_norm("", out) == -1);
	CHECK(rdv_name_norm(".alice", out) == -1);
	CHECK(rdv_name_norm("-a", out) == -1);
	CHECK(rdv_name_norm("al ice", out) == -1);
	CHECK(rdv_name_norm("al@ice", out) == -1);
	CHECK(rdv_name_norm("\xc3\xa9t\xc3\xa9", out) == -1);

	uint8_t pk[32], msg[RDV_MOVE_SIGMSG_MAX], spk[RDV_SPK_SIGMSG_LEN];
	memset(pk, 0x5a, 32);
	size_t n = rdv_move_sigmsg("BoB", pk, msg);
	CHECK(n == 11 + 3 + 32 && !memcmp(msg, "tincan-movebob", 14) && msg[14] == 0x5a);
	CHECK(rdv_move_sigmsg("b b", pk, msg) == 0);
	rdv_spk_sigmsg(0x01020304, pk, spk);
	CHECK(!memcmp(spk, "tincan-spk\x01\x02\x03\x04", 14) && spk[45] == 0x5a);
}

static void test_addrs(void)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(4242) };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(99) };
	struct sockaddr_storage ss;
	struct rdv_addr a;
	inet_pton(AF_INET, "10.1.2.3", &s4.sin_addr);
	CHECK(rdv_addr_from_sa(&a, (struct sockaddr *)&s4, sizeof(s4)) == 0);
	CHECK(a.family == 4 && a.port == 4242 && a.ip[0] == 10 && a.ip[3] == 3 && rdv_addr_len(&a) == 7);
	CHECK(rdv_addr_to_sa(&a, &ss) == sizeof(s4) && !memcmp(&ss, &s4, sizeof(s4)));
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	CHECK(rdv_addr_from_sa(&a, (struct sockaddr *)&s6, sizeof(s6)) == 0);
	CHECK(a.family == 6 && a.port == 99 && a.ip[15] == 1 && rdv_addr_len(&a) == 19);
	CHECK(rdv_addr_to_sa(&a, &ss) == sizeof(s6));
	CHECK(!memcmp(((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr, s6.sin6_addr.s6_addr, 16));
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &s6.sin6_addr);
	CHECK(rdv_addr_from_sa(&a, (struct sockaddr *)&s6, sizeof(s6)) == 0);
	CHECK(a.family == 4 && a.ip[0] == 192 && a.ip[3] == 7);
	CHECK(rdv_addr_from_sa(&a, (struct sockaddr *)&s4, 4) == -1);
	a.family = 5;
	CHECK(rdv_addr_to_sa(&a, &ss) == 0 && rdv_addr_len(&a) == 0);
}

int main(void)
{
	test_roundtrips();
	test_kats();
	test_rejects();
	test_names();
	test_addrs();
	return check_end("test_rdvmsg");
}
