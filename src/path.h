/* path.h: splitting a peer packet into relay-sized pieces and putting it together again. */
#ifndef TINCAN_PATH_H
#define TINCAN_PATH_H

#include <stddef.h>
#include <stdint.h>

#include "noise.h"
#include "rdvmsg.h"
#include "rel.h"

/*
 * The relay carries at most RDV_RELAY_MAX bytes of peer packet per frame, but one encrypted
 * peer packet holds up to REL_MAX_PKT + NOISE_DATA_OVERHEAD bytes (a 4,000-byte message). A
 * larger packet goes through the relay as pieces, end to end between the two clients (the
 * server forwards them as it forwards any packet):
 *
 *	version u8 (NOISE_WIRE_VERSION) | PATH_FRAG_TYPE u8 | id u16 | index u8 | count u8 | piece
 *
 * count is 2..PATH_FRAG_MAX, every piece but the last is PATH_FRAG_PIECE bytes. The receiver
 * keeps one packet in assembly per contact: a piece of another id starts over. Nothing in a
 * piece is trusted: the whole packet is authenticated when it is decrypted, and a lost piece
 * loses the packet, which rel sends again.
 */
enum {
	PATH_FRAG_TYPE = 0x20,
	PATH_FRAG_HDR = 6,
	PATH_FRAG_PIECE = RDV_RELAY_MAX - PATH_FRAG_HDR,
	PATH_FRAG_MAX = 4,
	PATH_PKT_MAX = REL_MAX_PKT + NOISE_DATA_OVERHEAD,
};
_Static_assert(PATH_FRAG_PIECE * PATH_FRAG_MAX >= PATH_PKT_MAX, "pieces hold a whole packet");

struct path_frag {
	uint16_t id;
	uint8_t count, have;		/* have: bit i = piece i is here */
	size_t last_len;		/* the last piece's length, once it is here */
	uint8_t buf[PATH_FRAG_PIECE * PATH_FRAG_MAX];
};

/* 1 if pkt is a piece (by its first two bytes). */
int path_is_frag(const uint8_t *pkt, size_t len);
/* Split pkt (PATH_FRAG_PIECE < len <= PATH_PKT_MAX) into pieces written to out[i] with
 * lengths outlen[i]; returns the count, 0 if len is out of range. */
int path_frag_split(const uint8_t *pkt, size_t len, uint16_t id,
		    uint8_t out[PATH_FRAG_MAX][RDV_RELAY_MAX], size_t outlen[PATH_FRAG_MAX]);
/* Take one piece: 1 when the packet is whole (*pkt, *len point into f), 0 while pieces are
 * missing, -1 for a malformed piece (ignored). */
int path_frag_add(struct path_frag *f, const uint8_t *piece, size_t len, const uint8_t **pkt, size_t *pktlen);

#endif
