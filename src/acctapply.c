/* acctapply.c: account records: parse and apply (replay and live), dump (snapshot), check. */
#include <stdlib.h>
#include <string.h>

#include "acct_int.h"
#include "util.h"

/* --- records --- */

/* Not inlined: gcc -O2 cannot see that rdv_rd_take() never returns a pointer past the record
 * and warns (stringop-overread) about a zero-sized region. */
__attribute__((noinline)) static uint32_t id_of(struct acct_db *db, const uint8_t *pk)
{
	return pk ? acct_by_pk(db, pk) : ACCT_NONE;
}

static int ap_register(struct acct_db *db, const uint8_t *pk, const char *name)
{
	char norm[RDV_NAME_MAX + 1];
	if (rdv_name_norm(name, norm) < 0 || strcmp(norm, name) || acct_by_pk(db, pk) ||
	    acct_find_name(db, norm))
		return -1;
	if (acct_tab_grow(db, &db->by_pk) < 0 || acct_tab_grow(db, &db->by_name) < 0)
		return -1;
	if (!db->nfree && db->na == db->ca) {
		size_t cap = (size_t)db->ca * 2;
		struct acct *p = cap <= UINT32_MAX ? realloc(db->a, cap * sizeof(*p)) : NULL;
		if (!p)
			return -1;
		db->a = p;	/* slots past na are never read: not touched until used */
		db->ca = (uint32_t)cap;
	}
	uint32_t off = acct_names_add(db, norm, strlen(norm));
	if (!off)
		return -1;
	uint32_t id;
	if (db->nfree) {
		id = db->freeids[--db->nfree];
	} else {
		id = db->na++;
		db->a[id].gen = 0;
	}
	struct acct *a = &db->a[id];
	memcpy(a->pk, pk, 32);
	a->name_off = off;
	a->ext = NULL;
	acct_tab_put(db, &db->by_pk, id);
	acct_tab_put(db, &db->by_name, id);
	db->live++;
	return 0;
}

static int ap_release(struct acct_db *db, uint32_t id)
{
	if (!id)
		return -1;
	if (db->nfree == db->cfree) {
		uint32_t cap = db->cfree ? db->cfree * 2 : 256;
		uint32_t *p = realloc(db->freeids, cap * sizeof(*p));
		if (!p)
			return -1;
		db->freeids = p;
		db->cfree = cap;
	}
	acct_ext_free(db, id);
	acct_tab_del(db, &db->by_pk, id);
	acct_tab_del(db, &db->by_name, id);
	struct acct *a = &db->a[id];
	db->names_garbage += (uint8_t)db->names[a->name_off] + 2u;
	a->name_off = 0;
	a->gen++;
	db->freeids[db->nfree++] = id;
	db->live--;
	if (db->names_garbage > (1u << 20) && db->names_garbage > db->nnames / 2)
		acct_names_compact(db);
	return 0;
}

static int ap_move(struct acct_db *db, uint32_t id, const uint8_t *new_pk)
{
	if (!id || acct_by_pk(db, new_pk))
		return -1;
	struct acct_ext *x = db->a[id].ext;
	if (x) {
		acct_ext_drop_mail(db, x);
		acct_ext_drop_pre(db, x);
		acct_ext_tidy(db, id);
	}
	acct_tab_del(db, &db->by_pk, id);
	memcpy(db->a[id].pk, new_pk, 32);
	acct_tab_put(db, &db->by_pk, id);
	db->a[id].gen++;
	return 0;
}

static int ap_allow(struct acct_db *db, uint32_t id, const uint8_t *target, uint8_t mode)
{
	if (!id || mode > RDV_ALLOW_BLOCK)
		return -1;
	struct acct_ext *x = acct_ext_get(db, id);
	if (!x)
		return -1;
	uint32_t i = 0;
	while (i < x->nallow && memcmp(x->allow[i].pk, target, 32))
		i++;
	if (mode == RDV_ALLOW_REMOVE) {
		if (i < x->nallow) {
			x->allow[i] = x->allow[--x->nallow];
			db->allow_entries--;
		}
		acct_ext_tidy(db, id);
		return 0;
	}
	if (i == x->nallow) {
		if (x->nallow == x->callow) {
			uint32_t cap = x->callow ? x->callow * 2 : 4;
			struct acct_allow *p = realloc(x->allow, cap * sizeof(*p));
			if (!p) {
				acct_ext_tidy(db, id);
				return -1;
			}
			x->allow = p;
			x->callow = cap;
		}
		memcpy(x->allow[i].pk, target, 32);
		x->nallow++;
		db->allow_entries++;
	}
	x->allow[i].mode = mode;
	return 0;
}

