/* rdvd.c: rendezvous server core: session store, keypair pool, handshakes, cookies, rate limits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "rdvd_int.h"
#include "stun.h"
#include "util.h"

void rdvd_conf_default(struct rdvd_conf *c)
{
	memset(c, 0, sizeof(*c));
	acct_limits_default(&c->lim);
	c->max_sessions = 250000;
	c->session_timeout_ms = 55000;
	c->hs_load = 2000;
	c->hs_rate = 20;
	c->hs_burst = 40;
	c->req_rate = 100;
	c->req_burst = 1000;
	c->contact_rate = 10;
	c->contact_burst = 5;
	c->reg_rate = 30;
	c->reg_burst = 10;
	c->max_subs = 1000;
	c->max_queue = 4096;
	c->relay_rate = 262144;
	c->relay_burst = 1048576;
	c->relay_pkt_rate = 400;
	c->relay_pkt_burst = 1000;
	c->relay_daily = 1ull << 30;
}

/* --- token buckets --- */

int rdvd_bucket_take(struct bucket *b, uint32_t rate, uint32_t burst, uint32_t period_s,
    uint64_t now_ms)
{
	if (!rate)
		return 1;
	uint32_t now = (uint32_t)now_ms | 1;
	uint64_t cap = (uint64_t)(burst ? burst : 1) * 1000, m = b->milli;
	if (!b->last_ms) {
		m = cap;
		b->last_ms = now;
	} else {
		uint64_t add = (uint64_t)(uint32_t)(now - b->last_ms) * rate / period_s;
		if (add) {	/* a fraction of a thousandth waits for the next call */
			m += add;
			b->last_ms = now;
		}
	}
	if (m > cap)
		m = cap;
	if (m < 1000) {
		b->milli = (uint32_t)m;
		return 0;
	}
	b->milli = (uint32_t)(m - 1000);
	return 1;
}

struct bucket *rdvd_bucket_for(struct rdvd *srv, struct bucket *tab, uint32_t n, const void *key,
    size_t klen)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, key, klen, srv->hkey);
	return &tab[get_u32(h) & (n - 1)];
}

size_t rdvd_src_key(const union rdvd_sa *a, uint8_t out[18], int with_port)
{
	struct rdv_addr r;
	if (rdv_addr_from_sa(&r, &a->sa, a->sa.sa_family == AF_INET ? sizeof(a->in) : sizeof(a->in6)) < 0)
		return 0;
	size_t n = r.family == 4 ? 4 : with_port ? 16 : 8;
	memcpy(out, r.ip, n);
	if (!with_port)
		return n;
	put_u16(out + n, r.port);
	return n + 2;
}

/* --- u32 maps --- */

static uint32_t mix32(uint32_t k)
{
	return k * 2654435761u;
}

static int map_init(struct u32map *m, uint32_t cap)
{
	m->e = calloc(cap, sizeof(*m->e));
	m->mask = cap - 1;
	m->count = 0;
	return m->e ? 0 : -1;
}

static uint32_t map_get(const struct u32map *m, uint32_t key)
{
	for (uint32_t i = mix32(key) & m->mask; m->e[i].key; i = (i + 1) & m->mask)
		if (m->e[i].key == key)
			return m->e[i].sess;
	return UINT32_MAX;
}

static void map_put_raw(struct u32map *m, uint32_t key, uint32_t sess)
{
	uint32_t i = mix32(key) & m->mask;
	while (m->e[i].key && m->e[i].key != key)
		i = (i + 1) & m->mask;
	if (!m->e[i].key)
		m->count++;
	m->e[i].key = key;
	m->e[i].sess = sess;
}

static int map_put(struct u32map *m, uint32_t key, uint32_t sess)
{
	if ((m->count + 1) * 2 > m->mask + 1) {
		struct u32map old = *m;
		if (map_init(m, (old.mask + 1) * 2) < 0) {
			*m = old;
			return -1;
		}
		for (uint32_t i = 0; i <= old.mask; i++)
			if (old.e[i].key)
				map_put_raw(m, old.e[i].key, old.e[i].sess);
		free(old.e);
	}
	map_put_raw(m, key, sess);
	return 0;
}

