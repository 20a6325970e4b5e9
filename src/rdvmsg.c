/* rdvmsg.c: encode and decode rendezvous protocol messages; every field bounds-checked. */
#include <string.h>
#include <netinet/in.h>

#include "rdvmsg.h"
#include "util.h"

/* --- reading: a cursor that fails once and stays failed (struct rdv_rd, rdvmsg.h) --- */

const uint8_t *rdv_rd_take(struct rdv_rd *r, size_t k)
{
	if (r->bad || k > r->n - r->off) {
		r->bad = 1;
		return NULL;
	}
	const uint8_t *q = r->p + r->off;
	r->off += k;
	return q;
}

uint8_t rdv_rd_u8(struct rdv_rd *r)
{
	const uint8_t *q = rdv_rd_take(r, 1);
	return q ? q[0] : 0;
}

uint16_t rdv_rd_u16(struct rdv_rd *r)
{
	const uint8_t *q = rdv_rd_take(r, 2);
	return q ? get_u16(q) : 0;
}

uint32_t rdv_rd_u32(struct rdv_rd *r)
{
	const uint8_t *q = rdv_rd_take(r, 4);
	return q ? get_u32(q) : 0;
}

uint64_t rdv_rd_u64(struct rdv_rd *r)
{
	const uint8_t *q = rdv_rd_take(r, 8);
	return q ? get_u64(q) : 0;
}

static void rd_bytes(struct rdv_rd *r, void *dst, size_t k)
{
	const uint8_t *q = rdv_rd_take(r, k);
	if (q)
		memcpy(dst, q, k);
}

void rdv_rd_str8(struct rdv_rd *r, char *dst, size_t min, size_t max)
{
	size_t k = rdv_rd_u8(r);
	if (k < min || k > max) {
		r->bad = 1;
		return;
	}
	const uint8_t *q = rdv_rd_take(r, k);
	if (!q)
		return;
	if (!rdv_utf8_ok(q, k)) {
		r->bad = 1;
		return;
	}
	memcpy(dst, q, k);
	dst[k] = '\0';
}

static void rd_addr(struct rdv_rd *r, struct rdv_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = rdv_rd_u8(r);
	if (a->family == 4)
		rd_bytes(r, a->ip, 4);
	else if (a->family == 6)
		rd_bytes(r, a->ip, 16);
	else
		r->bad = 1;
	a->port = rdv_rd_u16(r);
}

static void rd_addrs(struct rdv_rd *r, struct rdv_msg *m, size_t max)
{
	m->naddr = rdv_rd_u8(r);
	if (m->naddr > max) {
		r->bad = 1;
		return;
	}
	for (size_t i = 0; i < m->naddr && !r->bad; i++)
		rd_addr(r, &m->addr[i]);
}