static int ap_req_del(struct acct_db *db, uint32_t id, const uint8_t *from)
{
	struct acct_ext *x = id ? db->a[id].ext : NULL;
	if (!x)
		return id ? 0 : -1;
	for (struct acct_req **pp = &x->req; *pp; pp = &(*pp)->next) {
		if (!memcmp((*pp)->from, from, 32)) {
			struct acct_req *r = *pp;
			*pp = r->next;
			free(r);
			x->nreq--;
			db->requests--;
			break;
		}
	}
	acct_ext_tidy(db, id);
	return 0;
}

static int ap_req_add(struct acct_db *db, uint32_t id, const uint8_t *from, const char *handle,
    const char *text)
{
	if (!id || ap_req_del(db, id, from) < 0)
		return -1;
	struct acct_ext *x = acct_ext_get(db, id);
	size_t hl = strlen(handle), tl = strlen(text);
	struct acct_req *r = x ? malloc(sizeof(*r) + hl + tl + 2) : NULL;
	if (!r) {
		if (x)
			acct_ext_tidy(db, id);
		return -1;
	}
	r->next = NULL;
	memcpy(r->from, from, 32);
	r->handle = (char *)(r + 1);
	r->text = r->handle + hl + 1;
	memcpy(r->handle, handle, hl + 1);
	memcpy(r->text, text, tl + 1);
	struct acct_req **pp = &x->req;
	while (*pp)
		pp = &(*pp)->next;
	*pp = r;
	x->nreq++;
	db->requests++;
	return 0;
}

static int ap_prekeys(struct acct_db *db, uint32_t id, struct rdv_rd *c)
{
	uint32_t spk_id = rdv_rd_u32(c);
	const uint8_t *spk = rdv_rd_take(c, 32), *sig = rdv_rd_take(c, 64);
	size_t n = rdv_rd_u8(c);
	const uint8_t *opks = rdv_rd_take(c, n * 36);
	if (!id || c->bad || n > RDV_OPK_MSG_MAX)
		return -1;
	struct acct_ext *x = acct_ext_get(db, id);
	if (!x)
		return -1;
	uint32_t have = x->pre ? x->pre->nopk : 0;
	struct acct_pre *p = realloc(x->pre, sizeof(*p) + (have + n) * sizeof(struct rdv_opk));
	if (!p) {
		acct_ext_tidy(db, id);
		return -1;
	}
	if (!x->pre) {
		p->nopk = 0;
		db->with_pre++;
	}
	x->pre = p;
	p->spk_id = spk_id;
	memcpy(p->spk, spk, 32);
	memcpy(p->sig, sig, 64);
	for (size_t k = 0; k < n; k++) {
		uint32_t oid = get_u32(opks + 36 * k);
		uint32_t i = 0;
		if (oid == 0)
			continue;
		while (i < p->nopk && p->opk[i].id != oid)
			i++;
		if (i == p->nopk)
			p->nopk++;
		p->opk[i].id = oid;
		memcpy(p->opk[i].pk, opks + 36 * k + 4, 32);
	}
	if (p->nopk > RDV_OPK_STORE_MAX) {
		uint32_t drop = p->nopk - RDV_OPK_STORE_MAX;
		memmove(p->opk, p->opk + drop, RDV_OPK_STORE_MAX * sizeof(p->opk[0]));
		p->nopk = RDV_OPK_STORE_MAX;
	}
	return 0;
}

static int ap_opk_take(struct acct_db *db, uint32_t id, uint32_t oid)
{
	struct acct_pre *p = id && db->a[id].ext ? db->a[id].ext->pre : NULL;
	if (!p)
		return -1;
	for (uint32_t i = 0; i < p->nopk; i++) {
		if (p->opk[i].id == oid) {
			memmove(p->opk + i, p->opk + i + 1, (p->nopk - i - 1) * sizeof(p->opk[0]));
			p->nopk--;
			return 0;
		}
	}
	return -1;
}

