/* accounts.c: the in-memory account state: hash tables, names arena, records applied and dumped. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "acct_int.h"
#include "util.h"

enum {
	TAB_MIN = 1024,
	NAMES_MIN = 4096,
};

/* --- hashing and tables --- */

static uint32_t hash_bytes(const struct acct_db *db, const void *p, size_t n)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, p, n, db->hkey);
	return get_u32(h);
}

static const char *name_at(const struct acct_db *db, uint32_t off)
{
	return db->names + off + 1;
}

static uint32_t hash_of(const struct acct_db *db, const struct acct_tab *t, uint32_t id)
{
	const struct acct *a = &db->a[id];
	if (t == &db->by_pk)
		return hash_bytes(db, a->pk, 32);
	return hash_bytes(db, name_at(db, a->name_off), (uint8_t)db->names[a->name_off]);
}

static int tab_init(struct acct_tab *t, uint32_t cap)
{
	t->slot = calloc(cap, sizeof(*t->slot));
	t->mask = cap - 1;
	t->count = 0;
	return t->slot ? 0 : -1;
}

void acct_tab_put(struct acct_db *db, struct acct_tab *t, uint32_t id)
{
	uint32_t i = hash_of(db, t, id) & t->mask;
	while (t->slot[i])
		i = (i + 1) & t->mask;
	t->slot[i] = id;
	t->count++;
}

int acct_tab_grow(struct acct_db *db, struct acct_tab *t)
{
	/* at most 70% full: linear probing stays short, and a million accounts fit 2^21 slots */
	if ((uint64_t)(t->count + 1) * 10 <= (uint64_t)(t->mask + 1) * 7)
		return 0;
	struct acct_tab old = *t;
	if (tab_init(t, (old.mask + 1) * 2) < 0) {
		*t = old;
		return -1;
	}
	for (uint32_t i = 0; i <= old.mask; i++)
		if (old.slot[i])
			acct_tab_put(db, t, old.slot[i]);
	free(old.slot);
	return 0;
}

/* Backward-shift deletion keeps every probe sequence unbroken without tombstones. */
void acct_tab_del(struct acct_db *db, struct acct_tab *t, uint32_t id)
{
	uint32_t i = hash_of(db, t, id) & t->mask;
	while (t->slot[i] != id) {
		if (!t->slot[i])
			return;
		i = (i + 1) & t->mask;
	}
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->slot[j])
			break;
		uint32_t k = hash_of(db, t, t->slot[j]) & t->mask;
		/* move slot j back to i unless its home k lies cyclically in (i, j] */
		int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			t->slot[i] = t->slot[j];
			i = j;
		}
	}
	t->slot[i] = 0;
	t->count--;
}

uint32_t acct_by_pk(const struct acct_db *db, const uint8_t pk[32])
{
	const struct acct_tab *t = &db->by_pk;
	uint32_t i = hash_bytes(db, pk, 32) & t->mask, id;
	while ((id = t->slot[i])) {
		if (!memcmp(db->a[id].pk, pk, 32))
			return id;
		i = (i + 1) & t->mask;
	}
	return ACCT_NONE;
}

uint32_t acct_find_name(const struct acct_db *db, const char *norm)
{
	const struct acct_tab *t = &db->by_name;
	size_t n = strlen(norm);
	uint32_t i = hash_bytes(db, norm, n) & t->mask, id;
	while ((id = t->slot[i])) {
		uint32_t off = db->a[id].name_off;
		if ((uint8_t)db->names[off] == n && !memcmp(name_at(db, off), norm, n))
			return id;
		i = (i + 1) & t->mask;
	}
	return ACCT_NONE;
}

uint32_t acct_by_name(const struct acct_db *db, const char *name)
{
	char norm[RDV_NAME_MAX + 1];
	if (rdv_name_norm(name, norm) < 0)
		return ACCT_NONE;
	return acct_find_name(db, norm);
}

static int live_id(const struct acct_db *db, uint32_t id)
{
	return id > 0 && id < db->na && db->a[id].name_off != 0;
}

const uint8_t *acct_pk(const struct acct_db *db, uint32_t id)
{
	return live_id(db, id) ? db->a[id].pk : NULL;
}

const char *acct_name(const struct acct_db *db, uint32_t id)
{
	return live_id(db, id) ? name_at(db, db->a[id].name_off) : NULL;
}

uint32_t acct_gen(const struct acct_db *db, uint32_t id)
{
	return id > 0 && id < db->na ? db->a[id].gen : 0;
}

/* --- names arena --- */

uint32_t acct_names_add(struct acct_db *db, const char *s, size_t n)
{
	if (db->cnames - db->nnames < n + 2) {
		size_t cap = db->cnames ? (size_t)db->cnames * 2 : NAMES_MIN;
		while (cap - db->nnames < n + 2)
			cap *= 2;
		if (cap > UINT32_MAX)
			return 0;
		char *p = realloc(db->names, cap);
		if (!p)
			return 0;
		db->names = p;
		db->cnames = (uint32_t)cap;
	}
	uint32_t off = db->nnames;
	db->names[off] = (char)n;
	memcpy(db->names + off + 1, s, n);
	db->names[off + 1 + n] = '\0';
	db->nnames += (uint32_t)n + 2;
	return off;
}