static void map_del(struct u32map *m, uint32_t key)
{
	if (!key)
		return;
	uint32_t i = mix32(key) & m->mask;
	while (m->e[i].key != key) {
		if (!m->e[i].key)
			return;
		i = (i + 1) & m->mask;
	}
	for (uint32_t j = i;;) {
		j = (j + 1) & m->mask;
		if (!m->e[j].key)
			break;
		uint32_t k = mix32(m->e[j].key) & m->mask;
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		m->e[i] = m->e[j];
		i = j;
	}
	m->e[i].key = 0;
	m->count--;
}

uint32_t rdvd_tcp_session(const struct rdvd *srv, uint32_t src)
{
	return map_get(&srv->by_tcp, src);
}

/* --- sessions --- */

struct sess *rdvd_sess(const struct rdvd *srv, uint32_t i)
{
	return i < srv->nsess_slots ? &srv->chunks[i / SESS_CHUNK][i % SESS_CHUNK] : NULL;
}

static uint32_t pk_hash(const struct rdvd *srv, const uint8_t pk[32])
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, pk, 32, srv->hkey);
	return get_u32(h);
}

struct sess *rdvd_sess_by_pk(const struct rdvd *srv, const uint8_t pk[32])
{
	for (uint32_t i = pk_hash(srv, pk) & srv->pk_mask; srv->by_pk[i]; i = (i + 1) & srv->pk_mask) {
		struct sess *s = rdvd_sess(srv, srv->by_pk[i] - 1);
		if (!memcmp(s->pk, pk, 32))
			return s;
	}
	return NULL;
}

static void pk_put_raw(struct rdvd *srv, uint32_t *tab, uint32_t mask, uint32_t sidx)
{
	uint32_t i = pk_hash(srv, rdvd_sess(srv, sidx)->pk) & mask;
	while (tab[i])
		i = (i + 1) & mask;
	tab[i] = sidx + 1;
}

static int pk_put(struct rdvd *srv, uint32_t sidx)
{
	if ((srv->pk_count + 1) * 2 > srv->pk_mask + 1) {
		uint32_t cap = (srv->pk_mask + 1) * 2, *tab = calloc(cap, sizeof(*tab));
		if (!tab)
			return -1;
		for (uint32_t i = 0; i <= srv->pk_mask; i++)
			if (srv->by_pk[i])
				pk_put_raw(srv, tab, cap - 1, srv->by_pk[i] - 1);
		free(srv->by_pk);
		srv->by_pk = tab;
		srv->pk_mask = cap - 1;
	}
	pk_put_raw(srv, srv->by_pk, srv->pk_mask, sidx);
	srv->pk_count++;
	return 0;
}

static void pk_del(struct rdvd *srv, const struct sess *s)
{
	uint32_t m = srv->pk_mask, i = pk_hash(srv, s->pk) & m, *t = srv->by_pk;
	while (t[i] != s->idx + 1) {
		if (!t[i])
			return;
		i = (i + 1) & m;
	}
	for (uint32_t j = i;;) {
		j = (j + 1) & m;
		if (!t[j])
			break;
		uint32_t k = pk_hash(srv, rdvd_sess(srv, t[j] - 1)->pk) & m;
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		t[i] = t[j];
		i = j;
	}
	t[i] = 0;
	srv->pk_count--;
}

/* --- keypairs: a pool in sodium_malloc'd arenas (guard pages per arena, not per keypair) --- */

