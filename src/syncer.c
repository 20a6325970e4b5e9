/* syncer.c: one helper thread that runs fdatasync(2) on a batch of files and reports back
 * through a pipe the event loop watches. The thread touches nothing but the batch. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "syncer.h"

struct syncer {
	struct loop *loop;
	syncer_done done;
	void *arg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int *fds;
	size_t n, cap;
	int running;		/* a batch is handed to the thread */
	int ok;
	int quit;
	int pipe[2];		/* thread -> loop: a batch finished */
};

static void *syncer_main(void *arg)
{
	struct syncer *s = arg;
	/* The loop's work (answering, acknowledging, showing) comes first on a busy CPU: syncing
	 * runs when the CPU would otherwise idle, which costs a durable acknowledgement a little
	 * on a loaded machine and nothing on an idle one. */
	struct sched_param sp = { .sched_priority = 0 };
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->quit && !(s->running && s->n))
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->quit && !(s->running && s->n))
			break;
		size_t n = s->n;
		int *fds = s->fds;
		pthread_mutex_unlock(&s->mu);
		int ok = 1;
		for (size_t i = 0; i < n; i++)
			if (fdatasync(fds[i]) < 0)
				ok = 0;
		pthread_mutex_lock(&s->mu);
		s->ok = ok;
		s->n = 0;
		char b = 1;
		while (write(s->pipe[1], &b, 1) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void on_done(struct loop *l, int fd, short revents, void *arg)
{
	struct syncer *s = arg;
	char b[16];
	(void)l;
	(void)revents;
	if (read(fd, b, sizeof(b)) <= 0)
		return;
	pthread_mutex_lock(&s->mu);
	int ok = s->ok;
	s->running = 0;
	pthread_mutex_unlock(&s->mu);
	s->done(s->arg, ok);
}

struct syncer *syncer_new(struct loop *l, syncer_done done, void *arg)
{
	struct syncer *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = l;
	s->done = done;
	s->arg = arg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pipe2(s->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail;
	if (pthread_create(&s->thread, NULL, syncer_main, s) != 0) {
		close(s->pipe[0]);
		close(s->pipe[1]);
		goto fail;
	}
	loop_add(l, s->pipe[0], POLLIN, on_done, s);
	return s;
fail:
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
	return NULL;
}

int syncer_busy(const struct syncer *s)
{
	return s->running;
}

int syncer_start(struct syncer *s, const int *fds, size_t n)
{
	pthread_mutex_lock(&s->mu);
	if (s->running) {
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	if (n > s->cap) {
		int *p = realloc(s->fds, n * sizeof(*p));
		if (!p) {
			pthread_mutex_unlock(&s->mu);
			return -1;
		}
		s->fds = p;
		s->cap = n;
	}
	memcpy(s->fds, fds, n * sizeof(*fds));
	s->n = n;
	s->running = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void syncer_free(struct syncer *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->quit = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);	/* a running batch finishes first */
	loop_del(s->loop, s->pipe[0]);
	close(s->pipe[0]);
	close(s->pipe[1]);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->fds);
	free(s);
}
