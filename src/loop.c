/* loop.c: poll(2) registry, timer heap and signal flags for one thread. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop.h"
#include "util.h"

enum { LOOP_MAX_SIG = 65, LOOP_MAX_PASS = 8 };

struct slot {
	loop_fd_cb cb;
	void *arg;
	int live;
};

struct loop {
	struct pollfd *pfd;
	struct slot *slot;
	size_t n, cap;
	int dirty;			/* slots were deleted this pass */
	struct timer **heap;
	size_t nheap, capheap;
	struct {
		loop_cb cb;
		void *arg;
	} sig[LOOP_MAX_SIG], pass[LOOP_MAX_PASS];
	size_t npass;
	sigset_t blocked;
	int running, code;
};

static volatile sig_atomic_t sig_flag[LOOP_MAX_SIG];

static void sig_handler(int sig)
{
	if (sig > 0 && sig < LOOP_MAX_SIG)
		sig_flag[sig] = 1;
}

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (l)
		sigemptyset(&l->blocked);
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	free(l->pfd);
	free(l->slot);
	free(l->heap);
	free(l);
}

int loop_add(struct loop *l, int fd, short events, loop_fd_cb cb, void *arg)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct pollfd *p = realloc(l->pfd, cap * sizeof(*p));
		if (!p)
			return -1;
		l->pfd = p;
		struct slot *s = realloc(l->slot, cap * sizeof(*s));
		if (!s)
			return -1;
		l->slot = s;
		l->cap = cap;
	}
	l->pfd[l->n] = (struct pollfd){ .fd = fd, .events = events };
	l->slot[l->n] = (struct slot){ .cb = cb, .arg = arg, .live = 1 };
	l->n++;
	return 0;
}

void loop_mod(struct loop *l, int fd, short events)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->pfd[i].fd == fd && l->slot[i].live)
			l->pfd[i].events = events;
}

void loop_del(struct loop *l, int fd)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->pfd[i].fd == fd && l->slot[i].live) {
			l->slot[i].live = 0;
			l->pfd[i].fd = -1;
			l->dirty = 1;
		}
	}
}

static void compact(struct loop *l)
{
	size_t j = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (!l->slot[i].live)
			continue;
		l->pfd[j] = l->pfd[i];
		l->slot[j] = l->slot[i];
		j++;
	}
	l->n = j;
	l->dirty = 0;
}

/* Timer heap: a binary min-heap on due_ms, each timer knows its index. */
static void heap_swap(struct loop *l, size_t a, size_t b)
{
	struct timer *t = l->heap[a];
	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_idx = (int)a;
	l->heap[b]->heap_idx = (int)b;
}

static void heap_up(struct loop *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p]->due_ms <= l->heap[i]->due_ms)
			break;
		heap_swap(l, i, p);
		i = p;
	}
}

static void heap_down(struct loop *l, size_t i)
{
	for (;;) {
		size_t a = 2 * i + 1, b = a + 1, m = i;
		if (a < l->nheap && l->heap[a]->due_ms < l->heap[m]->due_ms)
			m = a;
		if (b < l->nheap && l->heap[b]->due_ms < l->heap[m]->due_ms)
			m = b;
		if (m == i)
			break;
		heap_swap(l, i, m);
		i = m;
	}
}

void timer_init(struct timer *t, loop_cb cb, void *arg)
{
	*t = (struct timer){ .cb = cb, .arg = arg, .heap_idx = -1 };
}

int timer_armed(const struct timer *t)
{
	return t->heap_idx >= 0;
}

void timer_stop(struct loop *l, struct timer *t)
{
	if (t->heap_idx < 0)
		return;
	size_t i = (size_t)t->heap_idx;
	l->nheap--;
	if (i != l->nheap) {
		l->heap[i] = l->heap[l->nheap];
		l->heap[i]->heap_idx = (int)i;
		heap_down(l, i);
		heap_up(l, i);
	}
	t->heap_idx = -1;
}

void timer_at(struct loop *l, struct timer *t, uint64_t due_ms)
{
	timer_stop(l, t);
	if (l->nheap == l->capheap) {
		size_t cap = l->capheap ? l->capheap * 2 : 32;
		struct timer **h = realloc(l->heap, cap * sizeof(*h));
		if (!h)
			abort();	/* a lost timer would stall delivery silently */
		l->heap = h;
		l->capheap = cap;
	}
	t->due_ms = due_ms;
	t->heap_idx = (int)l->nheap;
	l->heap[l->nheap++] = t;
	heap_up(l, (size_t)t->heap_idx);
}

void timer_in(struct loop *l, struct timer *t, uint64_t delay_ms)
{
	timer_at(l, t, mono_ms() + delay_ms);
}

int loop_on_pass(struct loop *l, loop_cb cb, void *arg)
{
	if (l->npass == LOOP_MAX_PASS)
		return -1;
	l->pass[l->npass].cb = cb;
	l->pass[l->npass].arg = arg;
	l->npass++;
	return 0;
}

int loop_signal(struct loop *l, int sig, loop_cb cb, void *arg)
{
	if (sig <= 0 || sig >= LOOP_MAX_SIG)
		return -1;
	l->sig[sig].cb = cb;
	l->sig[sig].arg = arg;
	sigaddset(&l->blocked, sig);
	if (sigprocmask(SIG_BLOCK, &l->blocked, NULL) < 0)
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

void loop_stop(struct loop *l, int code)
{
	l->running = 0;
	l->code = code;
}

int loop_once(struct loop *l, int max_wait_ms)
{
	uint64_t now = mono_ms();
	int wait = max_wait_ms;
	if (l->nheap) {
		uint64_t due = l->heap[0]->due_ms;
		int d = due <= now ? 0 : (due - now > 86400000u ? 86400000 : (int)(due - now));
		if (wait < 0 || d < wait)
			wait = d;
	}
	struct timespec ts, *tsp = NULL;
	if (wait >= 0) {
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (long)(wait % 1000) * 1000000L;
		tsp = &ts;
	}
	sigset_t open;
	sigprocmask(SIG_BLOCK, NULL, &open);
	for (int s = 1; s < LOOP_MAX_SIG; s++)
		if (sigismember(&l->blocked, s))
			sigdelset(&open, s);
	int n = ppoll(l->pfd, l->n, tsp, &open);
	if (n < 0 && errno != EINTR)
		return -1;
	for (int s = 1; s < LOOP_MAX_SIG; s++) {
		if (sig_flag[s]) {
			sig_flag[s] = 0;
			if (l->sig[s].cb)
				l->sig[s].cb(l, l->sig[s].arg);
		}
	}
	size_t count = l->n;	/* fds added during the pass wait for the next one */
	for (size_t i = 0; n > 0 && i < count; i++) {
		if (!l->slot[i].live || !l->pfd[i].revents)
			continue;
		short re = l->pfd[i].revents;
		l->pfd[i].revents = 0;
		l->slot[i].cb(l, l->pfd[i].fd, re, l->slot[i].arg);
	}
	now = mono_ms();
	while (l->nheap && l->heap[0]->due_ms <= now) {
		struct timer *t = l->heap[0];
		timer_stop(l, t);
		t->cb(l, t->arg);
	}
	for (size_t i = 0; i < l->npass; i++)
		l->pass[i].cb(l, l->pass[i].arg);
	if (l->dirty)
		compact(l);
	return 0;
}

int loop_run(struct loop *l)
{
	l->running = 1;
	while (l->running)
		if (loop_once(l, -1) < 0)
			return -1;
	return l->code;
}