static struct noise_keypair *kp_get(struct rdvd *srv)
{
	if (!srv->nkp_free) {
		struct noise_keypair *arena = sodium_malloc(KP_CHUNK * sizeof(*arena));
		struct noise_keypair **as = realloc(srv->kp_arenas, (srv->nkp_arenas + 1) * sizeof(*as));
		uint32_t cap = srv->ckp_free + KP_CHUNK;
		struct noise_keypair **fl = realloc(srv->kp_free, cap * sizeof(*fl));
		if (as)
			srv->kp_arenas = as;
		if (fl) {
			srv->kp_free = fl;
			srv->ckp_free = cap;
		}
		if (!arena || !as || !fl) {
			sodium_free(arena);
			return NULL;
		}
		sodium_memzero(arena, KP_CHUNK * sizeof(*arena));
		srv->kp_arenas[srv->nkp_arenas++] = arena;
		for (uint32_t i = KP_CHUNK; i-- > 0;)
			srv->kp_free[srv->nkp_free++] = &arena[i];
	}
	srv->nkp++;
	return srv->kp_free[--srv->nkp_free];
}

static void kp_put(struct rdvd *srv, struct noise_keypair *kp)
{
	map_del(&srv->by_idx, kp->local_idx);
	sodium_memzero(kp, sizeof(*kp));
	srv->kp_free[srv->nkp_free++] = kp;
	srv->nkp--;
}

static uint32_t new_index(const struct rdvd *srv)
{
	uint32_t i;
	do
		i = randombytes_random();
	while (i == 0 || map_get(&srv->by_idx, i) != UINT32_MAX);
	return i;
}

void rdvd_touch(struct rdvd *srv, struct sess *s)
{
	if (s->flags & SF_TOUCHED)
		return;
	if (srv->ntouched == srv->ctouched) {
		uint32_t cap = srv->ctouched ? srv->ctouched * 2 : 256;
		uint32_t *p = realloc(srv->touched, cap * sizeof(*p));
		if (!p)
			return;
		srv->touched = p;
		srv->ctouched = cap;
	}
	srv->touched[srv->ntouched++] = s->idx;
	s->flags |= SF_TOUCHED;
}

static struct sess *sess_new(struct rdvd *srv, const uint8_t pk[32], uint64_t now)
{
	uint32_t i;
	if (srv->nsessions >= srv->conf.max_sessions)
		return NULL;
	if (srv->nfree_sess) {
		i = srv->free_sess[--srv->nfree_sess];
	} else {
		if (srv->nsess_slots % SESS_CHUNK == 0) {
			uint32_t c = srv->nsess_slots / SESS_CHUNK;
			struct sess **cs = realloc(srv->chunks, (c + 1) * sizeof(*cs));
			if (!cs)
				return NULL;
			srv->chunks = cs;
			if (!(cs[c] = calloc(SESS_CHUNK, sizeof(struct sess))))
				return NULL;
			srv->nchunks = c + 1;
		}
		i = srv->nsess_slots++;
	}
	struct sess *s = rdvd_sess(srv, i);
	memset(s, 0, sizeof(*s));
	s->srv = srv;
	s->idx = i;
	memcpy(s->pk, pk, 32);
	s->state = SESS_HS;
	s->created_ms = s->last_rx_ms = now;
	rel_init(&s->rel, &rdvd_rel_ops, s);
	if (pk_put(srv, i) < 0) {
		s->state = SESS_FREE;
		srv->free_sess[srv->nfree_sess++] = i;
		return NULL;
	}
	srv->nsessions++;
	srv->nhandshaking++;
	return s;
}

void rdvd_sess_free(struct rdvd *srv, struct sess *s)
{
	if (s->state == SESS_FREE)
		return;
	if (s->acct)
		rdvd_logout(srv, s);
	if (s->cur)
		kp_put(srv, s->cur);
	if (s->next)
		kp_put(srv, s->next);
	if (s->src & RDVD_SRC_TCP && map_get(&srv->by_tcp, s->src) == s->idx)
		map_del(&srv->by_tcp, s->src);
	pk_del(srv, s);
	rel_free(&s->rel);
	rdvd_ext_free(s);
	if (s->state == SESS_HS)
		srv->nhandshaking--;
	srv->nsessions--;
	s->state = SESS_FREE;
	s->flags = 0;
	if (srv->nfree_sess == srv->cfree_sess) {
		uint32_t cap = srv->cfree_sess ? srv->cfree_sess * 2 : 1024;
		uint32_t *p = realloc(srv->free_sess, cap * sizeof(*p));
		if (!p)
			return;	/* the slot is lost, nothing else */
		srv->free_sess = p;
		srv->cfree_sess = cap;
	}
	srv->free_sess[srv->nfree_sess++] = s->idx;
}