static int is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int rdv_utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp, min;
		if (c >= 0xC2 && c <= 0xDF) {
			k = 1; cp = c & 0x1F; min = 0x80;
		} else if (c >= 0xE0 && c <= 0xEF) {
			k = 2; cp = c & 0x0F; min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3; cp = c & 0x07; min = 0x10000;
		} else {
			return 0;
		}
		if (k > n - i - 1)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			uint8_t d = s[i + j];
			if ((d & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (d & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

int rdv_decode(const uint8_t *buf, size_t len, struct rdv_msg *m)
{
	struct rdv_rd r = { buf, len, 0, 0 };
	if (len > RDV_MSG_MAX)
		return -1;
	memset(m, 0, offsetof(struct rdv_msg, opk));
	m->sealed = NULL;
	m->sealed_len = 0;
	m->mail_id = 0;
	m->type = rdv_rd_u8(&r);
	if (m->type >= 1 && m->type <= RDV_REQ_LAST)
		m->req = rdv_rd_u32(&r);
	switch (m->type) {
	case RDV_REGISTER:
	case RDV_LOOKUP:
	case RDV_RELEASE:
		rdv_rd_str8(&r, m->name, 1, RDV_NAME_MAX);
		break;
	case RDV_LOGIN:
		m->status = rdv_rd_u8(&r);
		rdv_rd_str8(&r, m->text, 0, RDV_STR8_MAX);
		rd_addrs(&r, m, RDV_LOCAL_ADDR_MAX);
		break;
	case RDV_ALLOW:
		rd_bytes(&r, m->pk, 32);
		m->mode = rdv_rd_u8(&r);
		if (m->mode > RDV_ALLOW_BLOCK)
			return -1;
		break;
	case RDV_REQUEST:
		rdv_rd_str8(&r, m->name, 1, RDV_NAME_MAX);
		rdv_rd_str8(&r, m->handle, 0, RDV_STR8_MAX);
		rdv_rd_str8(&r, m->text, 0, RDV_STR8_MAX);
		break;
	case RDV_SUBSCRIBE:
	case RDV_BUNDLE:
		rd_bytes(&r, m->pk, 32);
		break;
	case RDV_STATUS:
		m->status = rdv_rd_u8(&r);
		rdv_rd_str8(&r, m->text, 0, RDV_STR8_MAX);
		break;
	case RDV_PREKEYS:
		m->spk_id = rdv_rd_u32(&r);
		rd_bytes(&r, m->spk, 32);
		rd_bytes(&r, m->sig, 64);
		m->nopk = rdv_rd_u8(&r);
		if (m->nopk > RDV_OPK_MSG_MAX)
			return -1;
		for (size_t i = 0; i < m->nopk && !r.bad; i++) {
			m->opk[i].id = rdv_rd_u32(&r);
			rd_bytes(&r, m->opk[i].pk, 32);
		}
		break;
	case RDV_MAILPUT:
	case RDV_MAIL:
		if (m->type == RDV_MAIL)
			m->mail_id = rdv_rd_u64(&r);
		rd_bytes(&r, m->pk, 32);
		m->sealed_len = rdv_rd_u16(&r);
		if (m->sealed_len > RDV_SEALED_MAX)
			return -1;
		m->sealed = rdv_rd_take(&r, m->sealed_len);
		break;
	case RDV_MAILACK:
		m->mail_id = rdv_rd_u64(&r);
		break;
	case RDV_MOVE:
		rdv_rd_str8(&r, m->name, 1, RDV_NAME_MAX);
		rd_bytes(&r, m->pk, 32);
		rd_bytes(&r, m->sig, 64);
		break;
	case RDV_RESULT:
		m->req = rdv_rd_u32(&r);
		m->code = rdv_rd_u8(&r);
		if (r.bad || m->code > RDV_CODE_LAST)
			return -1;
		if (len - r.off == 0) {
			m->payload = RDV_PL_NONE;
		} else if (m->code != RDV_OK) {
			return -1;
		} else if (len - r.off == 32) {
			m->payload = RDV_PL_PK;
			rd_bytes(&r, m->pk, 32);
		} else if (len - r.off == RDV_BUNDLE_LEN) {
			m->payload = RDV_PL_BUNDLE;
			m->spk_id = rdv_rd_u32(&r);
			rd_bytes(&r, m->spk, 32);
			rd_bytes(&r, m->sig, 64);
			m->nopk = 1;
			m->opk[0].id = rdv_rd_u32(&r);
			rd_bytes(&r, m->opk[0].pk, 32);
			if (m->opk[0].id == 0 && !is_zero(m->opk[0].pk, 32))
				return -1;
		} else {
			return -1;
		}
		break;
	case RDV_PRESENCE:
		rd_bytes(&r, m->pk, 32);
		m->status = rdv_rd_u8(&r);
		rdv_rd_str8(&r, m->text, 0, RDV_STR8_MAX);
		rd_addrs(&r, m, RDV_ADDR_MAX);
		if (m->status == RDV_OFFLINE && m->naddr)
			return -1;
		break;
	case RDV_REQUESTED:
		rd_bytes(&r, m->pk, 32);
		rdv_rd_str8(&r, m->handle, 0, RDV_STR8_MAX);
		rdv_rd_str8(&r, m->text, 0, RDV_STR8_MAX);
		break;
	default:
		return -1;
	}
	if (m->status > RDV_INVISIBLE)
		return -1;
	if (r.bad || r.off != len)
		return -1;
	return 0;
}

int rdv_peek_req(const uint8_t *buf, size_t len, uint8_t *type, uint32_t *req)
{
	if (len < 5 || buf[0] < 1 || buf[0] > RDV_REQ_LAST)
		return -1;
	*type = buf[0];
	*req = get_u32(buf + 1);
	return 0;
}

/* --- writing: the same cursor idea --- */

struct wr {
	uint8_t *p;
	size_t cap, off;
	int bad;
};

static uint8_t *wr_take(struct wr *w, size_t k)
{
	if (w->bad || k > w->cap - w->off) {
		w->bad = 1;
		return NULL;
	}
	uint8_t *q = w->p + w->off;
	w->off += k;
	return q;
}

static void wr_u8(struct wr *w, uint8_t v)
{
	uint8_t *q = wr_take(w, 1);
	if (q)
		q[0] = v;
}

static void wr_u16(struct wr *w, uint16_t v)
{
	uint8_t *q = wr_take(w, 2);
	if (q)
		put_u16(q, v);
}

static void wr_u32(struct wr *w, uint32_t v)
{
	uint8_t *q = wr_take(w, 4);
	if (q)
		put_u32(q, v);
}

static void wr_u64(struct wr *w, uint64_t v)
{
	uint8_t *q = wr_take(w, 8);
	if (q)
		put_u64(q, v);
}

static void wr_bytes(struct wr *w, const void *src, size_t k)
{
	uint8_t *q = wr_take(w, k);
	if (q && k)
		memcpy(q, src, k);
}

static void wr_str8(struct wr *w, const char *s, size_t min, size_t max)
{
	size_t k = strnlen(s, max + 1);
	if (k < min || k > max || !rdv_utf8_ok((const uint8_t *)s, k)) {
		w->bad = 1;
		return;
	}
	wr_u8(w, (uint8_t)k);
	wr_bytes(w, s, k);
}

static void wr_addrs(struct wr *w, const struct rdv_msg *m, size_t max)
{
	if (m->naddr > max) {
		w->bad = 1;
		return;
	}
	wr_u8(w, m->naddr);
	for (size_t i = 0; i < m->naddr; i++) {
		size_t al = rdv_addr_len(&m->addr[i]);
		if (!al) {
			w->bad = 1;
			return;
		}
		wr_u8(w, m->addr[i].family);
		wr_bytes(w, m->addr[i].ip, al - 3);
		wr_u16(w, m->addr[i].port);
	}
}

size_t rdv_encode(const struct rdv_msg *m, uint8_t *out, size_t cap)
{
	struct wr w = { out, cap < RDV_MSG_MAX ? cap : RDV_MSG_MAX, 0, 0 };
	if (m->status > RDV_INVISIBLE)
		return 0;
	wr_u8(&w, m->type);
	if (m->type >= 1 && m->type <= RDV_REQ_LAST)
		wr_u32(&w, m->req);
	switch (m->type) {
	case RDV_REGISTER:
	case RDV_LOOKUP:
	case RDV_RELEASE:
		wr_str8(&w, m->name, 1, RDV_NAME_MAX);
		break;
	case RDV_LOGIN:
		wr_u8(&w, m->status);
		wr_str8(&w, m->text, 0, RDV_STR8_MAX);
		wr_addrs(&w, m, RDV_LOCAL_ADDR_MAX);
		break;
	case RDV_ALLOW:
		if (m->mode > RDV_ALLOW_BLOCK)
			return 0;
		wr_bytes(&w, m->pk, 32);
		wr_u8(&w, m->mode);
		break;
	case RDV_REQUEST:
		wr_str8(&w, m->name, 1, RDV_NAME_MAX);
		wr_str8(&w, m->handle, 0, RDV_STR8_MAX);
		wr_str8(&w, m->text, 0, RDV_STR8_MAX);
		break;
	case RDV_SUBSCRIBE:
	case RDV_BUNDLE:
		wr_bytes(&w, m->pk, 32);
		break;
	case RDV_STATUS:
		wr_u8(&w, m->status);
		wr_str8(&w, m->text, 0, RDV_STR8_MAX);
		break;
	case RDV_PREKEYS:
		if (m->nopk > RDV_OPK_MSG_MAX)
			return 0;
		wr_u32(&w, m->spk_id);
		wr_bytes(&w, m->spk, 32);
		wr_bytes(&w, m->sig, 64);
		wr_u8(&w, m->nopk);
		for (size_t i = 0; i < m->nopk; i++) {
			wr_u32(&w, m->opk[i].id);
			wr_bytes(&w, m->opk[i].pk, 32);
		}
		break;
	case RDV_MAILPUT:
	case RDV_MAIL:
		if (m->sealed_len > RDV_SEALED_MAX || (m->sealed_len && !m->sealed))
			return 0;
		if (m->type == RDV_MAIL)
			wr_u64(&w, m->mail_id);
		wr_bytes(&w, m->pk, 32);
		wr_u16(&w, (uint16_t)m->sealed_len);
		wr_bytes(&w, m->sealed, m->sealed_len);
		break;
	case RDV_MAILACK:
		wr_u64(&w, m->mail_id);
		break;
	case RDV_MOVE:
		wr_str8(&w, m->name, 1, RDV_NAME_MAX);
		wr_bytes(&w, m->pk, 32);
		wr_bytes(&w, m->sig, 64);
		break;
	case RDV_RESULT:
		if (m->code > RDV_CODE_LAST || (m->payload != RDV_PL_NONE && m->code != RDV_OK))
			return 0;
		wr_u32(&w, m->req);
		wr_u8(&w, m->code);
		if (m->payload == RDV_PL_PK) {
			wr_bytes(&w, m->pk, 32);
		} else if (m->payload == RDV_PL_BUNDLE) {
			if (m->opk[0].id == 0 && !is_zero(m->opk[0].pk, 32))
				return 0;
			wr_u32(&w, m->spk_id);
			wr_bytes(&w, m->spk, 32);
			wr_bytes(&w, m->sig, 64);
			wr_u32(&w, m->opk[0].id);
			wr_bytes(&w, m->opk[0].pk, 32);
		} else if (m->payload != RDV_PL_NONE) {
			return 0;
		}
		break;
	case RDV_PRESENCE:
		if (m->status == RDV_OFFLINE && m->naddr)
			return 0;
		wr_bytes(&w, m->pk, 32);
		wr_u8(&w, m->status);
		wr_str8(&w, m->text, 0, RDV_STR8_MAX);
		wr_addrs(&w, m, RDV_ADDR_MAX);
		break;
	case RDV_REQUESTED:
		wr_bytes(&w, m->pk, 32);
		wr_str8(&w, m->handle, 0, RDV_STR8_MAX);
		wr_str8(&w, m->text, 0, RDV_STR8_MAX);
		break;
	default:
		return 0;
	}
	return w.bad ? 0 : w.off;
}

size_t rdv_encode_result(uint32_t req, uint8_t code, uint8_t *out, size_t cap)
{
	if (cap < 6 || code > RDV_CODE_LAST)
		return 0;
	out[0] = RDV_RESULT;
	put_u32(out + 1, req);
	out[5] = code;
	return 6;
}

/* --- names, signed byte strings, addresses --- */

int rdv_name_norm(const char *in, char out[RDV_NAME_MAX + 1])
{
	size_t n = strnlen(in, RDV_NAME_MAX + 1);
	if (n < 1 || n > RDV_NAME_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return -1;
		out[i] = c;
	}
	out[n] = '\0';
	return 0;
}

void rdv_spk_sigmsg(uint32_t spk_id, const uint8_t spk[32], uint8_t out[RDV_SPK_SIGMSG_LEN])
{
	memcpy(out, "tincan-spk", 10);
	put_u32(out + 10, spk_id);
	memcpy(out + 14, spk, 32);
}

size_t rdv_move_sigmsg(const char *name, const uint8_t new_pk[32], uint8_t out[RDV_MOVE_SIGMSG_MAX])
{
	char norm[RDV_NAME_MAX + 1];
	if (rdv_name_norm(name, norm) < 0)
		return 0;
	size_t n = strlen(norm);
	memcpy(out, "tincan-move", 11);
	memcpy(out + 11, norm, n);
	memcpy(out + 11 + n, new_pk, 32);
	return 11 + n + 32;
}

size_t rdv_addr_len(const struct rdv_addr *a)
{
	return a->family == 4 ? 7 : a->family == 6 ? 19 : 0;
}

int rdv_addr_from_sa(struct rdv_addr *a, const struct sockaddr *sa, socklen_t salen)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		a->family = 4;
		memcpy(a->ip, &s4->sin_addr, 4);
		a->port = ntohs(s4->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (!memcmp(s6->sin6_addr.s6_addr, mapped, 12)) {
			a->family = 4;
			memcpy(a->ip, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			a->family = 6;
			memcpy(a->ip, s6->sin6_addr.s6_addr, 16);
		}
		a->port = ntohs(s6->sin6_port);
		return 0;
	}
	return -1;
}

socklen_t rdv_addr_to_sa(const struct rdv_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a->ip, 4);
		s4->sin_port = htons(a->port);
		return sizeof(*s4);
	}
	if (a->family == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;
		s6->sin6_family = AF_INET6;
		memcpy(s6->sin6_addr.s6_addr, a->ip, 16);
		s6->sin6_port = htons(a->port);
		return sizeof(*s6);
	}
	return 0;
}