static int ap_mail_put(struct acct_db *db, uint32_t id, uint64_t mid, const uint8_t *from,
    const uint8_t *sealed, size_t len)
{
	if (!id || len == 0 || len > RDV_SEALED_MAX || mid == 0 || mid == UINT64_MAX)
		return -1;
	struct acct_ext *x = acct_ext_get(db, id);
	struct acct_mail *m = x ? malloc(sizeof(*m) + len) : NULL;
	if (!m) {
		if (x)
			acct_ext_tidy(db, id);
		return -1;
	}
	m->next = NULL;
	m->id = mid;
	memcpy(m->from, from, 32);
	m->len = (uint16_t)len;
	memcpy(m->sealed, sealed, len);
	if (x->mtail)
		x->mtail->next = m;
	else
		x->mhead = m;
	x->mtail = m;
	if (x->nmail++ == 0)
		db->with_mail++;
	db->mails++;
	db->mail_bytes += len;
	if (mid >= db->next_mail_id)
		db->next_mail_id = mid + 1;
	return 0;
}

static int ap_mail_ack(struct acct_db *db, uint32_t id, uint64_t mid)
{
	struct acct_ext *x = id ? db->a[id].ext : NULL;
	struct acct_mail *prev = NULL;
	for (struct acct_mail *m = x ? x->mhead : NULL; m; prev = m, m = m->next) {
		if (m->id != mid)
			continue;
		if (prev)
			prev->next = m->next;
		else
			x->mhead = m->next;
		if (x->mtail == m)
			x->mtail = prev;
		db->mails--;
		db->mail_bytes -= m->len;
		free(m);
		if (--x->nmail == 0)
			db->with_mail--;
		acct_ext_tidy(db, id);
		return 0;
	}
	return -1;
}

int acct_apply_rec(struct acct_db *db, const uint8_t *rec, size_t len)
{
	struct rdv_rd c = { rec, len, 0, 0 };
	char s1[RDV_STR8_MAX + 1], s2[RDV_STR8_MAX + 1];
	uint8_t op = rdv_rd_u8(&c);
	const uint8_t *pk = op == AOP_META ? NULL : rdv_rd_take(&c, 32), *pk2;
	uint32_t id = id_of(db, pk);
	int rc;

	switch (op) {
	case AOP_REGISTER:
		rdv_rd_str8(&c, s1, 0, RDV_NAME_MAX);
		rc = c.bad || c.off != len ? -1 : ap_register(db, pk, s1);
		return rc;
	case AOP_RELEASE:
		return c.bad || c.off != len ? -1 : ap_release(db, id);
	case AOP_MOVE:
		pk2 = rdv_rd_take(&c, 32);
		return c.bad || c.off != len ? -1 : ap_move(db, id, pk2);
	case AOP_ALLOW:
		pk2 = rdv_rd_take(&c, 32);
		rc = rdv_rd_u8(&c);
		return c.bad || c.off != len ? -1 : ap_allow(db, id, pk2, (uint8_t)rc);
	case AOP_REQ_ADD:
		pk2 = rdv_rd_take(&c, 32);
		rdv_rd_str8(&c, s1, 0, RDV_STR8_MAX);
		rdv_rd_str8(&c, s2, 0, RDV_STR8_MAX);
		return c.bad || c.off != len ? -1 : ap_req_add(db, id, pk2, s1, s2);
	case AOP_REQ_DEL:
		pk2 = rdv_rd_take(&c, 32);
		return c.bad || c.off != len ? -1 : ap_req_del(db, id, pk2);
	case AOP_PREKEYS: {
		struct rdv_rd probe = c;
		rdv_rd_take(&probe, 4 + 32 + 64);
		size_t n = rdv_rd_u8(&probe);
		rdv_rd_take(&probe, n * 36);
		if (probe.bad || probe.off != len)
			return -1;
		return ap_prekeys(db, id, &c);
	}
	case AOP_OPK_TAKE: {
		uint32_t oid = rdv_rd_u32(&c);
		return c.bad || c.off != len ? -1 : ap_opk_take(db, id, oid);
	}
	case AOP_MAIL_PUT: {
		uint64_t mid = rdv_rd_u64(&c);
		pk2 = rdv_rd_take(&c, 32);
		size_t sl = rdv_rd_u16(&c);
		const uint8_t *sealed = rdv_rd_take(&c, sl);
		if (c.bad || c.off != len)
			return -1;
		return ap_mail_put(db, id, mid, pk2, sealed, sl);
	}
	case AOP_MAIL_ACK: {
		uint64_t mid = rdv_rd_u64(&c);
		return c.bad || c.off != len ? -1 : ap_mail_ack(db, id, mid);
	}
	case AOP_META: {
		uint64_t next = rdv_rd_u64(&c);
		if (c.bad || c.off != len || next == 0 || next == UINT64_MAX)
			return -1;
		if (next > db->next_mail_id)
			db->next_mail_id = next;
		return 0;
	}
	default:
		return -1;
	}
}

