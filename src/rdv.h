/* rdv.h: the rendezvous client inside the engine: home registration and login, contact
 * requests, presence and introductions, sealed offline mail. The engine calls these hooks. */
#ifndef TINCAN_RDV_H
#define TINCAN_RDV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct engine;
struct contact;
struct rdv;
struct rdv_srv;

/* Loads the home directory's rendezvous files (home, servers, handles, prekeys) and, with a
 * home, starts logging in to it. conf_home (tincan.conf's rendezvous key; NULL or "" = none)
 * overrides the home file, and the name is registered there if it is not yet. NULL with a
 * message in err (an unreadable file, a bad conf_home). */
struct rdv *rdv_new(struct engine *e, const char *conf_home, char *err, size_t errlen);
/* Clean exit: logs out of the home (STATUS offline, sent at once) and frees everything. */
void rdv_free(struct rdv *r);

/* Every UDP packet on the engine's socket is offered here first: 1 if it belonged to a
 * rendezvous session (consumed), 0 if not. */
int rdv_input(struct rdv *r, const uint8_t *pkt, size_t len, const struct sockaddr *src, socklen_t srclen);
/* End of every loop pass: send what is due, acknowledge mail now on disk, start mail batches. */
void rdv_flush(struct rdv *r);

/* Commands. arg is the rest of the command line (modifiable). */
void rdv_cmd_register(struct rdv *r, char *arg);	/* name@host[:port] [server-ID] */
void rdv_cmd_add(struct rdv *r, char *handle, const char *text);	/* /add name@host[:port] */
/* The user answered a contact request: 0 accept, 1 deny, 2 block. */
void rdv_answer(struct rdv *r, struct contact *c, int how);
void rdv_status_changed(struct rdv *r);		/* /status: tell the home */
/* Our addresses changed (a port mapping came or went): LOGIN to the home again, so that
 * contacts get them in a new PRESENCE. r may be NULL (LAN-only). */
void rdv_addrs_changed(struct rdv *r);
/* Something changed for c that may call for offline mail: a message was queued, its
 * session went down. */
void rdv_outbox_changed(struct rdv *r, struct contact *c);
/* c is about to be freed (an evicted stranger): forget what refers to it. */
void rdv_contact_gone(struct rdv *r, struct contact *c);
/* For /info and /contacts: c's handle ("" when none); the home handle ("" when none). */
const char *rdv_contact_handle(struct rdv *r, const struct contact *c);
const char *rdv_home(struct rdv *r);

/* The relay (path.c). The server through which c can be reached when no direct path works:
 * c's home, with our session there up and c present; else NULL. */
struct rdv_srv *rdv_relay_srv(struct rdv *r, const struct contact *c);
/* One peer packet (1..RDV_RELAY_MAX bytes) to pk through s, outside rel: 0, or -1 if the
 * session with s is not up. Relayed packets come back through path_relay_input. */
int rdv_relay_send(struct rdv_srv *s, const uint8_t pk[32], const uint8_t *pkt, size_t len);
/* 1 if the home session runs over TCP because UDP got no answer. */
int rdv_udp_blocked(const struct rdv *r);
/* c's candidate addresses from its last presence (in the engine socket's family); count. */
int rdv_candidates(struct rdv *r, const struct contact *c, struct sockaddr_storage *ss, socklen_t *len, int max);

#endif
