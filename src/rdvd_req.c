/* rdvd_req.c: rendezvous requests, presence fan-out, contact requests, mail pushes. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rdvd_int.h"
#include "util.h"

/* --- per-session extras --- */

static struct sess_ext *ext(struct sess *s)
{
	if (!s->x)
		s->x = calloc(1, sizeof(*s->x));
	return s->x;
}

static void ext_tidy(struct sess *s)
{
	struct sess_ext *x = s->x;
	if (x && !x->text && !x->local && !x->subs && !x->oq_head) {
		free(x);
		s->x = NULL;
	}
}

static void clear_login(struct sess *s)
{
	if (!s->x)
		return;
	free(s->x->text);
	free(s->x->local);
	s->x->text = NULL;
	s->x->local = NULL;
	s->x->nlocal = 0;
	ext_tidy(s);
}

void rdvd_ext_free(struct sess *s)
{
	struct sess_ext *x = s->x;
	if (!x)
		return;
	for (struct outq *q = x->oq_head, *nx; q; q = nx) {
		nx = q->next;
		free(q);
	}
	free(x->text);
	free(x->local);
	free(x->subs);
	free(x);
	s->x = NULL;
}

static uint64_t sub_key(uint32_t id, uint32_t gen)
{
	return (uint64_t)id << 32 | gen;
}

