/* store.c: durable whole-file operations: mkdir -p, atomic replace, bounded read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store.h"

enum { STORE_READ_HINT = 4096 };

int store_mkdirs(const char *path, mode_t mode)
{
	struct stat st;
	char *p, *s;
	int ret = -1;

	if (!path || !*path) {
		errno = ENOENT;
		return -1;
	}
	if ((p = strdup(path)) == NULL)
		return -1;
	/* Walk the components left to right; s points at each '/' after a component, then
	 * at the terminating NUL. */
	s = p;
	while (*s == '/')
		s++;
	for (;;) {
		int last;

		while (*s && *s != '/')
			s++;
		last = *s == '\0';
		*s = '\0';
		if (mkdir(p, mode) < 0) {
			int e = errno;

			if (stat(p, &st) < 0) {
				errno = e;
				goto out;
			}
			if (!S_ISDIR(st.st_mode)) {
				errno = ENOTDIR;
				goto out;
			}
		}
		if (last)
			break;
		*s++ = '/';
		while (*s == '/')
			s++;
		if (*s == '\0')
			break;
	}
	ret = 0;
out:
	free(p);
	return ret;
}

int store_fsync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, ret, e;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return ret;
}

static int store_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int store_write_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	static const char suffix[] = ".tmp.XXXXXX";
	size_t plen;
	char *tmp;
	int fd = -1, e;

	if (!path || !*path || (!buf && len)) {
		errno = EINVAL;
		return -1;
	}
	plen = strlen(path);
	if ((tmp = malloc(plen + sizeof suffix)) == NULL)
		return -1;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, suffix, sizeof suffix);
	/* mkostemp opens with O_CREAT|O_EXCL and mode 0600, so the content is never exposed
	 * under a wider mode, even for a moment. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		e = errno;
		free(tmp);
		errno = e;
		return -1;
	}
	if (fchmod(fd, mode & 07777) < 0 || store_write_all(fd, buf, len) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	/* The rename is done; only its durability is at stake if the directory sync fails. */
	return store_fsync_dir(path);
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	errno = e;
	return -1;
}

/* Move the first used bytes of *b into a buffer of ncap bytes, wiping the old one. */
static int store_grow(char **b, size_t used, size_t ncap)
{
	char *nb = malloc(ncap);

	if (!nb)
		return -1;
	memcpy(nb, *b, used);
	sodium_memzero(*b, used);
	free(*b);
	*b = nb;
	return 0;
}

int store_read_file(const char *path, char **buf, size_t *len, size_t max)
{
	struct stat st;
	size_t cap, used = 0, hint = STORE_READ_HINT;
	char *b = NULL;
	int fd, e;

	*buf = NULL;
	if (len)
		*len = 0;
	if (max > SIZE_MAX / 2)
		max = SIZE_MAX / 2;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > max) {
			errno = EFBIG;
			goto fail;
		}
		hint = (size_t)st.st_size;
	}
	/* One byte beyond max (or beyond the stat size) tells a grown or oversized file. */
	cap = (hint < max ? hint : max) + 1;
	if ((b = malloc(cap)) == NULL)
		goto fail;
	for (;;) {
		ssize_t n;

		if (used == cap) {
			size_t ncap = cap * 2;

			if (cap > max) {
				errno = EFBIG;
				goto fail;
			}
			if (ncap > max + 1)
				ncap = max + 1;
			if (store_grow(&b, used, ncap) < 0)
				goto fail;
			cap = ncap;
		}
		n = read(fd, b + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	b[used] = '\0';	/* used < cap here: a full buffer grows before the read that sees EOF */
	*buf = b;
	if (len)
		*len = used;
	return 0;
fail:
	e = errno;
	if (b) {
		sodium_memzero(b, used);
		free(b);
	}
	close(fd);
	errno = e;
	return -1;
}
