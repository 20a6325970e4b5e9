/* path.c: which way a contact's packets go (LAN, direct or the rendezvous relay), moving
 * between them without losing anything, and probing for a direct path while on the relay. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "engine_int.h"
#include "log.h"
#include "path.h"
#include "util.h"

/* --- pieces (see path.h) --- */

int path_is_frag(const uint8_t *pkt, size_t len)
{
	return len >= 2 && pkt[0] == NOISE_WIRE_VERSION && pkt[1] == PATH_FRAG_TYPE;
}

int path_frag_split(const uint8_t *pkt, size_t len, uint16_t id,
		    uint8_t out[PATH_FRAG_MAX][RDV_RELAY_MAX], size_t outlen[PATH_FRAG_MAX])
{
	if (len <= PATH_FRAG_PIECE || len > PATH_PKT_MAX)
		return 0;
	int count = (int)((len + PATH_FRAG_PIECE - 1) / PATH_FRAG_PIECE);
	for (int i = 0; i < count; i++) {
		size_t off = (size_t)i * PATH_FRAG_PIECE;
		size_t n = len - off < PATH_FRAG_PIECE ? len - off : PATH_FRAG_PIECE;
		out[i][0] = NOISE_WIRE_VERSION;
		out[i][1] = PATH_FRAG_TYPE;
		put_u16(out[i] + 2, id);
		out[i][4] = (uint8_t)i;
		out[i][5] = (uint8_t)count;
		memcpy(out[i] + PATH_FRAG_HDR, pkt + off, n);
		outlen[i] = PATH_FRAG_HDR + n;
	}
	return count;
}

int path_frag_add(struct path_frag *f, const uint8_t *piece, size_t len, const uint8_t **pkt, size_t *pktlen)
{
	if (!path_is_frag(piece, len) || len <= PATH_FRAG_HDR || len > RDV_RELAY_MAX)
		return -1;
	uint16_t id = get_u16(piece + 2);
	uint8_t idx = piece[4], count = piece[5];
	size_t n = len - PATH_FRAG_HDR;
	if (count < 2 || count > PATH_FRAG_MAX || idx >= count)
		return -1;
	if (idx + 1 < count ? n != PATH_FRAG_PIECE : n > PATH_FRAG_PIECE)
		return -1;
	if (!f->have || f->id != id || f->count != count) {
		f->id = id;
		f->count = count;
		f->have = 0;
	}
	memcpy(f->buf + (size_t)idx * PATH_FRAG_PIECE, piece + PATH_FRAG_HDR, n);
	if (idx + 1 == count)
		f->last_len = n;
	f->have |= (uint8_t)(1u << idx);
	if (f->have != (1u << count) - 1)
		return 0;
	f->have = 0;
	*pkt = f->buf;
	*pktlen = (size_t)(count - 1) * PATH_FRAG_PIECE + f->last_len;
	return 1;
}

/* --- the path of one contact --- */

