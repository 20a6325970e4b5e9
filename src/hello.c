/* hello.c: encode and decode the HELLO frame body; every length checked before use. */
#include <string.h>

#include "hello.h"
#include "util.h"

size_t hello_build(const struct hello *h, uint8_t *out, size_t cap)
{
	size_t nl = strlen(h->nick), tl = strlen(h->text);
	if (nl > HELLO_NICK_MAX || tl > HELLO_TEXT_MAX || cap < 12 + nl + tl)
		return 0;
	put_u32(out, h->gen);
	put_u32(out + 4, h->ack);
	out[8] = h->flags;
	out[9] = h->status;
	out[10] = (uint8_t)nl;
	memcpy(out + 11, h->nick, nl);
	out[11 + nl] = (uint8_t)tl;
	memcpy(out + 12 + nl, h->text, tl);
	return 12 + nl + tl;
}

int hello_parse(const uint8_t *b, size_t n, struct hello *h)
{
	if (n < 12)
		return -1;
	size_t nl = b[10];
	if (nl > HELLO_NICK_MAX || 12 + nl > n)
		return -1;
	size_t tl = b[11 + nl];
	if (12 + nl + tl != n)
		return -1;
	if (memchr(b + 11, '\0', nl) || memchr(b + 12 + nl, '\0', tl))
		return -1;
	h->gen = get_u32(b);
	h->ack = get_u32(b + 4);
	h->flags = b[8];
	h->status = b[9];
	memcpy(h->nick, b + 11, nl);
	h->nick[nl] = '\0';
	for (size_t i = 0; i < tl; i++) {
		uint8_t c = b[12 + nl + i];
		h->text[i] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
	}
	h->text[tl] = '\0';
	return 0;
}
