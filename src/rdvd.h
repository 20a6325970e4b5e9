/* rdvd.h: the rendezvous server core: sessions, handshakes, requests, presence; no sockets. */
#ifndef TINCAN_RDVD_H
#define TINCAN_RDVD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "accounts.h"
#include "crypto.h"
#include "rdvmsg.h"

/*
 * The core is driven from outside (tincand.c, or a test): every datagram (or TCP packet) goes
 * to rdvd_input with the source it came from, answers leave through the send callback, and the
 * caller runs rdvd_flush once after each batch of input (group commit: answers that depend on
 * the journal leave only after it is synced) and rdvd_tick when rdvd_next_ms says. Time is
 * passed in (mono_ms()), so tests can run the clock.
 *
 * A source is a number chosen by the caller: the UDP socket it arrived on, or a TCP connection
 * with RDVD_SRC_TCP set (no STUN there). Sessions follow their client from source to source.
 *
 * Relay: an FR_RELAY frame (rel.h) in a client's session, target pk | peer packet, goes out at
 * once as source pk | packet in the target's session, if both users have accounts here, allow
 * each other, the target's session is up (UDP or TCP) and the sender's relay_* limits allow it;
 * else it is dropped and counted. See rdvd_relay.c and the "Relay" section of the protocol.
 */

#define RDVD_SRC_TCP 0x80000000u
/* Set by the core on the src of a packet it sends that may be dropped under backpressure (a
 * relayed datagram: the clients' own rel retransmits it). Mask it off before using src. */
#define RDVD_SEND_DROPPABLE 0x40000000u
enum {
	/* Outside any session: KEYREQ = F1 10 00 00 + 60 zero bytes; KEY = F1 11 00 00 + pk. */
	RDVD_KEYREQ = 0x10,
	RDVD_KEY = 0x11,
	RDVD_KEYREQ_LEN = 64,
	RDVD_KEY_LEN = 36,
	RDVD_HS_TIMEOUT_MS = 15000,	/* a handshake with no DATA after it is forgotten */
	RDVD_TICK_MS = 20,		/* retransmission granularity */
	RDVD_SWEEP_MS = 1000,		/* dead sessions are looked for this often */
	RDVD_RELAY_MAX = RDV_RELAY_MAX,		/* bytes of peer packet in one FR_RELAY frame */
	RDVD_RELAY_MIN_BURST = RDVD_RELAY_MAX,	/* a smaller relay_burst passes no full packet */
};

struct rdvd_conf {
	struct acct_limits lim;
	uint32_t max_sessions;		/* sessions (handshakes included) at once */
	uint32_t session_timeout_ms;	/* silence after which a client is offline */
	uint32_t hs_load;		/* handshakes per second beyond which cookies are required */
	uint32_t hs_rate, hs_burst;	/* handshakes per second per source address (0: no limit) */
	uint32_t req_rate, req_burst;	/* requests per second per session (0: no limit) */
	uint32_t contact_rate, contact_burst;	/* REQUESTs per hour per sender key (0: none) */
	uint32_t reg_rate, reg_burst;	/* new names per hour per source address (0: no limit) */
	uint32_t max_subs;		/* SUBSCRIBEs per session */
	uint32_t max_queue;		/* messages a client has not acknowledged, then dropped */
	/* Relay (FR_RELAY between two mutually allowed users online here), per sender key.
	 * Any of these 0: relaying is off. */
	uint32_t relay_rate, relay_burst;	/* bytes per second, and the burst in bytes */
	uint32_t relay_pkt_rate, relay_pkt_burst;	/* packets per second, and the burst */
	uint64_t relay_daily;		/* bytes per user per 24 hours */
};
void rdvd_conf_default(struct rdvd_conf *c);

typedef void (*rdvd_send_fn)(void *arg, uint32_t src, const struct sockaddr *sa, socklen_t salen,
    const uint8_t *pkt, size_t len);

struct rdvd;
/* me and db stay owned by the caller and must outlive the server. */
struct rdvd *rdvd_new(const struct identity *me, struct acct_db *db, const struct rdvd_conf *conf,
    rdvd_send_fn send, void *arg);
void rdvd_free(struct rdvd *srv);
void rdvd_set_conf(struct rdvd *srv, const struct rdvd_conf *conf);	/* SIGHUP */

void rdvd_input(struct rdvd *srv, uint32_t src, const struct sockaddr *sa, socklen_t salen,
    const uint8_t *pkt, size_t len, uint64_t now_ms);
/* After a batch: sync the journal if needed, release the answers it held, send. Returns -1
 * if the journal could not be synced (answers stay held; try again later). */
int rdvd_flush(struct rdvd *srv, uint64_t now_ms);
/* Timers: retransmissions, dead sessions, snapshots. */
void rdvd_tick(struct rdvd *srv, uint64_t now_ms);
uint64_t rdvd_next_ms(const struct rdvd *srv, uint64_t now_ms);
/* A TCP connection closed: its sessions are gone (clients logged in there go offline). */
void rdvd_source_closed(struct rdvd *srv, uint32_t src, uint64_t now_ms);
/* Clean stop: every logged-in client goes offline (no pushes are sent any more). */
void rdvd_shutdown(struct rdvd *srv);

struct rdvd_stats {
	uint64_t sessions, handshaking, logged_in, keypairs;
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t stun, keyreqs, inits, resps, cookies, rate_limited, bad_packets, bad_requests;
	uint64_t requests, pushes, dead, under_load;
	uint64_t relayed, relay_bytes;	/* packets forwarded, and their bytes */
	uint64_t relay_denied;		/* malformed, off, not mutually allowed, target offline */
	uint64_t relay_limited;		/* over the rate or the daily quota */
	uint64_t relay_users;		/* senders with relay state today */
};
void rdvd_stats(const struct rdvd *srv, struct rdvd_stats *st);

#endif
