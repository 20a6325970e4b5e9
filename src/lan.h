/* lan.h: serverless LAN discovery with signed multicast/broadcast beacons. */
#ifndef TINCAN_LAN_H
#define TINCAN_LAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto.h"
#include "loop.h"

/*
 * Beacon, wire type 5 (the NOISE_* types are 1..4), big-endian:
 *   hdr(4: F1 05 00 00) | pk(32) | ts_ms u64 (wall clock) | session_port u16 | flags u8 |
 *   nick_len u8 | nick (UTF-8, <= 32 bytes, see lan_nick_ok) | sig(64)
 * sig = Ed25519 over "tincan-beacon-v1" || every byte before sig.
 * flags bit0 = "please answer": receivers answer with a unicast beacon (at most once per second
 * per source address). Other flag bits are signed, kept in lan_beacon.flags, and ignored.
 * session_port 0 means "no session port".
 */
#define LAN_GROUP4 "239.255.77.89"
#define LAN_GROUP6 "ff02::114"
enum {
	LAN_BEACON_TYPE = 5,
	LAN_NICK_MAX = 32,
	LAN_BEACON_MIN = 4 + 32 + 8 + 2 + 1 + 1 + 64,	/* 112: empty nick */
	LAN_BEACON_MAX = LAN_BEACON_MIN + LAN_NICK_MAX,	/* 144 */
	LAN_FLAG_ANSWER = 0x01,
	LAN_MAX_SKEW_MS = 5 * 60 * 1000,		/* beacon ts vs our wall clock */
	LAN_REPLAY_KEYS = 1024,				/* keys remembered for replay checks */
};

struct lan_beacon {
	uint8_t pk[32];
	uint64_t ts_ms;
	uint16_t port;		/* the sender's session port */
	uint8_t flags;
	char nick[LAN_NICK_MAX + 1];	/* NUL-terminated, valid per lan_nick_ok */
};

/* 1 if nick (NUL-terminated; NULL counts as "") may go in a beacon: at most LAN_NICK_MAX bytes
 * of strict UTF-8 (no overlongs, surrogates or values above U+10FFFF) without control
 * characters: C0, DEL, C1, U+2028/U+2029, bidi embeddings/overrides/isolates
 * (U+202A..U+202E, U+2066..U+2069). The empty nick is allowed. 0 otherwise. */
int lan_nick_ok(const char *nick);

/* Write a signed beacon into out; returns its length, or 0 when cap is too small, the nick is
 * not lan_nick_ok, or signing fails. */
size_t lan_beacon_build(const struct identity *me, const char *nick, uint16_t port, uint8_t flags,
                        uint64_t now_ms, uint8_t *out, size_t cap);
/* 0 ok (b filled); -1 malformed or bad signature (b then undefined). Checks every length before
 * reading. Does not judge freshness: that is struct lan's job. */
int lan_beacon_parse(const uint8_t *pkt, size_t len, struct lan_beacon *b);

struct lan;
/* Called for every fresh, authentic beacon that is not our own (our pk). from = source address
 * (IPv6 link-local with the scope id of the receiving interface); its port is the sender's
 * beacon socket, not its session port (that is b->port). */
typedef void (*lan_cb)(void *arg, const struct lan_beacon *b, const struct sockaddr *from,
                       socklen_t fromlen);

/*
 * Start discovery on the loop: receive on 0.0.0.0:disc_port and [::]:disc_port (SO_REUSEPORT, so
 * several clients on one host run side by side), joined to LAN_GROUP4 and LAN_GROUP6 on every up,
 * multicast-capable interface; send beacons from a socket of our own (ephemeral port) to the
 * groups and each interface's broadcast address at 0 s, 0.5 s, 1.5 s, then every 10 s +-20%.
 * Interfaces are re-read every 30 s and after a failed send. Works with IPv4 or IPv6 alone.
 * An answer goes to the request's source address and port (our per-client socket, so the right
 * client gets it even when several share the host) and also to its address at disc_port.
 * `me` must outlive the lan. NULL with a message in err (size errlen) on failure: disc_port 0,
 * nick not lan_nick_ok, or neither IPv4 nor IPv6 usable.
 */
struct lan *lan_new(struct loop *l, const struct identity *me, const char *nick, uint16_t disc_port,
                    uint16_t session_port, lan_cb cb, void *arg, char *err, size_t errlen);
/* Change the nick others see and announce it (rate-limited like lan_announce). A nick that is
 * not lan_nick_ok is refused (warning logged, the old one kept); 0 ok, -1 refused. */
int lan_set_nick(struct lan *lan, const char *nick);
/* Send a beacon now (want_reply: with LAN_FLAG_ANSWER). At most one per second: a call within a
 * second of the last beacon is deferred to that second's end, flags merged. */
void lan_announce(struct lan *lan, int want_reply);
/* Send one beacon with LAN_FLAG_ANSWER unicast to `to` (address and port of another client's
 * disc_port, e.g. a peer known by address on a network that filters multicast). Not rate-limited:
 * the caller decides when. 0 sent, -1 error (family unavailable, send failed). */
int lan_probe(struct lan *lan, const struct sockaddr *to, socklen_t tolen);
void lan_free(struct lan *lan);

#endif