static void set_source(struct rdvd *srv, struct sess *s, uint32_t src, const union rdvd_sa *a,
    socklen_t alen)
{
	if (s->src & RDVD_SRC_TCP && s->src != src && map_get(&srv->by_tcp, s->src) == s->idx)
		map_del(&srv->by_tcp, s->src);
	if (src & RDVD_SRC_TCP && s->src != src)
		map_put(&srv->by_tcp, src, s->idx);
	s->src = src;
	s->addr = *a;
	s->addrlen = (uint8_t)alen;
}

/* A fresh rel for a new handshake; what the client had not stored is sent again. */
static void rel_fresh(struct sess *s)
{
	struct rel old = s->rel;
	rel_init(&s->rel, &rdvd_rel_ops, s);
	for (size_t i = 0; i < old.cnt; i++) {
		const struct rel_out *o = &old.q[(old.head + i) % old.cap];
		if (o->seq > old.acked)
			rel_queue(&s->rel, rel_next_seq(&s->rel), o->ts, o->text, o->len);
	}
	rel_free(&old);
}

/* --- packets in --- */

static void send_raw(struct rdvd *srv, uint32_t src, const union rdvd_sa *a, socklen_t alen,
    const uint8_t *pkt, size_t len)
{
	srv->st.tx_packets++;
	srv->st.tx_bytes += len;
	srv->send(srv->send_arg, src, &a->sa, alen, pkt, len);
}

static int under_load(struct rdvd *srv, uint64_t now)
{
	uint64_t sec = now / 1000;
	if (sec != srv->load_s) {
		srv->load_prev = sec == srv->load_s + 1 ? srv->load_cur : 0;
		srv->load_cur = 0;
		srv->load_s = sec;
	}
	srv->load_cur++;
	return srv->load_cur > srv->conf.hs_load || srv->load_prev > srv->conf.hs_load;
}

static void on_init(struct rdvd *srv, uint32_t src, const union rdvd_sa *a, socklen_t alen,
    const uint8_t *pkt, size_t len, uint64_t now)
{
	uint8_t key[18], pk[32], ts[NOISE_TS_LEN], out[NOISE_RESP_LEN];
	size_t klen = rdvd_src_key(a, key, 1);
	if (!klen || !noise_mac1_ok(srv->me, pkt, len)) {
		srv->st.bad_packets++;
		return;
	}
	srv->st.inits++;
	if (under_load(srv, now)) {
		srv->st.under_load++;
		if (!noise_mac2_ok(srv->cc, pkt, len, key, klen)) {
			/* 64 bytes for 148: proves the address before we spend a DH on it */
			if (noise_cookie_reply(srv->cc, pkt, len, key, klen, out) == NOISE_COOKIE_LEN) {
				srv->st.cookies++;
				send_raw(srv, src, a, alen, out, NOISE_COOKIE_LEN);
			}
			return;
		}
	}
	struct bucket *b = rdvd_bucket_for(srv, srv->src_hs, BUCKETS_SRC, key, rdvd_src_key(a, key, 0));
	if (!rdvd_bucket_take(b, srv->conf.hs_rate, srv->conf.hs_burst, 1, now)) {
		srv->st.rate_limited++;
		return;
	}
	if (noise_init_consume(srv->hs, srv->me, pkt, len, pk, ts) < 0) {
		srv->st.bad_packets++;
		return;
	}
	struct sess *s = rdvd_sess_by_pk(srv, pk);
	if (s && noise_ts_cmp(ts, s->ts) <= 0) {
		log_debug("replayed or stale handshake ignored");
		noise_hs_clear(srv->hs);
		return;
	}
	struct noise_keypair *kp = kp_get(srv);
	if (!s)
		s = sess_new(srv, pk, now);
	if (!kp || !s) {
		if (kp)
			kp_put(srv, kp);
		noise_hs_clear(srv->hs);
		srv->st.rate_limited++;
		return;
	}
	uint32_t idx = new_index(srv);
	kp->local_idx = 0;
	if (noise_resp_create(srv->hs, idx, out, kp) < 0 || map_put(&srv->by_idx, idx, s->idx) < 0) {
		kp->local_idx = 0;
		kp_put(srv, kp);
		if (s->state == SESS_HS && !s->cur && !s->next)
			rdvd_sess_free(srv, s);
		return;
	}
	memcpy(s->ts, ts, sizeof(ts));
	if (s->next)
		kp_put(srv, s->next);
	s->next = kp;
	if (s->state == SESS_HS)
		set_source(srv, s, src, a, alen);
	srv->st.resps++;
	send_raw(srv, src, a, alen, out, NOISE_RESP_LEN);
}