static int addr_eq(const struct sockaddr_storage *a, socklen_t al, const struct sockaddr *b, socklen_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

void path_send_relay(struct contact *c, const uint8_t *pkt, size_t len)
{
	struct rdv_srv *s = c->e->rdv ? rdv_relay_srv(c->e->rdv, c) : NULL;
	if (!s)
		return;
	if (len <= RDV_RELAY_MAX) {
		rdv_relay_send(s, c->pk, pkt, len);
		return;
	}
	uint8_t piece[PATH_FRAG_MAX][RDV_RELAY_MAX];
	size_t plen[PATH_FRAG_MAX];
	int n = path_frag_split(pkt, len, ++c->s.frag_id, piece, plen);
	for (int i = 0; i < n; i++)
		rdv_relay_send(s, c->pk, piece[i], plen[i]);
}

int path_relay_ok(const struct contact *c)
{
	return c->e->rdv && rdv_relay_srv(c->e->rdv, c) != NULL;
}

void path_relay_input(struct engine *e, const uint8_t pk[32], const uint8_t *pkt, size_t len)
{
	if (path_is_frag(pkt, len)) {
		struct contact *c = contact_find_pk(e, pk);
		const uint8_t *whole;
		size_t wlen;
		if (!c || (!c->s.frag && !(c->s.frag = calloc(1, sizeof(*c->s.frag)))))
			return;
		if (path_frag_add(c->s.frag, pkt, len, &whole, &wlen) == 1)
			session_packet(e, whole, wlen, NULL, 0, pk);
		return;
	}
	session_packet(e, pkt, len, NULL, 0, pk);
}

/* Tell the front end when the path's name changed from before (a contact_path() result). */
void path_label_changed(struct contact *c, const char *before)
{
	const char *now = contact_path(c);
	if (strcmp(before, now) == 0)
		return;
	log_info("%s: path %s -> %s", c->id, before, now);
	if (c->online)
		engine_emit(c->e, &(struct event){ .type = EV_PATH, .id = c->id, .name = c->name, .path = now });
}

static void punch_start(struct contact *c)
{
	c->s.punch_gap_ms = PATH_PUNCH_MIN_MS;
	c->s.punch_ms = mono_ms() + PATH_PUNCH_FIRST_MS;
	c->s.punch_rounds = 0;
}

int path_sock(const struct contact *c)
{
	return c->s.own_fd > 0 ? c->s.own_fd : c->e->fd;
}

/* The direct path now runs over the socket the current packet came in on. */
static void set_sock(struct contact *c)
{
	struct engine *e = c->e;
	int fd = e->rx_fd > 0 && e->rx_fd != e->fd ? e->rx_fd : 0;
	/* Only the contact a spray is for takes one of its sockets: another peer that happens
	 * to reach one (a stranger's INIT) is answered from the main socket. */
	if (fd && fd != c->s.own_fd && !spray_for(e, c, fd))
		fd = 0;
	if (fd == c->s.own_fd)
		return;
	if (c->s.own_fd > 0 && !spray_owns(e, c->s.own_fd)) {
		loop_del(e->loop, c->s.own_fd);
		close(c->s.own_fd);
	}
	c->s.own_fd = fd;
}

void path_set(struct contact *c, const struct sockaddr *src, socklen_t srclen)
{
	const char *before = contact_path(c);
	int was_relay = c->s.relay;
	if (src) {
		int old_sock = path_sock(c);
		int moved = c->s.relay || !addr_eq(&c->s.addr, c->s.addrlen, src, srclen);
		c->s.addrlen = addr_for_socket(c->e, src, srclen, &c->s.addr);
		set_sock(c);
		moved |= path_sock(c) != old_sock;
		c->s.relay = 0;
		c->s.direct_rx_ms = mono_ms();
		if (moved && session_up(c))
			rel_path_change(&c->rel);
	} else {
		c->s.relay = 1;
		if (!was_relay) {
			punch_start(c);
			if (session_up(c))
				rel_path_change(&c->rel);
		}
	}
	c->s.unanswered_ms = 0;
	path_label_changed(c, before);
}

/* An authenticated packet from the peer of an established session: src NULL = relayed. */
void path_heard(struct contact *c, const struct sockaddr *src, socklen_t srclen)
{
	uint64_t now = mono_ms();
	c->s.ka_out = 0;
	if (src) {
		/* Whatever reaches us directly can be answered directly (the reverse of a NAT
		 * binding is open to it): the direct path works, and the peer may have moved. */
		int sock_moved = path_sock(c) != c->e->rx_fd && (c->s.own_fd > 0 || spray_for(c->e, c, c->e->rx_fd));
		if (c->s.relay || !addr_eq(&c->s.addr, c->s.addrlen, src, srclen) || sock_moved)
			path_set(c, src, srclen);
		c->s.direct_rx_ms = now;
		c->s.unanswered_ms = 0;
		return;
	}
	/* The peer gave up on the direct path, and it has been silent here as well. */
	if (!c->s.relay && now - c->s.direct_rx_ms >= PATH_FALLBACK_MS) {
		log_info("%s: the peer speaks through the relay; direct silent", c->id);
		path_set(c, NULL, 0);
	}
}

/* Every direct address worth a probe: the last direct one, the rendezvous candidates, the
 * LAN beacon's. */
static int probe_targets(struct contact *c, struct sockaddr_storage *ss, socklen_t *len, int max)
{
	int n = 0;
	struct sockaddr_storage tmp[SESSION_MAX_CAND + 2];
	socklen_t tl[SESSION_MAX_CAND + 2];
	int m = 0;
	if (c->s.addrlen) {
		tmp[m] = c->s.addr;
		tl[m++] = c->s.addrlen;
	}
	for (int i = 0; i < c->s.ncand; i++) {
		tmp[m] = c->s.cand[i];
		tl[m++] = c->s.cand_len[i];
	}
	const struct peer *p = contact_lan_peer(c);
	if (p) {
		tl[m] = addr_for_socket(c->e, (const struct sockaddr *)&p->addr, p->addrlen, &tmp[m]);
		m++;
	}
	for (int i = 0; i < m && n < max; i++) {
		int dup = 0;
		for (int j = 0; j < n; j++)
			dup |= addr_eq(&ss[j], len[j], (struct sockaddr *)&tmp[i], tl[i]);
		if (!dup) {
			ss[n] = tmp[i];
			len[n++] = tl[i];
		}
	}
	return n;
}

static void probe(struct contact *c)
{
	struct sockaddr_storage ss[SESSION_MAX_CAND + 2];
	socklen_t len[SESSION_MAX_CAND + 2];
	int n = probe_targets(c, ss, len, SESSION_MAX_CAND + 2);
	c->s.probe_at_ms = 0;
	if (n) {
		log_debug("%s: probing %d direct address%s", c->id, n, n == 1 ? "" : "es");
		session_probe(c, path_sock(c), ss, len, n);
	}
}

/* FR_PUNCH through the relay: the peer probes at the moment ours arrive; with a body byte 1,
 * it sprays (spray.c). */
void path_on_punch(struct contact *c, const uint8_t *body, size_t len)
{
	if (!c->s.relay || !session_up(c))
		return;
	if (len >= 1 && body[0] == 1)
		spray_start(c);
	else
		probe(c);
}

/* A probe round on the relay, coordinated as in DCUtR: the side with the lower key sends
 * FR_PUNCH through the relay and probes half a relay round trip later, when its FR_PUNCH
 * reaches the peer, who probes at once; both NATs then see outgoing packets at about the same
 * time. The other side's own rounds probe at once (in case the peer's are lost). */
static void punch_round(struct contact *c, uint64_t now)
{
	c->s.punch_rounds++;
	if (sodium_compare(c->e->me.pk, c->pk, 32) < 0) {
		/* A few rounds in (ordinary punching had its chance) and once more later: spray. */
		uint8_t spray = c->s.punch_rounds == PATH_SPRAY_ROUND || c->s.punch_rounds == PATH_SPRAY_ROUND2;
		session_send_frame(c, FR_PUNCH, &spray, 1);
		uint64_t half = c->rel.srtt_us ? c->rel.srtt_us / 2000 : PATH_PUNCH_DEFAULT_HALF_MS;
		c->s.probe_at_ms = now + (half ? half : 1);
		c->s.spray_due = spray;
	} else {
		probe(c);
	}
	c->s.punch_ms = now + c->s.punch_gap_ms;
	c->s.punch_gap_ms *= 2;
	if (c->s.punch_gap_ms > PATH_PUNCH_MAX_MS)
		c->s.punch_gap_ms = PATH_PUNCH_MAX_MS;
}

void path_tick(struct loop *l, void *arg)
{
	struct contact *c = arg;
	uint64_t now = mono_ms();
	(void)l;
	if (!session_up(c))
		return;
	if (c->s.probe_at_ms && now >= c->s.probe_at_ms) {
		if (c->s.spray_due)
			spray_start(c);
		else
			probe(c);
		c->s.probe_at_ms = 0;
		c->s.spray_due = 0;
	}
	if (c->s.relay && now >= c->s.punch_ms)
		punch_round(c, now);
	if (!c->s.relay && c->s.unanswered_ms && now - c->s.unanswered_ms >= PATH_FALLBACK_MS &&
	    (rel_pending(&c->rel) || c->s.ka_out) && path_relay_ok(c)) {
		log_info("%s: no answer on the direct path for %d ms: relay", c->id, PATH_FALLBACK_MS);
		path_set(c, NULL, 0);
	}
	path_arm(c);
}

/* After each pass: the next thing path_tick has to do. */
void path_arm(struct contact *c)
{
	struct loop *l = c->e->loop;
	uint64_t due = UINT64_MAX;
	if (!session_up(c)) {
		timer_stop(l, &c->t_path);
		return;
	}
	if (!c->s.relay && !rel_pending(&c->rel) && !c->s.ka_out)
		c->s.unanswered_ms = 0;	/* nothing owed to us: silence means nothing */
	if (c->s.probe_at_ms)
		due = c->s.probe_at_ms;
	if (c->s.relay && c->s.punch_ms < due)
		due = c->s.punch_ms;
	if (!c->s.relay && c->s.unanswered_ms && c->e->rdv && c->s.unanswered_ms + PATH_FALLBACK_MS < due)
		due = c->s.unanswered_ms + PATH_FALLBACK_MS;
	if (due == UINT64_MAX)
		timer_stop(l, &c->t_path);
	else if (!timer_armed(&c->t_path) || c->t_path.due_ms != due)
		timer_at(l, &c->t_path, due);
}

/* New candidates from the rendezvous (or a LAN beacon) while on the relay: try them now. */
void path_candidates_changed(struct contact *c)
{
	if (c->s.relay && session_up(c)) {
		punch_start(c);
		path_arm(c);
	}
}
