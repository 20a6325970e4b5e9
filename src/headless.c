/* headless.c: stdin lines become engine commands; engine events become stdout lines. */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "headless.h"
#include "loop.h"

enum { IN_CAP = 1 << 16, LINE_MAX_BYTES = 8192 };

struct headless {
	struct loop *loop;
	struct engine *e;
	int fd;
	FILE *out;
	char buf[IN_CAP];
	size_t len;
	int skipping;		/* discarding the rest of an over-long line */
	int done;
};

void headless_escape(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	for (; *p; p++) {
		if (*p == '\n') {
			fputs("\\n", out);
		} else if (*p == '\\') {
			fputs("\\\\", out);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(out, "\\x%02x", *p);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fprintf(out, "\\xc2\\x%02x", p[1]);	/* C1 controls */
			p++;
		} else {
			putc(*p, out);
		}
	}
}

static void field(FILE *out, const char *s)
{
	putc(' ', out);
	if (!s || !*s) {
		putc('-', out);
		return;
	}
	/* A field in the middle must not contain a space. */
	for (const char *p = s; *p; p++)
		putc(*p == ' ' ? '_' : *p, out);
}

static void last(FILE *out, const char *s)
{
	if (s && *s) {
		putc(' ', out);
		headless_escape(out, s);
	}
}

void headless_event(void *arg, const struct event *ev)
{
	struct headless *h = arg;
	FILE *o = h->out;
	switch (ev->type) {
	case EV_READY:
		fputs("ready", o);
		field(o, ev->id);
		break;
	case EV_ID:
		fputs("id", o);
		field(o, ev->id);
		field(o, ev->text);
		last(o, ev->name);
		break;
	case EV_PEER:
		fputs("peer", o);
		field(o, ev->id);
		field(o, ev->name);
		field(o, ev->addr);
		break;
	case EV_REQUEST:
		fputs("request", o);
		field(o, ev->id);
		field(o, ev->name);
		last(o, ev->text);
		break;
	case EV_ADDED:
		fputs("added", o);
		field(o, ev->id);
		field(o, ev->name);
		break;
	case EV_ONLINE:
		fputs("online", o);
		field(o, ev->id);
		field(o, ev->path);
		break;
	case EV_OFFLINE:
		fputs("offline", o);
		field(o, ev->id);
		break;
	case EV_STATUS:
		fputs("status", o);
		field(o, ev->id);
		field(o, ev->status);
		last(o, ev->text);
		break;
	case EV_PATH:
		fputs("path", o);
		field(o, ev->id);
		field(o, ev->path);
		break;
	case EV_MSG:
		fprintf(o, "msg %s %" PRIu64 " %" PRIu64, ev->id, ev->msgid, ev->ts);
		putc(' ', o);
		headless_escape(o, ev->text ? ev->text : "");
		break;
	case EV_QUEUED:
		fprintf(o, "queued %s %" PRIu64, ev->id, ev->msgid);
		break;
	case EV_DELIVERED:
		fprintf(o, "delivered %s %" PRIu64, ev->id, ev->msgid);
		break;
	case EV_DURABLE:
		fprintf(o, "durable %s %" PRIu64, ev->id, ev->msgid);
		break;
	case EV_CONTACT:
		fputs("contact", o);
		field(o, ev->id);
		field(o, ev->name);
		field(o, ev->status);
		field(o, ev->path);
		break;
	case EV_WARNING:
		fputs("warning", o);
		field(o, ev->id);
		last(o, ev->text);
		break;
	case EV_ERROR:
		fputs("error", o);
		field(o, ev->word);
		last(o, ev->text);
		break;
	case EV_INFO:
		fputs("info", o);
		last(o, ev->text);
		break;
	case EV_AUTOREPLY:
		fprintf(o, "autoreply %s %" PRIu64, ev->id, ev->msgid);
		last(o, ev->text);
		break;
	case EV_RESTART:
		fprintf(o, "restart %s %" PRIu64, ev->id, ev->msgid);
		break;
	case EV_TYPING:
		fputs("typing", o);
		field(o, ev->id);
		field(o, ev->word);
		break;
	case EV_SENT:
		return;		/* the UI shows our own lines; scripts have `queued` */
	case EV_FLUSH:
		fflush(o);
		return;
	case EV_REGISTERED:
		fputs("registered", o);
		field(o, ev->text);
		field(o, ev->id);
		break;
	case EV_LOGIN:
		fputs("login", o);
		field(o, ev->text);
		break;
	case EV_MAILBOX:
		fprintf(o, "mailbox %s %" PRIu64, ev->id, ev->msgid);
		break;
	}
	putc('\n', o);
}

static void run_line(struct headless *h, char *line)
{
	if (h->done || !h->e)
		return;
	if (engine_command(h->e, line) == 1) {
		h->done = 1;
		loop_stop(h->loop, 0);
	}
}

static void on_stdin(struct loop *l, int fd, short revents, void *arg)
{
	struct headless *h = arg;
	ssize_t n = read(fd, h->buf + h->len, sizeof(h->buf) - h->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {		/* end of input: a clean exit, like /quit */
		if (h->len && !h->skipping) {
			h->buf[h->len] = '\0';
			h->len = 0;
			run_line(h, h->buf);
		}
		loop_del(l, fd);
		h->done = 1;
		loop_stop(l, 0);
		return;
	}
	h->len += (size_t)n;
	size_t start = 0;
	for (size_t i = 0; i < h->len; i++) {
		if (h->buf[i] != '\n')
			continue;
		h->buf[i] = '\0';
		if (!h->skipping)
			run_line(h, h->buf + start);
		h->skipping = 0;
		start = i + 1;
	}
	memmove(h->buf, h->buf + start, h->len - start);
	h->len -= start;
	if (h->len >= LINE_MAX_BYTES) {
		if (!h->skipping)
			headless_event(h, &(struct event){ .type = EV_ERROR, .word = "too-long",
							  .text = "input line too long: ignored" });
		h->skipping = 1;
		h->len = 0;
	}
	(void)revents;
}

static void on_pass(struct loop *l, void *arg)
{
	struct headless *h = arg;
	fflush(h->out);
	(void)l;
}

struct headless *headless_new(struct loop *l, int in_fd, FILE *out)
{
	struct headless *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->loop = l;
	h->fd = in_fd;
	h->out = out;
	setvbuf(out, NULL, _IOFBF, 1 << 16);
	return h;
}

void headless_attach(struct headless *h, struct engine *e)
{
	h->e = e;
	fcntl(h->fd, F_SETFL, fcntl(h->fd, F_GETFL) | O_NONBLOCK);
	loop_add(h->loop, h->fd, POLLIN, on_stdin, h);
	loop_on_pass(h->loop, on_pass, h);
}

int headless_done(const struct headless *h)
{
	return h->done;
}

void headless_free(struct headless *h)
{
	if (!h)
		return;
	fflush(h->out);
	free(h);
}
