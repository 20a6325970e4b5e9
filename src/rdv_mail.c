/* rdv_mail.c: offline mail through the rendezvous: our prekeys on the home, sealing what an
 * offline contact has not received into its mailbox, and taking our own mail in (acknowledged
 * once the message is on disk). The outbox stays the source of truth: a message leaves it only
 * when the receiver acknowledges it on a direct session. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "rdv_int.h"
#include "util.h"

_Static_assert((int)SEAL_MAX == (int)RDV_SEALED_MAX, "a sealed blob must fit a MAIL message");
_Static_assert((int)SEAL_OPK_BATCH <= (int)RDV_OPK_MSG_MAX, "one PREKEYS message");

enum { MAINT_MS = 60000, RETRY_MS = 30000, BUNDLE_MS = 30000 };

void mail_kick(struct rdv *r, uint64_t delay_ms)
{
	uint64_t due = mono_ms() + delay_ms;
	if (!timer_armed(&r->t_mail) || r->t_mail.due_ms > due)
		timer_at(r->e->loop, &r->t_mail, due);
}

/* --- our prekeys --- */

static void prekeys_done(struct rdv_srv *s, struct rdv_op *op, const struct rdv_msg *res)
{
	struct rdv *r = s->r;
	(void)op;
	r->pub_busy = 0;
	if (!res)
		return;
	if (res->code != RDV_OK) {
		log_warn("rendezvous %s: prekeys refused (code %u)", s->label, res->code);
		return;
	}
	seal_keys_published(r->keys, &r->pub);
	if (seal_keys_save(r->keys) < 0)
		log_warn("prekeys: %s", strerror(errno));
	r->pub_done = 1;
	log_debug("prekeys published: signed prekey %u, %d one-time prekeys", r->pub.spk_id, r->pub.n);
}

void mail_publish(struct rdv *r, int force)
{
	struct rdv_srv *s = r->home;
	if (!s || !s->logged_in || r->pub_busy)
		return;
	int rc = seal_keys_publish(r->keys, &r->e->me, wall_ms(), force || !r->pub_done, &r->pub);
	if (rc <= 0)
		return;
	/* The secrets are on disk before anyone can seal to their public halves. */
	if (seal_keys_save(r->keys) < 0) {
		log_warn("prekeys: cannot save: %s", strerror(errno));
		return;
	}
	struct rdv_msg *m = calloc(1, sizeof(*m));
	if (!m)
		return;
	m->type = RDV_PREKEYS;
	m->spk_id = r->pub.spk_id;
	memcpy(m->spk, r->pub.spk, 32);
	memcpy(m->sig, r->pub.sig, 64);
	m->nopk = (uint8_t)r->pub.n;
	for (int i = 0; i < r->pub.n; i++) {
		m->opk[i].id = r->pub.opk_id[i];
		memcpy(m->opk[i].pk, r->pub.opk[i], 32);
	}
	if (srv_request(s, m, prekeys_done, 0, 0))
		r->pub_busy = 1;
	free(m);
}

/* --- sending: an offline contact's outbox into its mailbox --- */

static struct rdv_peer *peer_of(struct rdv *r, const uint8_t pk[32])
{
	struct contact *c = contact_find_pk(r->e, pk);
	return c ? rdv_peer_get(r, c, 0) : NULL;
}

static uint64_t first_unmailed(const struct rdv_peer *p)
{
	uint64_t a = p->c->rel.acked;
	return (p->mailed_upto > a ? p->mailed_upto : a) + 1;
}

static uint64_t outbox_top(const struct contact *c)
{
	return c->rel.durable + c->rel.cnt;
}

