/* typing.c: typing notices, both ways: FR_TYPING frames sent unreliably to online contacts,
 * typing -> paused after idle time, refreshes while typing; what the contact's last frame said. */
#include <string.h>

#include "engine_int.h"
#include "log.h"
#include "util.h"

static const char *const typing_words[] = {"stopped", "typing", "paused"};

const char *
typing_word(int state)
{
	return state >= 0 && state <= TYPING_PAUSED ? typing_words[state] : "stopped";
}

int
typing_parse(const char *w)
{
	for (int i = 0; i <= TYPING_PAUSED; i++)
		if (strcmp(w, typing_words[i]) == 0)
			return i;
	return -1;
}

static void
typing_emit(struct contact *c)
{
	engine_emit(c->e, &(struct event){.type = EV_TYPING, .id = c->id, .name = c->name,
					  .word = typing_word(c->typing_in)});
}

/* One frame, now, outside the reliable stream: a lost one is made good by the next. Only to a
 * contact who is online for us (a session, each the other's contact), and never while we are
 * invisible, which a typing notice would give away. */
static void
typing_send(struct contact *c, int state)
{
	uint8_t body[1] = {(uint8_t)state};

	c->typing_sent_ms = mono_ms();
	if (!c->online || c->e->status == ST_INVISIBLE)
		return;
	session_send_frame(c, FR_TYPING, body, sizeof(body));
}

static void
typing_arm(struct contact *c)
{
	uint64_t due = UINT64_MAX, t;

	if (c->typing_out == TYPING_ACTIVE) {
		due = c->typing_key_ms + TYPING_IDLE_MS;
		t = c->typing_sent_ms + TYPING_REFRESH_MS;
		if (t < due)
			due = t;
	}
	if (c->typing_in == TYPING_ACTIVE) {
		t = c->typing_in_ms + TYPING_EXPIRE_MS;
		if (t < due)
			due = t;
	}
	if (due == UINT64_MAX)
		timer_stop(c->e->loop, &c->t_typing);
	else
		timer_at(c->e->loop, &c->t_typing, due);
}

static void
typing_tick(struct loop *l, void *arg)
{
	struct contact *c = arg;
	uint64_t now = mono_ms();

	(void)l;
	if (c->typing_out == TYPING_ACTIVE) {
		if (now - c->typing_key_ms >= TYPING_IDLE_MS) {
			c->typing_out = TYPING_PAUSED;
			typing_send(c, TYPING_PAUSED);
		} else if (now - c->typing_sent_ms >= TYPING_REFRESH_MS) {
			typing_send(c, TYPING_ACTIVE);
		}
	}
	/* their refreshes stopped coming (a lost "paused", or they are gone): paused */
	if (c->typing_in == TYPING_ACTIVE && now - c->typing_in_ms >= TYPING_EXPIRE_MS) {
		c->typing_in = TYPING_PAUSED;
		typing_emit(c);
	}
	typing_arm(c);
}

void
typing_init(struct contact *c)
{
	timer_init(&c->t_typing, typing_tick, c);
}

void
typing_free(struct contact *c)
{
	timer_stop(c->e->loop, &c->t_typing);
}

/* Our side: the user typed (TYPING_ACTIVE, on every key), left the text alone (PAUSED), or
 * cleared or sent it (STOPPED). A frame goes out when the state changes; while typing, a key
 * also refreshes it when the last frame is TYPING_REFRESH_MS old. */
void
typing_set(struct contact *c, int state)
{
	uint64_t now = mono_ms();

	if (state < TYPING_STOPPED || state > TYPING_PAUSED)
		return;
	if (state == TYPING_ACTIVE) {
		c->typing_key_ms = now;
		if (c->typing_out != TYPING_ACTIVE || now - c->typing_sent_ms >= TYPING_REFRESH_MS) {
			c->typing_out = TYPING_ACTIVE;
			typing_send(c, TYPING_ACTIVE);
		}
	} else if (c->typing_out != state) {
		/* "paused" follows typing only; "stopped" follows either */
		if (state == TYPING_STOPPED || c->typing_out == TYPING_ACTIVE) {
			c->typing_out = (uint8_t)state;
			typing_send(c, state);
		}
	}
	typing_arm(c);
}

/* Their side: an FR_TYPING frame (one byte: 0 stopped, 1 typing, 2 paused). Anything else is
 * dropped without a word. */
void
typing_input(struct contact *c, const uint8_t *b, size_t n)
{
	if (n != 1 || b[0] > TYPING_PAUSED || !contact_is_friend(c) || !c->online)
		return;
	c->typing_in_ms = mono_ms();
	if (c->typing_in != b[0]) {
		c->typing_in = b[0];
		typing_emit(c);
	}
	typing_arm(c);
}

/* A message from them arrived, or they went offline: whatever they were typing is done. When
 * they go offline our own state starts again from stopped, so that the next key tells them. */
void
typing_reset(struct contact *c, int offline)
{
	if (c->typing_in != TYPING_STOPPED) {
		c->typing_in = TYPING_STOPPED;
		typing_emit(c);
	}
	if (offline)
		c->typing_out = TYPING_STOPPED;
	typing_arm(c);
}
