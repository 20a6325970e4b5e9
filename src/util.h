/* util.h: small helpers shared by every module: clocks, byte order, bounded strings. */
#ifndef TINCAN_UTIL_H
#define TINCAN_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Milliseconds on the monotonic clock; for timers and RTTs. */
uint64_t mono_ms(void);
/* Microseconds on the monotonic clock; for benchmarks and RTT samples. */
uint64_t mono_us(void);
/* Milliseconds since the Unix epoch; for message timestamps only. */
uint64_t wall_ms(void);

static inline void put_u16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static inline void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}
static inline void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, v >> 32); put_u32(p + 4, (uint32_t)v);
}
static inline uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

/* strlcpy semantics: always NUL-terminates when size > 0; returns strlen(src). */
size_t str_copy(char *dst, const char *src, size_t size);

#endif