/* Position of key in the sorted subscriptions, or where it would go. */
static uint32_t sub_find(const struct sess_ext *x, uint64_t key, int *found)
{
	uint32_t lo = 0, hi = x ? x->nsubs : 0;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (x->subs[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = x && lo < x->nsubs && x->subs[lo] == key;
	return lo;
}

int rdvd_subscribed(const struct sess *s, uint32_t id, uint32_t gen)
{
	int found;
	sub_find(s->x, sub_key(id, gen), &found);
	return found;
}

/* --- output: held until the journal is synced, then into rel --- */

void rdvd_push(struct rdvd *srv, struct sess *s, const uint8_t *msg, size_t len)
{
	if (s->state == SESS_FREE || len == 0 || len > RDV_MSG_MAX)
		return;
	uint64_t tag = acct_end(srv->db);
	srv->st.pushes++;
	if ((!s->x || !s->x->noq) && tag <= acct_synced(srv->db)) {
		rel_queue(&s->rel, rel_next_seq(&s->rel), 0, (const char *)msg, len);
		rdvd_touch(srv, s);
		return;
	}
	struct sess_ext *x = ext(s);
	struct outq *q = x ? malloc(sizeof(*q) + len) : NULL;
	if (!q) {
		s->flags |= SF_CLOSE;	/* cannot keep the order promise: start over */
		rdvd_touch(srv, s);
		return;
	}
	q->next = NULL;
	q->tag = tag;
	q->len = (uint16_t)len;
	memcpy(q->data, msg, len);
	if (x->oq_tail)
		x->oq_tail->next = q;
	else
		x->oq_head = q;
	x->oq_tail = q;
	x->noq++;
	if (!(s->flags & SF_WAITING)) {
		if (srv->nwaiting == srv->cwaiting) {
			uint32_t cap = srv->cwaiting ? srv->cwaiting * 2 : 256;
			uint32_t *p = realloc(srv->waiting, cap * sizeof(*p));
			if (!p)
				return;	/* released with the next message that gets a slot */
			srv->waiting = p;
			srv->cwaiting = cap;
		}
		srv->waiting[srv->nwaiting++] = s->idx;
		s->flags |= SF_WAITING;
	}
}

void rdvd_release(struct rdvd *srv, struct sess *s)
{
	struct sess_ext *x = s->x;
	uint64_t synced = acct_synced(srv->db);
	int moved = 0;
	while (x && x->oq_head && x->oq_head->tag <= synced) {
		struct outq *q = x->oq_head;
		rel_queue(&s->rel, rel_next_seq(&s->rel), 0, (const char *)q->data, q->len);
		x->oq_head = q->next;
		if (!x->oq_head)
			x->oq_tail = NULL;
		x->noq--;
		free(q);
		moved = 1;
	}
	if (moved) {
		ext_tidy(s);
		rdvd_touch(srv, s);
	}
}

static void result(struct rdvd *srv, struct sess *s, uint32_t req, int code)
{
	uint8_t b[8];
	size_t n = rdv_encode_result(req, (uint8_t)code, b, sizeof(b));
	rdvd_push(srv, s, b, n);
}

/* --- presence --- */

static int visible(int status)
{
	return status >= RDV_ONLINE && status <= RDV_BUSY;
}

/* The session logged in as account id, if any. */
static struct sess *owner_of(struct rdvd *srv, uint32_t id)
{
	const uint8_t *pk = acct_pk(srv->db, id);
	struct sess *s = pk ? rdvd_sess_by_pk(srv, pk) : NULL;
	return s && s->acct == id && s->acct_gen == acct_gen(srv->db, id) ? s : NULL;
}

/* PRESENCE of id as its authorised subscribers see it (forced offline if off). */
static size_t build_presence(struct rdvd *srv, uint32_t id, int off, uint8_t *out, size_t cap)
{
	struct rdv_msg *p = &srv->pres;
	struct sess *o = off ? NULL : owner_of(srv, id);
	p->type = RDV_PRESENCE;
	memcpy(p->pk, acct_pk(srv->db, id), 32);
	p->status = RDV_OFFLINE;
	p->text[0] = '\0';
	p->naddr = 0;
	if (o && visible(o->status)) {
		p->status = o->status;
		str_copy(p->text, o->x && o->x->text ? o->x->text : "", sizeof(p->text));
		if (rdv_addr_from_sa(&p->addr[0], &o->addr.sa, o->addrlen) == 0)
			p->naddr = 1;
		for (uint32_t i = 0; o->x && i < o->x->nlocal && p->naddr < RDV_ADDR_MAX; i++)
			p->addr[p->naddr++] = o->x->local[i];
	}
	return rdv_encode(p, out, cap);
}

/* To every subscriber of id that id allows. */
static void push_presence_all(struct rdvd *srv, uint32_t id, int off)
{
	uint8_t buf[RDV_MSG_MAX];
	size_t n = build_presence(srv, id, off, buf, sizeof(buf)), cnt;
	uint32_t gen = acct_gen(srv->db, id);
	const struct acct_allow *l = acct_list(srv->db, id, &cnt);
	for (size_t i = 0; n && i < cnt; i++) {
		if (l[i].mode != RDV_ALLOW_ALLOW)
			continue;
		struct sess *sub = rdvd_sess_by_pk(srv, l[i].pk);
		if (sub && sub->state == SESS_UP && rdvd_subscribed(sub, id, gen))
			rdvd_push(srv, sub, buf, n);
	}
}

static void push_presence_to(struct rdvd *srv, uint32_t id, struct sess *sub, int off)
{
	uint8_t buf[RDV_MSG_MAX];
	size_t n = build_presence(srv, id, off, buf, sizeof(buf));
	if (n)
		rdvd_push(srv, sub, buf, n);
}

void rdvd_presence_changed(struct rdvd *srv, struct sess *s)
{
	if (s->acct && visible(s->status))
		push_presence_all(srv, s->acct, 0);
}

void rdvd_logout(struct rdvd *srv, struct sess *s)
{
	uint32_t id = s->acct;
	int was = visible(s->status);
	if (!id)
		return;
	s->acct = 0;
	s->status = RDV_OFFLINE;
	s->mail_last = 0;
	srv->nlogged--;
	clear_login(s);
	if (was && acct_gen(srv->db, id) == s->acct_gen && acct_pk(srv->db, id))
		push_presence_all(srv, id, 1);
}

void rdvd_pump_mail(struct rdvd *srv, struct sess *s)
{
	uint8_t buf[RDV_MSG_MAX];
	if (!s->acct || s->state != SESS_UP)
		return;
	uint64_t inflight = s->rel.cnt + (s->x ? s->x->noq : 0);
	for (const struct acct_mail *m = acct_mails(srv->db, s->acct); m && inflight < MAIL_WINDOW;
	    m = m->next) {
		if (m->id <= s->mail_last)
			continue;
		struct rdv_msg *p = &srv->pres;
		p->type = RDV_MAIL;
		p->mail_id = m->id;
		memcpy(p->pk, m->from, 32);
		p->sealed = m->sealed;
		p->sealed_len = m->len;
		p->status = 0;
		size_t n = rdv_encode(p, buf, sizeof(buf));
		if (n)
			rdvd_push(srv, s, buf, n);
		s->mail_last = m->id;
		inflight++;
	}
}

static void push_requested(struct rdvd *srv, struct sess *s, const uint8_t from[32],
    const char *handle, const char *text)
{
	uint8_t buf[RDV_MSG_MAX];
	struct rdv_msg *p = &srv->pres;
	p->type = RDV_REQUESTED;
	p->status = 0;
	memcpy(p->pk, from, 32);
	str_copy(p->handle, handle, sizeof(p->handle));
	str_copy(p->text, text, sizeof(p->text));
	size_t n = rdv_encode(p, buf, sizeof(buf));
	if (n)
		rdvd_push(srv, s, buf, n);
}

/* --- requests --- */

/* The account of the session's key, or 0 after answering NOTREG. */
static uint32_t need_reg(struct rdvd *srv, struct sess *s, uint32_t req)
{
	uint32_t id = acct_by_pk(srv->db, s->pk);
	if (!id)
		result(srv, s, req, RDV_NOTREG);
	return id;
}

static void do_register(struct rdvd *srv, struct sess *s, const struct rdv_msg *m)
{
	char norm[RDV_NAME_MAX + 1];
	if (rdv_name_norm(m->name, norm) == 0 && !acct_by_pk(srv->db, s->pk) &&
	    !acct_by_name(srv->db, norm)) {
		uint8_t key[18];
		size_t kl = rdvd_src_key(&s->addr, key, 0);
		struct bucket *b = rdvd_bucket_for(srv, srv->src_reg, BUCKETS_SRC, key, kl);
		if (!rdvd_bucket_take(b, srv->conf.reg_rate, srv->conf.reg_burst, 3600, srv->now_ms)) {
			srv->st.rate_limited++;
			result(srv, s, m->req, RDV_RATE);
			return;
		}
	}
	result(srv, s, m->req, acct_register(srv->db, s->pk, m->name));
}

static void set_login(struct sess *s, const struct rdv_msg *m)
{
	clear_login(s);
	if (m->text[0] && ext(s))
		s->x->text = strdup(m->text);
	if (m->naddr && ext(s) && (s->x->local = malloc(m->naddr * sizeof(*s->x->local)))) {
		memcpy(s->x->local, m->addr, m->naddr * sizeof(*s->x->local));
		s->x->nlocal = m->naddr;
	}
	ext_tidy(s);
}

static void do_login(struct rdvd *srv, struct sess *s, const struct rdv_msg *m)
{
	uint32_t id = need_reg(srv, s, m->req);
	if (!id)
		return;
	if (m->status == RDV_OFFLINE) {
		result(srv, s, m->req, RDV_BAD);
		return;
	}
	/* A client logs in again after every handshake (rekeys too): tell subscribers only
	 * if what they see changes. */
	uint8_t before[RDV_MSG_MAX], after[RDV_MSG_MAX];
	size_t nb = s->acct == id ? build_presence(srv, id, 0, before, sizeof(before)) : 0;
	int was = s->acct == id && visible(s->status);
	if (s->acct && s->acct != id)
		rdvd_logout(srv, s);
	if (!s->acct)
		srv->nlogged++;
	s->acct = id;
	s->acct_gen = acct_gen(srv->db, id);
	s->status = m->status;
	s->mail_last = 0;
	set_login(s, m);
	result(srv, s, m->req, RDV_OK);
	size_t na = build_presence(srv, id, 0, after, sizeof(after));
	if ((was || visible(s->status)) && (na != nb || memcmp(before, after, na)))
		push_presence_all(srv, id, 0);
	for (const struct acct_req *q = acct_requests(srv->db, id); q; q = q->next)
		push_requested(srv, s, q->from, q->handle, q->text);
	rdvd_pump_mail(srv, s);
}

static void do_status(struct rdvd *srv, struct sess *s, const struct rdv_msg *m)
{
	uint32_t id = need_reg(srv, s, m->req);
	if (!id)
		return;
	if (s->acct != id) {
		result(srv, s, m->req, m->status == RDV_OFFLINE ? RDV_OK : RDV_BAD);
		return;
	}
	result(srv, s, m->req, RDV_OK);
	if (m->status == RDV_OFFLINE) {
		rdvd_logout(srv, s);
		return;
	}
	int was = visible(s->status);
	s->status = m->status;
	if (s->x) {
		free(s->x->text);
		s->x->text = NULL;
	}
	if (m->text[0] && ext(s))
		s->x->text = strdup(m->text);
	ext_tidy(s);
	if (was || visible(s->status))
		push_presence_all(srv, id, 0);
}

static void do_allow(struct rdvd *srv, struct sess *s, const struct rdv_msg *m)
{
	uint32_t id = need_reg(srv, s, m->req);
	if (!id)
		return;
	int old = acct_mode(srv->db, id, m->pk);
	int rc = acct_allow(srv->db, id, m->pk, m->mode);
	result(srv, s, m->req, rc);
	if (rc != RDV_OK || old == m->mode)
		return;
	struct sess *sub = rdvd_sess_by_pk(srv, m->pk);
	if (!sub || sub->state != SESS_UP || !rdvd_subscribed(sub, id, acct_gen(srv->db, id)))
		return;
	if (m->mode == RDV_ALLOW_ALLOW)
		push_presence_to(srv, id, sub, 0);
	else if (old == RDV_ALLOW_ALLOW)
		push_presence_to(srv, id, sub, 1);	/* one last "offline", then silence */
}

static void do_request(struct rdvd *srv, struct sess *s, const struct rdv_msg *m)
{
	char norm[RDV_NAME_MAX + 1];
	struct bucket *b = rdvd_bucket_for(srv, srv->key_req, BUCKETS_KEY, s->pk, 32);
	if (!rdvd_bucket_take(b, srv->conf.contact_rate, srv->conf.contact_burst, 3600, srv->now_ms)) {
		srv->st.rate_limited++;
		result(srv, s, m->req, RDV_RATE);
		return;
	}
	if (rdv_name_norm(m->name, norm) < 0) {
		result(srv, s, m->req, RDV_BAD);
		return;
	}
	uint32_t tid = acct_by_name(srv->db, norm);
	int stored = 0;
	int rc = tid ? acct_request(srv->db, tid, s->pk, m->handle, m->text, &stored) : RDV_NOTFOUND;
	result(srv, s, m->req, rc);
	struct sess *o = stored ? owner_of(srv, tid) : NULL;
	if (o)
		push_requested(srv, o, s->pk, m->handle, m->text);
}

static void do_lookup(struct rdvd *srv, struct sess *s, const struct rdv_msg *m)
{
	char norm[RDV_NAME_MAX + 1];
	uint8_t buf[64];
	if (rdv_name_norm(m->name, norm) < 0) {
		result(srv, s, m->req, RDV_BAD);
		return;
	}
	uint32_t id = acct_by_name(srv->db, norm);
	if (!id) {
		result(srv, s, m->req, RDV_NOTFOUND);
		return;
	}
	size_t n = rdv_encode_result(m->req, RDV_OK, buf, sizeof(buf));
	memcpy(buf + n, acct_pk(srv->db, id), 32);
	rdvd_push(srv, s, buf, n + 32);
}

static void do_subscribe(struct rdvd *srv, struct sess *s, const struct rdv_msg *m)
{
	uint32_t id = acct_by_pk(srv->db, m->pk);
	int found;
	if (!id) {
		result(srv, s, m->req, RDV_OK);	/* nobody here by that key: nothing to watch */
		return;
	}
	uint64_t key = sub_key(id, acct_gen(srv->db, id));
	uint32_t at = sub_find(s->x, key, &found);
	if (!found) {
		struct sess_ext *x = ext(s);
		if (!x || x->nsubs >= srv->conf.max_subs) {
			result(srv, s, m->req, RDV_QUOTA);
			return;
		}
		if (x->nsubs == x->csubs) {
			uint32_t cap = x->csubs ? x->csubs * 2 : 8;
			uint64_t *p = realloc(x->subs, cap * sizeof(*p));
			if (!p) {
				ext_tidy(s);
				result(srv, s, m->req, RDV_QUOTA);
				return;
			}
			x->subs = p;
			x->csubs = cap;
		}
		memmove(x->subs + at + 1, x->subs + at, (x->nsubs - at) * sizeof(*x->subs));
		x->subs[at] = key;
		x->nsubs++;
	}
	result(srv, s, m->req, RDV_OK);
	if (acct_mode(srv->db, id, s->pk) == RDV_ALLOW_ALLOW)
		push_presence_to(srv, id, s, 0);
}

static void do_bundle(struct rdvd *srv, struct sess *s, const struct rdv_msg *m)
{
	struct acct_bundle b;
	uint8_t buf[64 + RDV_BUNDLE_LEN];
	uint32_t id = acct_by_pk(srv->db, m->pk);
	int rc = id ? acct_bundle(srv->db, id, s->pk, &b) : RDV_NOTFOUND;
	if (rc != RDV_OK) {
		result(srv, s, m->req, rc);
		return;
	}
	struct rdv_msg *p = &srv->pres;
	p->type = RDV_RESULT;
	p->req = m->req;
	p->code = RDV_OK;
	p->payload = RDV_PL_BUNDLE;
	p->status = 0;
	p->spk_id = b.spk_id;
	memcpy(p->spk, b.spk, 32);
	memcpy(p->sig, b.sig, 64);
	p->nopk = 1;
	p->opk[0] = b.opk;
	size_t n = rdv_encode(p, buf, sizeof(buf));
	rdvd_push(srv, s, buf, n);
}

static void do_mailput(struct rdvd *srv, struct sess *s, const struct rdv_msg *m)
{
	uint64_t mid;
	uint32_t id = acct_by_pk(srv->db, m->pk);
	int rc = id ? acct_mail_put(srv->db, id, s->pk, m->sealed, m->sealed_len, &mid) : RDV_NOTFOUND;
	result(srv, s, m->req, rc);
	struct sess *o = rc == RDV_OK ? owner_of(srv, id) : NULL;
	if (o)
		rdvd_touch(srv, o);	/* the pump sends it at the next flush */
}

/* RELEASE and MOVE end the login first, while the allow list still says who to tell. */
static void do_leave(struct rdvd *srv, struct sess *s, const struct rdv_msg *m)
{
	char norm[RDV_NAME_MAX + 1];
	uint32_t id = need_reg(srv, s, m->req);
	if (!id)
		return;
	if (rdv_name_norm(m->name, norm) == 0 && !strcmp(norm, acct_name(srv->db, id)) &&
	    s->acct == id && (m->type == RDV_RELEASE || memcmp(m->pk, s->pk, 32)))
		rdvd_logout(srv, s);
	int rc = m->type == RDV_RELEASE ? acct_release(srv->db, s->pk, m->name)
	    : acct_move(srv->db, s->pk, m->name, m->pk, m->sig);
	result(srv, s, m->req, rc);
}

static void deliver(void *arg, uint64_t seq, uint64_t ts, const char *text, size_t len)
{
	struct sess *s = arg;
	struct rdvd *srv = s->srv;
	struct rdv_msg *m = &srv->msg;
	uint8_t type;
	uint32_t req, id;
	(void)seq;
	(void)ts;
	if (s->flags & SF_CLOSE)
		return;
	srv->st.requests++;
	if (rdv_peek_req((const uint8_t *)text, len, &type, &req) < 0) {
		srv->st.bad_requests++;
		log_debug("a client sent something that is not a request");
		return;
	}
	if (!rdvd_bucket_take(&s->req_bucket, srv->conf.req_rate, srv->conf.req_burst, 1, srv->now_ms)) {
		srv->st.rate_limited++;
		result(srv, s, req, RDV_RATE);
		return;
	}
	if (rdv_decode((const uint8_t *)text, len, m) < 0) {
		srv->st.bad_requests++;
		log_debug("malformed request of type %u", type);
		result(srv, s, req, RDV_BAD);
		return;
	}
	switch (m->type) {
	case RDV_REGISTER:
		do_register(srv, s, m);
		break;
	case RDV_LOGIN:
		do_login(srv, s, m);
		break;
	case RDV_ALLOW:
		do_allow(srv, s, m);
		break;
	case RDV_REQUEST:
		do_request(srv, s, m);
		break;
	case RDV_LOOKUP:
		do_lookup(srv, s, m);
		break;
	case RDV_SUBSCRIBE:
		do_subscribe(srv, s, m);
		break;
	case RDV_STATUS:
		do_status(srv, s, m);
		break;
	case RDV_PREKEYS:
		if ((id = need_reg(srv, s, m->req)))
			result(srv, s, m->req, acct_prekeys(srv->db, id, m->spk_id, m->spk, m->sig,
			    m->nopk, m->opk));
		break;
	case RDV_BUNDLE:
		do_bundle(srv, s, m);
		break;
	case RDV_MAILPUT:
		do_mailput(srv, s, m);
		break;
	case RDV_MAILACK:
		if ((id = need_reg(srv, s, m->req)))
			result(srv, s, m->req, acct_mail_ack(srv->db, id, m->mail_id));
		break;
	case RDV_RELEASE:
	case RDV_MOVE:
		do_leave(srv, s, m);
		break;
	default:
		result(srv, s, req, RDV_BAD);
		break;
	}
}

const struct rel_ops rdvd_rel_ops = {
	.deliver = deliver,
	.frame = rdvd_relay_frame,
};
