/* acctops.c: account operations as clients ask for them: checks and quotas, journal, apply. */
#include <string.h>

#include "acct_int.h"
#include "crypto.h"
#include "log.h"
#include "util.h"

void acct_limits_default(struct acct_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_accounts = 2000000;
	lim->max_allow = 1000;
	lim->max_requests = 100;
	lim->mail_per_sender = 1000;
	lim->mail_per_box = 10000;
	lim->mail_bytes = 256ull << 20;
	lim->rotate_bytes = 64ull << 20;
}

void acct_set_limits(struct acct_db *db, const struct acct_limits *lim)
{
	db->lim = *lim;
}

/* Journal then apply a validated operation. The apply cannot fail for a checked operation
 * except for lack of memory; then the record is in the journal and a restart applies it. */
static int commit(struct acct_db *db, const struct rb *r)
{
	if (r->bad)
		return RDV_BAD;
	if (acct_log(db, r->b, r->n) < 0) {
		log_warn("accounts: cannot append to the journal");
		return RDV_QUOTA;
	}
	if (acct_apply_rec(db, r->b, r->n) < 0) {
		log_warn("accounts: out of memory applying operation %u", r->b[0]);
		return RDV_QUOTA;
	}
	return RDV_OK;
}

static int live(const struct acct_db *db, uint32_t id)
{
	return id > 0 && id < db->na && db->a[id].name_off != 0;
}

static const struct acct_ext *ext_of(const struct acct_db *db, uint32_t id)
{
	return live(db, id) ? db->a[id].ext : NULL;
}

int acct_register(struct acct_db *db, const uint8_t pk[32], const char *name)
{
	char norm[RDV_NAME_MAX + 1];
	if (rdv_name_norm(name, norm) < 0)
		return RDV_BAD;
	uint32_t id = acct_by_pk(db, pk);
	if (id)
		return strcmp(acct_name(db, id), norm) ? RDV_BAD : RDV_OK;
	if (acct_find_name(db, norm))
		return RDV_TAKEN;
	if (db->live >= db->lim.max_accounts)
		return RDV_QUOTA;
	struct rb r = { .n = 0 };
	rb_u8(&r, AOP_REGISTER);
	rb_bytes(&r, pk, 32);
	rb_str8(&r, norm);
	return commit(db, &r);
}

/* id if name (any case) is the name pk holds. */
static int own_name(struct acct_db *db, const uint8_t pk[32], const char *name, uint32_t *idp)
{
	char norm[RDV_NAME_MAX + 1];
	uint32_t id = acct_by_pk(db, pk);
	*idp = id;
	if (!id)
		return RDV_NOTREG;
	if (rdv_name_norm(name, norm) < 0 || strcmp(acct_name(db, id), norm))
		return RDV_NOTFOUND;
	return RDV_OK;
}

int acct_release(struct acct_db *db, const uint8_t pk[32], const char *name)
{
	uint32_t id;
	int rc = own_name(db, pk, name, &id);
	if (rc != RDV_OK)
		return rc;
	struct rb r = { .n = 0 };
	rb_u8(&r, AOP_RELEASE);
	rb_bytes(&r, pk, 32);
	return commit(db, &r);
}

int acct_move(struct acct_db *db, const uint8_t pk[32], const char *name,
    const uint8_t new_pk[32], const uint8_t sig[64])
{
	uint8_t msg[RDV_MOVE_SIGMSG_MAX], x[32];
	uint32_t id;
	int rc = own_name(db, pk, name, &id);
	if (rc != RDV_OK)
		return rc;
	size_t n = rdv_move_sigmsg(name, new_pk, msg);
	if (!n || identity_verify(pk, msg, n, sig) < 0 || id_pk_to_x25519(new_pk, x) < 0)
		return RDV_BAD;
	if (!memcmp(pk, new_pk, 32))
		return RDV_OK;
	if (acct_by_pk(db, new_pk))
		return RDV_TAKEN;
	struct rb r = { .n = 0 };
	rb_u8(&r, AOP_MOVE);
	rb_bytes(&r, pk, 32);
	rb_bytes(&r, new_pk, 32);
	return commit(db, &r);
}

static const struct acct_req *find_req(const struct acct_db *db, uint32_t id, const uint8_t from[32])
{
	const struct acct_ext *x = ext_of(db, id);
	for (const struct acct_req *q = x ? x->req : NULL; q; q = q->next)
		if (!memcmp(q->from, from, 32))
			return q;
	return NULL;
}

static int req_del(struct acct_db *db, uint32_t id, const uint8_t from[32])
{
	struct rb r = { .n = 0 };
	rb_u8(&r, AOP_REQ_DEL);
	rb_bytes(&r, db->a[id].pk, 32);
	rb_bytes(&r, from, 32);
	return commit(db, &r);
}

int acct_allow(struct acct_db *db, uint32_t id, const uint8_t target[32], int mode)
{
	if (!live(db, id))
		return RDV_NOTREG;
	if (mode < RDV_ALLOW_REMOVE || mode > RDV_ALLOW_BLOCK)
		return RDV_BAD;
	int cur = acct_mode(db, id, target), rc = RDV_OK;
	const struct acct_ext *x = ext_of(db, id);
	if (cur == 0 && mode != RDV_ALLOW_REMOVE && x && x->nallow >= db->lim.max_allow)
		return RDV_QUOTA;
	if (cur != mode) {
		struct rb r = { .n = 0 };
		rb_u8(&r, AOP_ALLOW);
		rb_bytes(&r, db->a[id].pk, 32);
		rb_bytes(&r, target, 32);
		rb_u8(&r, (uint8_t)mode);
		rc = commit(db, &r);
	}
	/* Any answer (allow, block, or remove = deny) settles a pending request. */
	if (rc == RDV_OK && find_req(db, id, target))
		rc = req_del(db, id, target);
	return rc;
}