/* Copy the live names into a fresh arena; offsets change, ids and tables do not. */
void acct_names_compact(struct acct_db *db)
{
	size_t need = 1;
	for (uint32_t id = 1; id < db->na; id++)
		if (db->a[id].name_off)
			need += (uint8_t)db->names[db->a[id].name_off] + 2u;
	char *p = malloc(need > NAMES_MIN ? need : NAMES_MIN);
	if (!p)
		return;
	uint32_t n = 1;
	p[0] = 0;
	for (uint32_t id = 1; id < db->na; id++) {
		uint32_t off = db->a[id].name_off;
		if (!off)
			continue;
		uint32_t k = (uint8_t)db->names[off] + 2u;
		memcpy(p + n, db->names + off, k);
		db->a[id].name_off = n;
		n += k;
	}
	free(db->names);
	db->names = p;
	db->nnames = n;
	db->cnames = (uint32_t)(need > NAMES_MIN ? need : NAMES_MIN);
	db->names_garbage = 0;
}

/* --- per-account extras --- */

struct acct_ext *acct_ext_get(struct acct_db *db, uint32_t id)
{
	struct acct *a = &db->a[id];
	if (!a->ext)
		a->ext = calloc(1, sizeof(*a->ext));
	return a->ext;
}

void acct_ext_drop_mail(struct acct_db *db, struct acct_ext *x)
{
	struct acct_mail *m = x->mhead, *nx;
	for (; m; m = nx) {
		nx = m->next;
		db->mail_bytes -= m->len;
		db->mails--;
		free(m);
	}
	if (x->nmail)
		db->with_mail--;
	x->mhead = x->mtail = NULL;
	x->nmail = 0;
}

void acct_ext_drop_pre(struct acct_db *db, struct acct_ext *x)
{
	if (x->pre)
		db->with_pre--;
	free(x->pre);
	x->pre = NULL;
}

void acct_ext_tidy(struct acct_db *db, uint32_t id)
{
	struct acct_ext *x = db->a[id].ext;
	if (x && !x->nallow && !x->req && !x->mhead && !x->pre) {
		free(x->allow);
		free(x);
		db->a[id].ext = NULL;
	}
}

void acct_ext_free(struct acct_db *db, uint32_t id)
{
	struct acct_ext *x = db->a[id].ext;
	if (!x)
		return;
	acct_ext_drop_mail(db, x);
	acct_ext_drop_pre(db, x);
	db->allow_entries -= x->nallow;
	x->nallow = 0;
	for (struct acct_req *r = x->req, *nx; r; r = nx) {
		nx = r->next;
		free(r);
		db->requests--;
	}
	x->req = NULL;
	x->nreq = 0;
	acct_ext_tidy(db, id);
}

int acct_mode(const struct acct_db *db, uint32_t id, const uint8_t target[32])
{
	const struct acct_ext *x = live_id(db, id) ? db->a[id].ext : NULL;
	for (uint32_t i = 0; x && i < x->nallow; i++)
		if (!memcmp(x->allow[i].pk, target, 32))
			return x->allow[i].mode;
	return 0;
}

const struct acct_allow *acct_list(const struct acct_db *db, uint32_t id, size_t *n)
{
	const struct acct_ext *x = live_id(db, id) ? db->a[id].ext : NULL;
	*n = x ? x->nallow : 0;
	return x ? x->allow : NULL;
}

const struct acct_req *acct_requests(const struct acct_db *db, uint32_t id)
{
	const struct acct_ext *x = live_id(db, id) ? db->a[id].ext : NULL;
	return x ? x->req : NULL;
}

const struct acct_mail *acct_mails(const struct acct_db *db, uint32_t id)
{
	const struct acct_ext *x = live_id(db, id) ? db->a[id].ext : NULL;
	return x ? x->mhead : NULL;
}

uint32_t acct_mail_count(const struct acct_db *db, uint32_t id)
{
	const struct acct_ext *x = live_id(db, id) ? db->a[id].ext : NULL;
	return x ? x->nmail : 0;
}

int acct_has_prekeys(const struct acct_db *db, uint32_t id)
{
	const struct acct_ext *x = live_id(db, id) ? db->a[id].ext : NULL;
	return x && x->pre;
}

uint32_t acct_opk_count(const struct acct_db *db, uint32_t id)
{
	const struct acct_ext *x = live_id(db, id) ? db->a[id].ext : NULL;
	return x && x->pre ? x->pre->nopk : 0;
}

/* --- init and teardown --- */

int acct_db_init(struct acct_db *db, const struct acct_limits *lim)
{
	memset(db, 0, sizeof(*db));
	db->lim = *lim;
	db->lockfd = -1;
	randombytes_buf(db->hkey, sizeof(db->hkey));
	db->ca = 1024;
	db->na = 1;
	db->a = calloc(db->ca, sizeof(*db->a));
	db->names = malloc(NAMES_MIN);
	db->next_mail_id = 1;
	if (!db->a || !db->names || tab_init(&db->by_pk, TAB_MIN) < 0 ||
	    tab_init(&db->by_name, TAB_MIN) < 0) {
		acct_db_clear(db);
		return -1;
	}
	db->cnames = NAMES_MIN;
	db->nnames = 1;
	db->names[0] = 0;
	return 0;
}

void acct_db_clear(struct acct_db *db)
{
	for (uint32_t id = 1; db->a && id < db->na; id++)
		if (db->a[id].name_off)
			acct_ext_free(db, id);
	free(db->a);
	free(db->freeids);
	free(db->by_pk.slot);
	free(db->by_name.slot);
	free(db->names);
	db->a = NULL;
	db->freeids = NULL;
	db->by_pk.slot = db->by_name.slot = NULL;
	db->names = NULL;
}