static void mailput_done(struct rdv_srv *s, struct rdv_op *op, const struct rdv_msg *res)
{
	struct rdv *r = s->r;
	struct rdv_peer *p = peer_of(r, op->pk);
	if (!p)
		return;
	if (p->mail_inflight)
		p->mail_inflight--;
	uint64_t now = mono_ms();
	if (res && res->code == RDV_OK) {
		if (!p->mail_stop && op->seq > p->mailed_upto) {
			p->mailed_upto = op->seq;
			engine_emit(r->e, &(struct event){ .type = EV_MAILBOX, .id = p->c->id, .name = p->c->name,
							   .msgid = op->seq });
		}
	} else {
		if (!p->mail_stop && res && res->code == RDV_QUOTA)
			rdv_info(r, "the mailbox of %s is full: messages wait for a direct path", p->c->name);
		p->mail_stop = 1;
		p->mail_next_ms = now + (!res ? RETRY_MS : res->code == RDV_QUOTA ? RDV_MAIL_RETRY_MS :
					 res->code == RDV_NOTFOUND ? RDV_NOTFOUND_RETRY_MS : RETRY_MS);
	}
	if (!p->mail_inflight) {
		p->mail_busy = 0;
		mail_kick(r, 0);
	}
}

static void bundle_done(struct rdv_srv *s, struct rdv_op *op, const struct rdv_msg *res)
{
	struct rdv *r = s->r;
	struct engine *e = r->e;
	struct rdv_peer *p = peer_of(r, op->pk);
	uint64_t now = mono_ms();
	if (!p)
		return;
	p->mail_busy = 0;
	if (!res || res->code != RDV_OK || res->payload != RDV_PL_BUNDLE) {
		/* NOTFOUND: they have not allowed us (yet), or have published no prekeys */
		p->mail_next_ms = now + (res && res->code == RDV_NOTFOUND ? RDV_NOTFOUND_RETRY_MS : RETRY_MS);
		log_debug("%s: no prekey bundle (code %d)", p->c->id, res ? res->code : -1);
		mail_kick(r, p->mail_next_ms - now);
		return;
	}
	struct seal_bundle b = { .spk_id = res->spk_id, .opk_id = res->opk[0].id };
	memcpy(b.spk, res->spk, 32);
	memcpy(b.sig, res->sig, 64);
	memcpy(b.opk, res->opk[0].pk, 32);
	if (seal_bundle_verify(p->c->pk, &b) < 0) {
		rdv_warning(r, p->c->id, "the rendezvous %s gave prekeys for %s that it did not sign: no offline "
			    "mail to it", s->label, p->c->name);
		p->mail_next_ms = now + RDV_MAIL_RETRY_MS;
		return;
	}
	struct contact *c = p->c;
	struct rel *rl = &c->rel;
	struct rdv_msg *m = calloc(1, sizeof(*m));
	uint8_t *blob = malloc(SEAL_MAX);
	uint64_t seq = first_unmailed(p), top = outbox_top(c);
	/* our stream, as a session's FR_STREAM names it */
	struct seal_stream st = { .sid = c->tx_sid, .first = rl->durable + 1 };
	int n = 0;
	p->mail_stop = 0;
	for (; m && blob && seq <= top && n < RDV_MAIL_BATCH && session_up(c) == 0; seq++) {
		const struct rel_out *o = &rl->q[(rl->head + (seq - rl->durable - 1)) % rl->cap];
		if (o->len > SEAL_MAX_TEXT)
			break;		/* too long for a mailbox: waits for the direct path */
		int bl = seal_mail(&e->me, c->pk, &b, o->seq, o->ts, &st, o->text, o->len, blob, SEAL_MAX);
		if (bl < 0)
			break;
		memset(m, 0, sizeof(*m));
		m->type = RDV_MAILPUT;
		memcpy(m->pk, c->pk, 32);
		m->sealed = blob;
		m->sealed_len = (size_t)bl;
		struct rdv_op *put = srv_request(s, m, mailput_done, 0, 0);
		if (!put)
			break;
		memcpy(put->pk, c->pk, 32);
		put->seq = o->seq;
		n++;
	}
	free(m);
	free(blob);
	p->mail_inflight = n;
	p->mail_busy = n > 0;
	if (!n)
		p->mail_next_ms = now + RDV_MAIL_RETRY_MS;	/* a message too long: direct only */
	else
		log_info("%s: %d messages sealed into its mailbox", c->id, n);
}

