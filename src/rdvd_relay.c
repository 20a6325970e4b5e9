/* rdvd_relay.c: the rendezvous relay: FR_RELAY datagrams between two users online here. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rdvd_int.h"
#include "util.h"

/*
 * A client that cannot reach a contact directly sends, inside its session with the server and
 * outside rel, a frame FR_RELAY = target pk (32) | peer packet (1..RDVD_RELAY_MAX bytes). The
 * server forwards it at once, as FR_RELAY = source pk (32) | the same packet, alone in a DATA
 * packet of the target's session, when all of these hold:
 *
 *	- relaying is on (every relay limit in the configuration is nonzero);
 *	- sender or target (or both) has an account here, and each of them that has one has the
 *	  other in its allow list with mode ALLOW (a block, a removal or a missing entry stops
 *	  it): two contacts with homes on different servers relay each through the other's home;
 *	- the target has a session here that has completed its handshake (over UDP or TCP);
 *	- the token buckets (bytes and packets per second) and the daily byte quota of the
 *	  sender's account, or of the target's when the sender has none here, have room.
 *
 * Anything else is dropped without an answer, counted, and logged at debug level. Nothing is
 * kept per session: the only state is one small record per account that paid for a relay today.
 */

enum {
	RELAY_DAY_MS = 86400000,
	RELAY_TAB_MIN = 64,		/* slots when the table is (re)started */
	RELAY_HDR = 3 + 32,		/* frame header and key */
};

_Static_assert(RELAY_HDR + RDVD_RELAY_MAX + NOISE_DATA_OVERHEAD <= REL_MAX_PKT + NOISE_DATA_OVERHEAD,
    "a relayed packet fits the server's send buffer");
_Static_assert(RDVD_RELAY_MAX <= 0xffff - 32, "the frame length is a u16");

enum relay_verdict {
	RELAY_SENT = 0,
	RELAY_DENIED,		/* malformed, off, not allowed, offline: policy */
	RELAY_LIMITED,		/* rate or quota */
};

static int relay_on(const struct rdvd_conf *c)
{
	return c->relay_rate && c->relay_burst && c->relay_pkt_rate && c->relay_pkt_burst &&
	    c->relay_daily;
}

static uint32_t relay_hash(uint32_t id)
{
	return id * 2654435761u;
}

/* Slot of id in tab (its own or the empty one where it would go). */
static struct relay_user *relay_find(struct relay_user *tab, uint32_t mask, uint32_t id)
{
	uint32_t i = relay_hash(id) & mask;
	while (tab[i].id && tab[i].id != id)
		i = (i + 1) & mask;
	return &tab[i];
}

static int relay_grow(struct rdvd *srv)
{
	uint32_t cap = (srv->relay_mask + 1) * 2;
	if (cap < srv->relay_mask + 1)
		return -1;
	struct relay_user *tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return -1;
	for (uint32_t i = 0; i <= srv->relay_mask; i++)
		if (srv->relay[i].id)
			*relay_find(tab, cap - 1, srv->relay[i].id) = srv->relay[i];
	free(srv->relay);
	srv->relay = tab;
	srv->relay_mask = cap - 1;
	return 0;
}

void rdvd_relay_free(struct rdvd *srv)
{
	free(srv->relay);
	srv->relay = NULL;
	srv->relay_mask = srv->relay_count = 0;
}

/* The sender's record, made with full buckets if new; NULL when out of memory. A new 24-hour
 * period starts the table afresh, which is also what restarts every daily count. */
static struct relay_user *relay_user(struct rdvd *srv, uint32_t id, uint32_t gen, uint64_t now)
{
	const struct rdvd_conf *c = &srv->conf;
	uint64_t day = now / RELAY_DAY_MS;
	if (srv->relay && day != srv->relay_day)
		rdvd_relay_free(srv);
	if (!srv->relay) {
		if (!(srv->relay = calloc(RELAY_TAB_MIN, sizeof(*srv->relay))))
			return NULL;
		srv->relay_mask = RELAY_TAB_MIN - 1;
		srv->relay_count = 0;
		srv->relay_day = day;
	}
	struct relay_user *u = relay_find(srv->relay, srv->relay_mask, id);
	if (u->id == id && u->gen == gen)
		return u;
	if (!u->id) {
		if ((srv->relay_count + 1) * 2 > srv->relay_mask + 1) {
			if (relay_grow(srv) < 0)
				return NULL;
			u = relay_find(srv->relay, srv->relay_mask, id);
		}
		srv->relay_count++;
	}
	/* new, or the id now belongs to another account (released and reused) */
	u->id = id;
	u->gen = gen;
	u->last_ms = now;
	u->bytes_milli = (uint64_t)c->relay_burst * 1000;
	u->pkts_milli = (uint64_t)c->relay_pkt_burst * 1000;
	u->day_bytes = 0;
	return u;
}

