/* hello.h: the HELLO frame: name, status, and whether each side accepts the other. */
#ifndef TINCAN_HELLO_H
#define TINCAN_HELLO_H

#include <stddef.h>
#include <stdint.h>

enum {
	HELLO_ACCEPT = 1 << 0,		/* you are my contact */
	HELLO_REQUEST = 1 << 1,		/* I ask to be yours (text is the request) */
	HELLO_NICK_MAX = 32,
	HELLO_TEXT_MAX = 255,
	HELLO_MAX = 12 + HELLO_NICK_MAX + HELLO_TEXT_MAX,
};

/* Body: gen u32 | ack_gen u32 | flags u8 | status u8 | nick_len u8 | nick | text_len u8 | text */
struct hello {
	uint32_t gen, ack;
	uint8_t flags, status;
	char nick[HELLO_NICK_MAX + 1];
	char text[HELLO_TEXT_MAX + 1];	/* control characters replaced by spaces */
};

size_t hello_build(const struct hello *h, uint8_t *out, size_t cap);
/* 0 ok, -1 malformed (lengths, status out of range, NUL inside). */
int hello_parse(const uint8_t *b, size_t n, struct hello *h);

#endif