/* Is it time to mail c? *wake gets when to look again if it might be later. */
static int mail_due(struct rdv_peer *p, uint64_t now, uint64_t *wake)
{
	struct contact *c = p->c;
	uint64_t at = 0;
	if (p->state != PEER_CONTACT || !p->srv || !contact_is_friend(c) || p->mail_busy || !c->rel_ready)
		return 0;
	if ((session_up(c) && c->peer_accepts) || first_unmailed(p) > outbox_top(c) || !srv_up(p->srv))
		return 0;
	if (now < p->mail_next_ms)
		at = p->mail_next_ms;
	else if (p->presence < 0 && now - p->subscribed_ms < RDV_PRESENCE_WAIT_MS)
		at = p->subscribed_ms + RDV_PRESENCE_WAIT_MS;	/* no presence yet: offline soon */
	else if (now - p->subscribed_ms < RDV_MAIL_GRACE_MS)
		at = p->subscribed_ms + RDV_MAIL_GRACE_MS;	/* just subscribed: it may be starting too */
	else if (p->presence > 0 && p->presence != RDV_INVISIBLE && now - p->presence_ms < RDV_DIRECT_WAIT_MS)
		at = p->presence_ms + RDV_DIRECT_WAIT_MS;	/* online: give the direct path a chance */
	if (at) {
		if (at < *wake)
			*wake = at;
		return 0;
	}
	return 1;
}

void mail_tick(struct loop *l, void *arg)
{
	struct rdv *r = arg;
	uint64_t now = mono_ms(), wake = UINT64_MAX;
	(void)l;
	for (size_t i = 0; i < r->npeers; i++) {
		struct rdv_peer *p = r->peers[i];
		if (!mail_due(p, now, &wake))
			continue;
		struct rdv_msg m = { .type = RDV_BUNDLE };
		memcpy(m.pk, p->c->pk, 32);
		struct rdv_op *op = srv_request(p->srv, &m, bundle_done, 0, BUNDLE_MS);
		if (!op)
			continue;
		memcpy(op->pk, p->c->pk, 32);
		p->mail_busy = 1;
	}
	if (wake != UINT64_MAX)
		mail_kick(r, wake - now);
}

/* --- receiving: our mailbox --- */

static void send_mailack(struct rdv_srv *s, uint64_t mail_id)
{
	struct rdv_msg m = { .type = RDV_MAILACK, .mail_id = mail_id };
	srv_request(s, &m, NULL, 0, 0);
}

static void add_ack(struct rdv *r, struct rdv_srv *s, struct contact *c, uint64_t mail_id, uint64_t seq)
{
	for (size_t i = 0; i < r->nacks; i++)
		if (r->acks[i].s == s && r->acks[i].mail_id == mail_id)
			return;
	if (r->nacks >= RDV_MAX_ACKS)
		return;		/* pushed again after the next login */
	if (r->nacks == r->capacks) {
		size_t cap = r->capacks ? r->capacks * 2 : 64;
		void *a = realloc(r->acks, cap * sizeof(*r->acks));
		if (!a)
			return;
		r->acks = a;
		r->capacks = cap;
	}
	r->acks[r->nacks++] = (struct rdv_ack){ .s = s, .c = c, .mail_id = mail_id, .seq = seq };
}