int acct_request(struct acct_db *db, uint32_t id, const uint8_t from[32], const char *handle,
    const char *text, int *stored)
{
	*stored = 0;
	if (!live(db, id))
		return RDV_NOTFOUND;
	if (acct_mode(db, id, from) == RDV_ALLOW_BLOCK || !memcmp(db->a[id].pk, from, 32))
		return RDV_OK;	/* dropped, and the sender cannot tell */
	const struct acct_req *q = find_req(db, id, from);
	if (q && !strcmp(q->handle, handle) && !strcmp(q->text, text)) {
		*stored = 1;
		return RDV_OK;
	}
	const struct acct_ext *x = ext_of(db, id);
	if (!q && x && x->req && x->nreq >= db->lim.max_requests) {
		int rc = req_del(db, id, x->req->from);	/* the oldest gives way */
		if (rc != RDV_OK)
			return rc;
	}
	struct rb r = { .n = 0 };
	rb_u8(&r, AOP_REQ_ADD);
	rb_bytes(&r, db->a[id].pk, 32);
	rb_bytes(&r, from, 32);
	rb_str8(&r, handle);
	rb_str8(&r, text);
	int rc = commit(db, &r);
	*stored = rc == RDV_OK;
	return rc;
}

int acct_prekeys(struct acct_db *db, uint32_t id, uint32_t spk_id, const uint8_t spk[32],
    const uint8_t sig[64], size_t n, const struct rdv_opk *opk)
{
	uint8_t msg[RDV_SPK_SIGMSG_LEN];
	if (!live(db, id))
		return RDV_NOTREG;
	if (n > RDV_OPK_MSG_MAX)
		return RDV_BAD;
	rdv_spk_sigmsg(spk_id, spk, msg);
	if (identity_verify(db->a[id].pk, msg, sizeof(msg), sig) < 0)
		return RDV_BAD;
	struct rb r = { .n = 0 };
	rb_u8(&r, AOP_PREKEYS);
	rb_bytes(&r, db->a[id].pk, 32);
	rb_u32(&r, spk_id);
	rb_bytes(&r, spk, 32);
	rb_bytes(&r, sig, 64);
	rb_u8(&r, (uint8_t)n);
	for (size_t i = 0; i < n; i++) {
		if (opk[i].id == 0)
			return RDV_BAD;
		rb_u32(&r, opk[i].id);
		rb_bytes(&r, opk[i].pk, 32);
	}
	return commit(db, &r);
}

int acct_bundle(struct acct_db *db, uint32_t id, const uint8_t requester[32], struct acct_bundle *b)
{
	const struct acct_ext *x = ext_of(db, id);
	memset(b, 0, sizeof(*b));
	if (!x || !x->pre || acct_mode(db, id, requester) != RDV_ALLOW_ALLOW)
		return RDV_NOTFOUND;
	const struct acct_pre *p = x->pre;
	b->spk_id = p->spk_id;
	memcpy(b->spk, p->spk, 32);
	memcpy(b->sig, p->sig, 64);
	if (!p->nopk)
		return RDV_OK;
	struct rdv_opk opk = p->opk[0];
	struct rb r = { .n = 0 };
	rb_u8(&r, AOP_OPK_TAKE);
	rb_bytes(&r, db->a[id].pk, 32);
	rb_u32(&r, opk.id);
	int rc = commit(db, &r);
	if (rc == RDV_OK)
		b->opk = opk;
	return rc;
}

int acct_mail_put(struct acct_db *db, uint32_t id, const uint8_t from[32], const uint8_t *sealed,
    size_t len, uint64_t *mail_id)
{
	const struct acct_ext *x = ext_of(db, id);
	*mail_id = 0;
	if (!live(db, id) || acct_mode(db, id, from) != RDV_ALLOW_ALLOW)
		return RDV_NOTFOUND;
	if (len == 0 || len > RDV_SEALED_MAX)
		return RDV_BAD;
	if (x && x->nmail >= db->lim.mail_per_box)
		return RDV_QUOTA;
	if (db->mail_bytes + len > db->lim.mail_bytes)
		return RDV_QUOTA;
	uint32_t mine = 0;
	for (const struct acct_mail *m = x ? x->mhead : NULL; m; m = m->next)
		mine += !memcmp(m->from, from, 32);
	if (mine >= db->lim.mail_per_sender)
		return RDV_QUOTA;
	uint64_t mid = db->next_mail_id;
	struct rb r = { .n = 0 };
	rb_u8(&r, AOP_MAIL_PUT);
	rb_bytes(&r, db->a[id].pk, 32);
	rb_u64(&r, mid);
	rb_bytes(&r, from, 32);
	rb_u16(&r, (uint16_t)len);
	rb_bytes(&r, sealed, len);
	int rc = commit(db, &r);
	if (rc == RDV_OK)
		*mail_id = mid;
	return rc;
}

int acct_mail_ack(struct acct_db *db, uint32_t id, uint64_t mail_id)
{
	const struct acct_ext *x = ext_of(db, id);
	if (!live(db, id))
		return RDV_NOTREG;
	const struct acct_mail *m = x ? x->mhead : NULL;
	while (m && m->id != mail_id)
		m = m->next;
	if (!m)
		return RDV_NOTFOUND;
	struct rb r = { .n = 0 };
	rb_u8(&r, AOP_MAIL_ACK);
	rb_bytes(&r, db->a[id].pk, 32);
	rb_u64(&r, mail_id);
	return commit(db, &r);
}
