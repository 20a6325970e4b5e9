/* check.h: what the unit tests share: CHECK and its counters, xorshift PRNGs, the closing line. */
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <stdint.h>
#include <stdio.h>

static int failures, checks;

/* Count the check; if it fails, say where and what, and go on. */
#define CHECK(c) do { checks++; if (!(c)) { failures++; \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); } } while (0)

/* Marsaglia's xorshift32 (13, 17, 5); the state must not start at 0. */
static inline uint32_t
check_rand32(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Marsaglia's xorshift64 (13, 7, 17); the state must not start at 0. */
static inline uint64_t
check_rand64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The closing line, and main's exit status: 1 if any check failed. */
static inline int
check_end(const char *name)
{
	if (failures) {
		fprintf(stderr, "%s: %d of %d checks failed\n", name, failures, checks);
		return 1;
	}
	printf("%s: %d checks passed\n", name, checks);
	return 0;
}

#endif