void mail_on_mail(struct rdv_srv *s, const struct rdv_msg *m)
{
	struct rdv *r = s->r;
	struct engine *e = r->e;
	struct contact *c = contact_find_pk(e, m->pk);
	if (!c || !contact_is_friend(c)) {
		log_info("mail from %s, not a contact: deleted", c ? c->id : "a stranger");
		send_mailack(s, m->mail_id);
		return;
	}
	struct seal_msg *sm = sodium_malloc(sizeof(*sm));
	uint8_t *frame = sodium_malloc(3 + SEAL_PAYLOAD_HEAD + SEAL_OPEN_TEXT);
	if (!sm || !frame)
		goto out;
	int rc = seal_keys_open(r->keys, &e->me, wall_ms(), m->sealed, m->sealed_len, sm);
	if (rc != 0 || sodium_memcmp(sm->from, m->pk, 32) != 0 || sm->seq == 0) {
		/* Its sender still has it in the outbox and will send it directly. */
		log_warn("%s: a mail that does not open (%s): deleted", c->id,
			 rc == SEAL_ENOKEY ? "its prekey is gone" : rc == SEAL_EAUTH ? "forged or damaged" : "malformed");
		send_mailack(s, m->mail_id);
		goto out;
	}
	/* Its stream, as a session's FR_STREAM: the R record before any message counted on it (a
	 * version 1 mail names none: counted on the stream we know). While a session is up whose
	 * stream we heard, a mail on another is older than it (a sender that restarts starts a
	 * new session): counting it would renumber the live stream. A mail on a stream a restart
	 * replaced is older too, session or not: a server replaying what it kept. */
	if (sm->has_stream && c->rel_ready) {
		uint64_t base;
		int left = rel_rx_stream(&c->rel, sm->st.sid, sm->st.first, &base) == REL_STREAM_LEFT;
		if (left || (c->s.up && c->s.peer_stream && c->rel.rx_known && sm->st.sid != c->rel.rx_sid)) {
			log_warn("%s: a mail from %s stream of its messages: deleted", c->id,
				 left ? "a replaced" : "an older");
			send_mailack(s, m->mail_id);
			goto out;
		}
		if (log_rx_stream(c, sm->st.sid, sm->st.first) < 0)
			goto out;	/* not acknowledged: pushed again after the next login */
	}
	/* The receive path of a direct DATA frame: in order, once, logged. */
	size_t flen = SEAL_PAYLOAD_HEAD + sm->len;
	frame[0] = FR_DATA;
	put_u16(frame + 1, (uint16_t)flen);
	put_u64(frame + 3, sm->seq);
	put_u64(frame + 11, sm->ts);
	memcpy(frame + 3 + SEAL_PAYLOAD_HEAD, sm->text, sm->len);
	rel_input(&c->rel, frame, 3 + flen, mono_us());
	if (sm->seq <= c->rel.rx_stored || sm->seq - c->rel.rx_stored < REL_WINDOW)
		add_ack(r, s, c, m->mail_id, sm->seq);
	if (seal_keys_opk_count(r->keys) < SEAL_OPK_LOW)
		mail_publish(r, 0);
out:
	if (sm)
		sodium_free(sm);
	if (frame)
		sodium_free(frame);
}

void mail_srv_down(struct rdv_srv *s)
{
	struct rdv *r = s->r;
	size_t j = 0;
	for (size_t i = 0; i < r->nacks; i++)	/* it pushes them again after the next login */
		if (r->acks[i].s != s)
			r->acks[j++] = r->acks[i];
	r->nacks = j;
}

void mail_flush(struct rdv *r)
{
	size_t j = 0;
	for (size_t i = 0; i < r->nacks; i++) {
		struct rdv_ack *a = &r->acks[i];
		if (a->c->rel.rx_durable >= a->seq)
			send_mailack(a->s, a->mail_id);
		else
			r->acks[j++] = *a;
	}
	r->nacks = j;
	uint64_t now = mono_ms();
	if (now - r->maint_ms >= MAINT_MS || (!r->nacks && r->keys)) {
		if (now - r->maint_ms >= MAINT_MS) {
			r->maint_ms = now;
			if (seal_keys_expire(r->keys, wall_ms()))
				mail_publish(r, 0);
		}
		if (seal_keys_save(r->keys) < 0)
			log_warn("prekeys: cannot save: %s", strerror(errno));
	}
}