/* --- snapshot: the state as records --- */

typedef int (*emit_fn)(void *arg, const uint8_t *rec, size_t len);

static int emit_rb(struct rb *r, emit_fn emit, void *arg)
{
	return r->bad ? -1 : emit(arg, r->b, r->n);
}

static int dump_one(const struct acct_db *db, uint32_t id, emit_fn emit, void *arg)
{
	const struct acct *a = &db->a[id];
	const struct acct_ext *x = a->ext;
	struct rb r = { .n = 0 };
	rb_u8(&r, AOP_REGISTER);
	rb_bytes(&r, a->pk, 32);
	rb_str8(&r, db->names + a->name_off + 1);
	if (emit_rb(&r, emit, arg) < 0)
		return -1;
	if (!x)
		return 0;
	for (uint32_t i = 0; i < x->nallow; i++) {
		r.n = 0;
		rb_u8(&r, AOP_ALLOW);
		rb_bytes(&r, a->pk, 32);
		rb_bytes(&r, x->allow[i].pk, 32);
		rb_u8(&r, x->allow[i].mode);
		if (emit_rb(&r, emit, arg) < 0)
			return -1;
	}
	for (const struct acct_req *q = x->req; q; q = q->next) {
		r.n = 0;
		rb_u8(&r, AOP_REQ_ADD);
		rb_bytes(&r, a->pk, 32);
		rb_bytes(&r, q->from, 32);
		rb_str8(&r, q->handle);
		rb_str8(&r, q->text);
		if (emit_rb(&r, emit, arg) < 0)
			return -1;
	}
	if (x->pre) {
		const struct acct_pre *p = x->pre;
		r.n = 0;
		rb_u8(&r, AOP_PREKEYS);
		rb_bytes(&r, a->pk, 32);
		rb_u32(&r, p->spk_id);
		rb_bytes(&r, p->spk, 32);
		rb_bytes(&r, p->sig, 64);
		rb_u8(&r, (uint8_t)p->nopk);
		for (uint32_t i = 0; i < p->nopk; i++) {
			rb_u32(&r, p->opk[i].id);
			rb_bytes(&r, p->opk[i].pk, 32);
		}
		if (emit_rb(&r, emit, arg) < 0)
			return -1;
	}
	for (const struct acct_mail *m = x->mhead; m; m = m->next) {
		r.n = 0;
		rb_u8(&r, AOP_MAIL_PUT);
		rb_bytes(&r, a->pk, 32);
		rb_u64(&r, m->id);
		rb_bytes(&r, m->from, 32);
		rb_u16(&r, m->len);
		rb_bytes(&r, m->sealed, m->len);
		if (emit_rb(&r, emit, arg) < 0)
			return -1;
	}
	return 0;
}

int acct_dump(const struct acct_db *db, emit_fn emit, void *arg)
{
	struct rb r = { .n = 0 };
	rb_u8(&r, AOP_META);
	rb_u64(&r, db->next_mail_id);
	if (emit_rb(&r, emit, arg) < 0)
		return -1;
	for (uint32_t id = 1; id < db->na; id++)
		if (db->a[id].name_off && dump_one(db, id, emit, arg) < 0)
			return -1;
	return 0;
}

