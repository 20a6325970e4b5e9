/* loop.h: the single-threaded event loop: poll(2) over fds, one timer heap, signal flags. */
#ifndef TINCAN_LOOP_H
#define TINCAN_LOOP_H

#include <stdint.h>

struct loop;
typedef void (*loop_fd_cb)(struct loop *l, int fd, short revents, void *arg);
typedef void (*loop_cb)(struct loop *l, void *arg);

/* A timer lives inside its owner's struct; the loop never allocates one. */
struct timer {
	uint64_t due_ms;
	loop_cb cb;
	void *arg;
	int heap_idx;		/* -1 when not armed */
};

struct loop *loop_new(void);
void loop_free(struct loop *l);

int loop_add(struct loop *l, int fd, short events, loop_fd_cb cb, void *arg);
void loop_mod(struct loop *l, int fd, short events);
/* Removal is safe from inside a callback: the slot is reused only after the pass. */
void loop_del(struct loop *l, int fd);

void timer_init(struct timer *t, loop_cb cb, void *arg);
void timer_at(struct loop *l, struct timer *t, uint64_t due_ms);
void timer_in(struct loop *l, struct timer *t, uint64_t delay_ms);
void timer_stop(struct loop *l, struct timer *t);
int timer_armed(const struct timer *t);

/* Called once at the end of every pass, in the order added: flush, send, draw. */
int loop_on_pass(struct loop *l, loop_cb cb, void *arg);

/* Catch sig: the handler only sets a flag; cb runs in the loop. Signals are
 * blocked except while the loop waits in ppoll(2). */
int loop_signal(struct loop *l, int sig, loop_cb cb, void *arg);

/* Run until loop_stop; returns the code given to loop_stop. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l, int code);
/* One pass with a bounded wait (for tests and benchmarks): -1 on error. */
int loop_once(struct loop *l, int max_wait_ms);

#endif
