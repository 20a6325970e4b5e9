/* rdv_ops.c: the rendezvous client's requests to one server: queued in order, numbered and
 * handed to rel when the session is up, matched with their RESULT, expired or dropped. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rdv_int.h"
#include "util.h"

void ops_free(struct rdv_op *op)
{
	free(op->buf);
	free(op);
}

/* Give every request not yet sent in this session its number and hand it to rel. */
void ops_send(struct rdv_srv *s)
{
	if (s->phase != SRV_UP)
		return;
	for (struct rdv_op *op = s->ops; op; op = op->next) {
		if (op->req)
			continue;
		if (++s->next_req == 0)
			s->next_req = 1;
		op->req = s->next_req;
		put_u32(op->buf + 1, op->req);
		if (rel_queue(&s->rel, rel_next_seq(&s->rel), 0, (const char *)op->buf, op->len) < 0) {
			op->req = 0;
			break;
		}
		op->sent_ms = mono_ms();
	}
}

struct rdv_op *srv_request(struct rdv_srv *s, const struct rdv_msg *m, rdv_done_cb done, int scoped,
			   uint64_t timeout_ms)
{
	uint8_t buf[RDV_MSG_MAX];
	if (s->phase == SRV_REFUSED)
		return NULL;
	size_t n = rdv_encode(m, buf, sizeof(buf));
	if (n < 5)
		return NULL;
	struct rdv_op *op = calloc(1, sizeof(*op));
	if (!op || !(op->buf = malloc(n))) {
		free(op);
		return NULL;
	}
	memcpy(op->buf, buf, n);
	op->len = n;
	op->type = m->type;
	op->scoped = scoped;
	op->done = done;
	op->deadline_ms = timeout_ms ? mono_ms() + timeout_ms : 0;
	struct rdv_op **t = &s->ops;
	while (*t)
		t = &(*t)->next;
	*t = op;
	ops_send(s);
	srv_arm(s);
	return op;
}

/* Take op out of the list and tell its owner. */
void ops_finish(struct rdv_srv *s, struct rdv_op *op, const struct rdv_msg *res)
{
	for (struct rdv_op **pp = &s->ops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	if (op->done)
		op->done(s, op, res);
	ops_free(op);
}

void ops_drop_scoped(struct rdv_srv *s)
{
	struct rdv_op **pp = &s->ops;
	while (*pp) {
		struct rdv_op *op = *pp;
		if (op->scoped) {
			*pp = op->next;
			ops_free(op);
		} else {
			op->req = 0;
			pp = &op->next;
		}
	}
}

void ops_fail_all(struct rdv_srv *s)
{
	while (s->ops)
		ops_finish(s, s->ops, NULL);
}

void ops_expire(struct rdv_srv *s, uint64_t now)
{
	for (struct rdv_op *op = s->ops, *next; op; op = next) {
		next = op->next;
		if (op->deadline_ms && now >= op->deadline_ms) {
			ops_finish(s, op, NULL);
			next = s->ops;	/* the callback may have changed the list */
		}
	}
}

void ops_on_result(struct rdv_srv *s, const struct rdv_msg *m)
{
	for (struct rdv_op *op = s->ops; op; op = op->next) {
		if (op->req && op->req == m->req) {
			ops_finish(s, op, m);
			return;
		}
	}
	log_debug("rendezvous %s: RESULT for unknown request %u", s->label, m->req);
}