static void on_data(struct rdvd *srv, uint32_t src, const union rdvd_sa *a, socklen_t alen,
    const uint8_t *pkt, size_t len, uint64_t now)
{
	uint32_t si = map_get(&srv->by_idx, noise_pkt_receiver_idx(pkt, len));
	struct sess *s = si == UINT32_MAX ? NULL : rdvd_sess(srv, si);
	if (!s) {
		srv->st.bad_packets++;
		return;
	}
	struct noise_keypair *kp = s->next && s->next->local_idx == noise_pkt_receiver_idx(pkt, len)
	    ? s->next : s->cur;
	int n = kp ? noise_decrypt(kp, pkt, len, srv->pt, sizeof(srv->pt)) : -1;
	if (n < 0) {
		srv->st.bad_packets++;
		return;
	}
	if (kp == s->next) {	/* the client's first packet under new keys: switch to them */
		if (s->cur)
			kp_put(srv, s->cur);
		s->cur = kp;
		s->next = NULL;
		if (s->state == SESS_HS) {
			s->state = SESS_UP;
			srv->nhandshaking--;
		}
		rel_fresh(s);
	}
	s->last_rx_ms = now;
	if (s->src != src || s->addrlen != alen || memcmp(&s->addr, a, alen)) {
		set_source(srv, s, src, a, alen);	/* the client moved: follow it */
		if (s->acct)
			rdvd_presence_changed(srv, s);
	}
	if (n > 0 && rel_input(&s->rel, srv->pt, (size_t)n, now * 1000) < 0) {
		srv->st.bad_packets++;
		log_debug("malformed frames from a client");
	}
	/* The RESULT is the real acknowledgement: rel may tell the client "durable" at once. */
	rel_synced(&s->rel, s->rel.rx_stored);
	rdvd_touch(srv, s);
}

/* KEYREQ (64 bytes) -> KEY (36): the server's key for a client that has none pinned yet. */
static void on_keyreq(struct rdvd *srv, uint32_t src, const union rdvd_sa *a, socklen_t alen,
    size_t len, uint64_t now)
{
	uint8_t key[18], out[RDVD_KEY_LEN] = { NOISE_WIRE_VERSION, RDVD_KEY, 0, 0 };
	size_t klen = rdvd_src_key(a, key, 0);
	if (len < RDVD_KEYREQ_LEN || !klen) {
		srv->st.bad_packets++;
		return;
	}
	struct bucket *b = rdvd_bucket_for(srv, srv->src_hs, BUCKETS_SRC, key, klen);
	if (!rdvd_bucket_take(b, srv->conf.hs_rate, srv->conf.hs_burst, 1, now)) {
		srv->st.rate_limited++;
		return;
	}
	memcpy(out + 4, srv->me->pk, 32);
	srv->st.keyreqs++;
	send_raw(srv, src, a, alen, out, sizeof(out));
}