/* Refill both buckets, then take one packet of len bytes if both and the day allow it. */
static int relay_take(const struct rdvd_conf *c, struct relay_user *u, size_t len, uint64_t now)
{
	uint64_t bcap = (uint64_t)c->relay_burst * 1000, pcap = (uint64_t)c->relay_pkt_burst * 1000;
	if (now > u->last_ms) {
		uint64_t dt = now - u->last_ms;
		if (dt > RELAY_DAY_MS)
			dt = RELAY_DAY_MS;
		/* rate per second = rate thousandths per millisecond */
		u->bytes_milli += dt * c->relay_rate;
		u->pkts_milli += dt * c->relay_pkt_rate;
		u->last_ms = now;
	}
	if (u->bytes_milli > bcap)
		u->bytes_milli = bcap;
	if (u->pkts_milli > pcap)
		u->pkts_milli = pcap;
	if (u->day_bytes + len > c->relay_daily || u->bytes_milli < (uint64_t)len * 1000 ||
	    u->pkts_milli < 1000)
		return 0;
	u->bytes_milli -= (uint64_t)len * 1000;
	u->pkts_milli -= 1000;
	u->day_bytes += len;
	return 1;
}

/* The account of pk if it has one here, with its generation. */
static uint32_t account(const struct rdvd *srv, const uint8_t pk[32], uint32_t *gen)
{
	uint32_t id = acct_by_pk(srv->db, pk);
	*gen = id ? acct_gen(srv->db, id) : 0;
	return id;
}

static enum relay_verdict relay(struct rdvd *srv, struct sess *s, const uint8_t *body, size_t len,
    const char **why)
{
	uint8_t pt[RELAY_HDR + RDVD_RELAY_MAX];
	uint32_t gs, gt;
	if (!relay_on(&srv->conf)) {
		*why = "relaying is off";
		return RELAY_DENIED;
	}
	if (len <= 32 || len > 32 + RDVD_RELAY_MAX) {
		*why = "malformed frame";
		return RELAY_DENIED;
	}
	const uint8_t *target = body;
	uint32_t ids = account(srv, s->pk, &gs), idt = account(srv, target, &gt);
	if ((!ids && !idt) || ids == idt) {
		*why = "neither has an account here";
		return RELAY_DENIED;
	}
	/* Each of the two that has its home here allows the other (a contact whose home is
	 * elsewhere relays through this one's home, and this one through the contact's). */
	if ((idt && acct_mode(srv->db, idt, s->pk) != RDV_ALLOW_ALLOW) ||
	    (ids && acct_mode(srv->db, ids, target) != RDV_ALLOW_ALLOW)) {
		*why = "not allowed";
		return RELAY_DENIED;
	}
	struct sess *t = rdvd_sess_by_pk(srv, target);
	if (!t || t->state != SESS_UP || !t->cur || (t->flags & SF_CLOSE)) {
		*why = "target not connected";
		return RELAY_DENIED;
	}
	/* The sender pays; a sender with no account here, the account holder who allowed it. */
	struct relay_user *u = ids ? relay_user(srv, ids, gs, srv->now_ms) : relay_user(srv, idt, gt, srv->now_ms);
	if (!u || !relay_take(&srv->conf, u, len - 32, srv->now_ms)) {
		*why = u ? "over the paying account's rate or daily quota" : "out of memory";
		return RELAY_LIMITED;
	}
	pt[0] = FR_RELAY;
	put_u16(pt + 1, (uint16_t)len);
	memcpy(pt + 3, s->pk, 32);
	memcpy(pt + RELAY_HDR, body + 32, len - 32);
	int n = noise_encrypt(t->cur, pt, 3 + len, srv->ct, sizeof(srv->ct));
	if (n < 0) {
		*why = "target's keys expired";
		return RELAY_DENIED;
	}
	srv->st.relayed++;
	srv->st.relay_bytes += len - 32;
	srv->st.tx_packets++;
	srv->st.tx_bytes += (uint64_t)n;
	srv->send(srv->send_arg, t->src | RDVD_SEND_DROPPABLE, &t->addr.sa, t->addrlen, srv->ct,
	    (size_t)n);
	return RELAY_SENT;
}

void rdvd_relay_frame(void *arg, int type, const uint8_t *body, size_t len)
{
	struct sess *s = arg;
	struct rdvd *srv = s->srv;
	const char *why = NULL;
	if (type != FR_RELAY || (s->flags & SF_CLOSE))
		return;
	switch (relay(srv, s, body, len, &why)) {
	case RELAY_SENT:
		return;
	case RELAY_DENIED:
		srv->st.relay_denied++;
		break;
	case RELAY_LIMITED:
		srv->st.relay_limited++;
		break;
	}
	log_debug("relay: dropped a packet (%s)", why);
}