/* --- invariants --- */

static int check_one(const struct acct_db *db, uint32_t id, uint64_t *cnt)
{
	const struct acct *a = &db->a[id];
	const struct acct_ext *x = a->ext;
	char norm[RDV_NAME_MAX + 1];
	const char *name = db->names + a->name_off + 1;
	if (a->name_off >= db->nnames || (uint8_t)db->names[a->name_off] != strlen(name) ||
	    rdv_name_norm(name, norm) < 0 || strcmp(norm, name))
		return -1;
	if (acct_by_pk(db, a->pk) != id || acct_find_name(db, name) != id)
		return -1;
	if (!x)
		return 0;
	if (!x->nallow && !x->req && !x->mhead && !x->pre)
		return -1;	/* empty extras are freed */
	if (x->nallow > x->callow)
		return -1;
	for (uint32_t i = 0; i < x->nallow; i++) {
		if (x->allow[i].mode != RDV_ALLOW_ALLOW && x->allow[i].mode != RDV_ALLOW_BLOCK)
			return -1;
		for (uint32_t j = 0; j < i; j++)
			if (!memcmp(x->allow[i].pk, x->allow[j].pk, 32))
				return -1;
	}
	cnt[0] += x->nallow;
	uint32_t n = 0;
	for (const struct acct_req *q = x->req; q; q = q->next, n++)
		for (const struct acct_req *o = x->req; o != q; o = o->next)
			if (!memcmp(o->from, q->from, 32))
				return -1;
	if (n != x->nreq)
		return -1;
	cnt[1] += n;
	n = 0;
	const struct acct_mail *last = NULL;
	for (const struct acct_mail *m = x->mhead; m; m = m->next, n++) {
		if (!m->len || m->len > RDV_SEALED_MAX || m->id >= db->next_mail_id)
			return -1;
		cnt[3] += m->len;
		last = m;
	}
	if (n != x->nmail || last != x->mtail)
		return -1;
	cnt[2] += n;
	cnt[4] += n > 0;
	if (x->pre) {
		if (x->pre->nopk > RDV_OPK_STORE_MAX)
			return -1;
		for (uint32_t i = 0; i < x->pre->nopk; i++)
			if (x->pre->opk[i].id == 0)
				return -1;
		cnt[5]++;
	}
	return 0;
}

int acct_check(const struct acct_db *db)
{
	uint64_t cnt[6] = { 0 };
	uint32_t live = 0;
	if (db->by_pk.count != db->live || db->by_name.count != db->live ||
	    (uint64_t)db->by_pk.count * 10 > (uint64_t)(db->by_pk.mask + 1) * 7 ||
	    (uint64_t)db->by_name.count * 10 > (uint64_t)(db->by_name.mask + 1) * 7)
		return -1;
	for (uint32_t id = 1; id < db->na; id++) {
		if (!db->a[id].name_off) {
			if (db->a[id].ext)
				return -1;
			continue;
		}
		live++;
		if (check_one(db, id, cnt) < 0)
			return -1;
	}
	if (live != db->live || live + db->nfree + 1 != db->na)
		return -1;
	for (uint32_t i = 0; i < db->nfree; i++)
		if (db->freeids[i] >= db->na || db->a[db->freeids[i]].name_off)
			return -1;
	if (cnt[0] != db->allow_entries || cnt[1] != db->requests || cnt[2] != db->mails ||
	    cnt[3] != db->mail_bytes || cnt[4] != db->with_mail || cnt[5] != db->with_pre)
		return -1;
	return 0;
}

void acct_stats(const struct acct_db *db, struct acct_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->accounts = db->live;
	st->with_mail = db->with_mail;
	st->with_prekeys = db->with_pre;
	st->mails = db->mails;
	st->mail_bytes = db->mail_bytes;
	st->requests = db->requests;
	st->allow_entries = db->allow_entries;
	st->replayed = db->replayed;
	st->skipped = db->skipped;
	st->cut_bytes = db->cut;
	st->generation = db->gen;
	st->journal_bytes = acct_end(db) - db->base;
}