void rdvd_input(struct rdvd *srv, uint32_t src, const struct sockaddr *sa, socklen_t salen,
    const uint8_t *pkt, size_t len, uint64_t now_ms)
{
	union rdvd_sa a;
	srv->now_ms = now_ms;
	srv->st.rx_packets++;
	srv->st.rx_bytes += len;
	if (len == 0 || salen > sizeof(a) || srv->shutting_down)
		return;
	memset(&a, 0, sizeof(a));
	memcpy(&a, sa, salen);
	if (pkt[0] <= 1) {
		uint8_t out[STUN_ANSWER_MAX];
		int n = (src & RDVD_SRC_TCP) ? 0 : stun_answer(pkt, len, sa, salen, out, sizeof(out));
		if (n > 0) {
			srv->st.stun++;
			send_raw(srv, src, &a, salen, out, (size_t)n);
		}
		return;
	}
	if (len >= 4 && pkt[0] == NOISE_WIRE_VERSION && pkt[1] == RDVD_KEYREQ) {
		on_keyreq(srv, src, &a, salen, len, now_ms);
		return;
	}
	switch (noise_pkt_type(pkt, len)) {
	case NOISE_INIT:
		on_init(srv, src, &a, salen, pkt, len, now_ms);
		break;
	case NOISE_DATA:
		on_data(srv, src, &a, salen, pkt, len, now_ms);
		break;
	default:	/* RESP and COOKIE are for initiators; anything else is not ours */
		srv->st.bad_packets++;
		break;
	}
}

/* --- lifecycle --- */

struct rdvd *rdvd_new(const struct identity *me, struct acct_db *db, const struct rdvd_conf *conf,
    rdvd_send_fn send, void *arg)
{
	struct rdvd *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->me = me;
	srv->db = db;
	srv->conf = *conf;
	srv->send = send;
	srv->send_arg = arg;
	randombytes_buf(srv->hkey, sizeof(srv->hkey));
	srv->hs = noise_hs_new();
	srv->cc = sodium_malloc(sizeof(*srv->cc));
	srv->by_pk = calloc(1024, sizeof(*srv->by_pk));
	srv->pk_mask = 1023;
	srv->src_hs = calloc(BUCKETS_SRC, sizeof(struct bucket));
	srv->src_reg = calloc(BUCKETS_SRC, sizeof(struct bucket));
	srv->key_req = calloc(BUCKETS_KEY, sizeof(struct bucket));
	if (!srv->hs || !srv->cc || !srv->by_pk || !srv->src_hs || !srv->src_reg || !srv->key_req ||
	    map_init(&srv->by_idx, 1024) < 0 || map_init(&srv->by_tcp, 64) < 0) {
		rdvd_free(srv);
		return NULL;
	}
	noise_cookie_checker_init(srv->cc, me);
	return srv;
}

void rdvd_set_conf(struct rdvd *srv, const struct rdvd_conf *conf)
{
	srv->conf = *conf;
	acct_set_limits(srv->db, &conf->lim);
}

void rdvd_free(struct rdvd *srv)
{
	if (!srv)
		return;
	srv->shutting_down = 1;
	for (uint32_t i = 0; i < srv->nsess_slots; i++) {
		struct sess *s = rdvd_sess(srv, i);
		s->acct = 0;	/* no presence pushes on the way out */
		rdvd_sess_free(srv, s);
	}
	for (uint32_t c = 0; c < srv->nchunks; c++)
		free(srv->chunks[c]);
	free(srv->chunks);
	for (uint32_t i = 0; i < srv->nkp_arenas; i++)
		sodium_free(srv->kp_arenas[i]);
	free(srv->kp_arenas);
	free(srv->kp_free);
	free(srv->free_sess);
	free(srv->by_idx.e);
	free(srv->by_tcp.e);
	free(srv->by_pk);
	free(srv->touched);
	free(srv->waiting);
	free(srv->busy);
	free(srv->src_hs);
	free(srv->src_reg);
	free(srv->key_req);
	rdvd_relay_free(srv);
	if (srv->cc) {
		noise_cookie_checker_wipe(srv->cc);
		sodium_free(srv->cc);
	}
	if (srv->hs)
		noise_hs_free(srv->hs);
	free(srv);
}
