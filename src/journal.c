/* journal.c: append-only record journal: CRC-32C frames, tail recovery, block readers. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "store.h"
#include "util.h"

struct jlog {
	int fd;
	int ro;
	uint8_t *buf;		/* frames not yet written: file offsets [written, written+blen) */
	size_t bcap, blen;
	uint64_t written;	/* handed to the kernel */
	uint64_t synced;	/* known to be on disk */
	char *path;
};

enum {
	JLOG_WBUF = 64 * 1024,	/* initial write buffer */
	JLOG_MAX_FRAME = JLOG_MAX_REC + JLOG_OVERHEAD,
};

/* ---- CRC-32C, slicing by 8 ---- */

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 8; k++)
			crc_tab[k][i] = (crc_tab[k - 1][i] >> 8) ^ crc_tab[0][crc_tab[k - 1][i] & 0xff];
}

uint32_t jlog_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	pthread_once(&crc_once, crc_init);
	while (len >= 8) {
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		    (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;

		c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		    crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
		    crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
		    crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

/* ---- frames ---- */

/* CRC of a frame at file offset off whose payload is len bytes: covers off, head, len, payload. */
static uint32_t frame_crc(uint64_t off, const uint8_t *f, uint32_t len)
{
	uint8_t ob[8];

	put_u64(ob, off);
	return jlog_crc32c(jlog_crc32c(0, ob, 8), f, 5 + (size_t)len);
}

/* 1 if the avail bytes at f start with a whole valid frame that belongs at file offset off. */
static int frame_check(const uint8_t *f, size_t avail, uint64_t off)
{
	uint32_t len;

	if (avail < JLOG_OVERHEAD || f[0] != JLOG_HEAD)
		return 0;
	len = get_u32(f + 1);
	if (len > JLOG_MAX_REC || avail < (size_t)len + JLOG_OVERHEAD)
		return 0;
	if (f[len + 13] != JLOG_TAIL || get_u32(f + len + 9) != len)
		return 0;
	return get_u32(f + len + 5) == frame_crc(off, f, len);
}

/* ---- reading ---- */

/* Read exactly n bytes at off, from the file below jl->written and from the write buffer above. */
static int jl_read(const struct jlog *jl, uint64_t off, uint8_t *dst, size_t n)
{
	while (n > 0 && off < jl->written) {
		uint64_t room = jl->written - off;
		size_t k = room < n ? (size_t)room : n;
		ssize_t r = pread(jl->fd, dst, k, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {	/* the file shrank under us */
			errno = EIO;
			return -1;
		}
		dst += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	if (n > 0) {
		uint64_t at = off - jl->written;

		if (at > jl->blen || n > jl->blen - at) {
			errno = EINVAL;
			return -1;
		}
		memcpy(dst, jl->buf + at, n);
	}
	return 0;
}

static int it_reserve(struct jlog_iter *it, size_t n)
{
	uint8_t *nb;

	if (n <= it->cap)
		return 0;
	if ((nb = malloc(n)) == NULL)
		return -1;
	free(it->buf);
	it->buf = nb;
	it->cap = n;
	it->blen = 0;
	return 0;
}

/* Make [pos, pos+need) available in the block, reading forward up to lim (need <= lim-pos). */
static int fill_fwd(struct jlog_iter *it, uint64_t pos, size_t need, uint64_t lim)
{
	size_t size = need > JLOG_BLOCK ? need : JLOG_BLOCK;

	if (it->blen && pos >= it->boff && pos - it->boff + need <= it->blen)
		return 0;
	if (size > lim - pos)
		size = (size_t)(lim - pos);
	if (it_reserve(it, size) < 0)
		return -1;
	it->blen = 0;
	if (jl_read(it->jl, pos, it->buf, size) < 0)
		return -1;
	it->boff = pos;
	it->blen = size;
	return 0;
}

/* Make [end-need, end) available in the block, reading backward (need <= end). */
static int fill_rev(struct jlog_iter *it, uint64_t end, size_t need)
{
	size_t size = need > JLOG_BLOCK ? need : JLOG_BLOCK;

	if (it->blen && end - need >= it->boff && end <= it->boff + it->blen)
		return 0;
	if (size > end)
		size = (size_t)end;
	if (it_reserve(it, size) < 0)
		return -1;
	it->blen = 0;
	if (jl_read(it->jl, end - size, it->buf, size) < 0)
		return -1;
	it->boff = end - size;
	it->blen = size;
	return 0;
}

static void it_init(struct jlog_iter *it, const struct jlog *jl, uint64_t pos, int dir)
{
	memset(it, 0, sizeof *it);
	it->jl = jl;
	it->pos = pos;
	it->dir = dir;
}

int jlog_iter_fwd(struct jlog_iter *it, const struct jlog *jl, uint64_t from)
{
	if (!it || !jl) {
		errno = EINVAL;
		return -1;
	}
	it_init(it, jl, from, 1);
	return 0;
}

int jlog_iter_rev(struct jlog_iter *it, const struct jlog *jl, uint64_t from_end_offset)
{
	uint64_t end;

	if (!it || !jl) {
		errno = EINVAL;
		return -1;
	}
	end = jlog_end(jl);
	it_init(it, jl, from_end_offset < end ? from_end_offset : end, -1);
	return 0;
}

void jlog_iter_done(struct jlog_iter *it)
{
	if (!it)
		return;
	free(it->buf);
	it->buf = NULL;
	it->cap = it->blen = 0;
}

static void it_junk(struct jlog_iter *it)
{
	if (!it->in_junk) {
		it->in_junk = 1;
		it->skipped++;
	}
}

static int next_fwd(struct jlog_iter *it, const uint8_t **rec, size_t *len, uint64_t *off)
{
	for (;;) {
		uint64_t lim = jlog_end(it->jl), left;
		const uint8_t *f, *h;

		if (it->pos >= lim)
			return 0;
		left = lim - it->pos;
		if (left >= JLOG_OVERHEAD) {
			if (fill_fwd(it, it->pos, JLOG_OVERHEAD, lim) < 0)
				return -1;
			f = it->buf + (it->pos - it->boff);
			if (f[0] == JLOG_HEAD) {
				uint32_t n = get_u32(f + 1);

				if (n <= JLOG_MAX_REC && n + (uint64_t)JLOG_OVERHEAD <= left) {
					if (fill_fwd(it, it->pos, n + (size_t)JLOG_OVERHEAD, lim) < 0)
						return -1;
					f = it->buf + (it->pos - it->boff);
					if (frame_check(f, n + (size_t)JLOG_OVERHEAD, it->pos)) {
						*rec = f + 5;
						*len = n;
						*off = it->pos;
						it->pos += n + (uint64_t)JLOG_OVERHEAD;
						it->in_junk = 0;
						return 1;
					}
				}
			}
		}
		/* Not a frame: resynchronise on the next head byte in the block. */
		it_junk(it);
		it->pos++;
		if (it->blen && it->pos >= it->boff && it->pos < it->boff + it->blen) {
			size_t at = (size_t)(it->pos - it->boff);

			h = memchr(it->buf + at, JLOG_HEAD, it->blen - at);
			it->pos = h ? it->boff + (uint64_t)(h - it->buf) : it->boff + it->blen;
		}
	}
}

static int next_rev(struct jlog_iter *it, const uint8_t **rec, size_t *len, uint64_t *off)
{
	for (;;) {
		uint64_t e = it->pos;
		const uint8_t *t, *h;

		if (e == 0)
			return 0;
		if (e >= JLOG_OVERHEAD) {
			if (fill_rev(it, e, JLOG_OVERHEAD) < 0)
				return -1;
			t = it->buf + (e - it->boff);
			if (t[-1] == JLOG_TAIL) {
				uint32_t n = get_u32(t - 5);

				if (n <= JLOG_MAX_REC && n + (uint64_t)JLOG_OVERHEAD <= e) {
					uint64_t start = e - n - JLOG_OVERHEAD;
					const uint8_t *f;

					if (fill_rev(it, e, n + (size_t)JLOG_OVERHEAD) < 0)
						return -1;
					f = it->buf + (start - it->boff);
					if (frame_check(f, n + (size_t)JLOG_OVERHEAD, start)) {
						*rec = f + 5;
						*len = n;
						*off = start;
						it->pos = start;
						it->in_junk = 0;
						return 1;
					}
				}
			}
		}
		/* Not a frame end: resynchronise on the previous tail byte in the block. */
		it_junk(it);
		it->pos = e - 1;
		if (it->blen && it->pos > it->boff && it->pos <= it->boff + it->blen) {
			size_t at = (size_t)(it->pos - it->boff);

			h = memrchr(it->buf, JLOG_TAIL, at);
			it->pos = h ? it->boff + (uint64_t)(h - it->buf) + 1 : it->boff;
		}
	}
}

int jlog_next(struct jlog_iter *it, const uint8_t **rec, size_t *len, uint64_t *off)
{
	const uint8_t *r;
	size_t l;
	uint64_t o;
	int ret;

	if (!it || !it->jl) {
		errno = EINVAL;
		return -1;
	}
	ret = it->dir > 0 ? next_fwd(it, &r, &l, &o) : next_rev(it, &r, &l, &o);
	if (ret == 1) {
		if (rec)
			*rec = r;
		if (len)
			*len = l;
		if (off)
			*off = o;
	}
	return ret;
}

/* ---- open and close ---- */

/* The end of the last frame that checks in the first size bytes of the file (0 if none). */
static int jl_find_end(struct jlog *jl, uint64_t size, uint64_t *end)
{
	struct jlog_iter it;
	const uint8_t *rec;
	size_t len;
	uint64_t off;
	int r;

	jl->written = size;
	jlog_iter_rev(&it, jl, size);
	r = jlog_next(&it, &rec, &len, &off);
	jlog_iter_done(&it);
	if (r < 0)
		return -1;
	*end = r ? off + len + JLOG_OVERHEAD : 0;
	return 0;
}

static int jl_open(struct jlog **out, const char *path, uint64_t *cut, int ro)
{
	struct jlog *jl = NULL;
	struct stat st;
	uint64_t end;
	int fd, created = 0, e;

	if (cut)
		*cut = 0;
	if (!out || !path) {
		errno = EINVAL;
		return -1;
	}
	*out = NULL;
	if (ro) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} else if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0) {
		created = 1;
	} else if (errno == EEXIST) {
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0)
		return -1;
	if (!ro && flock(fd, LOCK_EX | LOCK_NB) < 0)
		goto fail;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if ((jl = calloc(1, sizeof *jl)) == NULL || (jl->path = strdup(path)) == NULL)
		goto fail;
	jl->fd = fd;
	jl->ro = ro;
	if (jl_find_end(jl, (uint64_t)st.st_size, &end) < 0)
		goto fail;
	if (!ro && end < (uint64_t)st.st_size) {
		if (ftruncate(fd, (off_t)end) < 0 || fdatasync(fd) < 0)
			goto fail;
		if (cut)
			*cut = (uint64_t)st.st_size - end;
	}
	jl->written = jl->synced = end;
	if (created && store_fsync_dir(path) < 0)
		goto fail;
	*out = jl;
	return 0;
fail:
	e = errno;
	if (jl) {
		free(jl->path);
		free(jl);
	}
	close(fd);
	errno = e;
	return -1;
}

int jlog_open(struct jlog **jl, const char *path, uint64_t *cut)
{
	return jl_open(jl, path, cut, 0);
}

int jlog_open_ro(struct jlog **jl, const char *path)
{
	return jl_open(jl, path, NULL, 1);
}

void jlog_close(struct jlog *jl)
{
	if (!jl)
		return;
	if (!jl->ro) {
		jlog_flush(jl);
		if (jlog_dirty(jl))
			fdatasync(jl->fd);
	}
	close(jl->fd);
	free(jl->buf);
	free(jl->path);
	free(jl);
}

/* ---- writing ---- */

int64_t jlog_append(struct jlog *jl, const void *rec, size_t len)
{
	size_t need = len + JLOG_OVERHEAD;
	uint64_t off;
	uint8_t *f;

	if (!jl || (!rec && len)) {
		errno = EINVAL;
		return -1;
	}
	if (jl->ro) {
		errno = EBADF;
		return -1;
	}
	if (len > JLOG_MAX_REC) {
		errno = EMSGSIZE;
		return -1;
	}
	if (need > jl->bcap - jl->blen) {
		if (jl->blen > 0 && jlog_flush(jl) < 0)
			return -1;
		if (need > jl->bcap) {
			size_t ncap = need > JLOG_WBUF ? need : JLOG_WBUF;
			uint8_t *nb = realloc(jl->buf, ncap);

			if (!nb)
				return -1;
			jl->buf = nb;
			jl->bcap = ncap;
		}
	}
	off = jl->written + jl->blen;
	f = jl->buf + jl->blen;
	f[0] = JLOG_HEAD;
	put_u32(f + 1, (uint32_t)len);
	if (len)
		memcpy(f + 5, rec, len);
	put_u32(f + len + 5, frame_crc(off, f, (uint32_t)len));
	put_u32(f + len + 9, (uint32_t)len);
	f[len + 13] = JLOG_TAIL;
	jl->blen += need;
	return (int64_t)off;
}

int jlog_flush(struct jlog *jl)
{
	size_t done = 0;
	int ret = 0;

	if (!jl) {
		errno = EINVAL;
		return -1;
	}
	while (done < jl->blen) {
		ssize_t n = pwrite(jl->fd, jl->buf + done, jl->blen - done, (off_t)jl->written);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			ret = -1;
			break;
		}
		done += (size_t)n;
		jl->written += (uint64_t)n;
	}
	/* Keep what was not written; a later flush continues at jl->written. */
	if (done < jl->blen)
		memmove(jl->buf, jl->buf + done, jl->blen - done);
	jl->blen -= done;
	return ret;
}

int jlog_sync(struct jlog *jl)
{
	if (jlog_flush(jl) < 0)
		return -1;
	if (jl->written > jl->synced) {
		/* After a failed fdatasync the kernel may have dropped the pages' dirty state,
		 * so synced stays behind and the caller must not report the data as durable. */
		if (fdatasync(jl->fd) < 0)
			return -1;
		jl->synced = jl->written;
	}
	return 0;
}

uint64_t jlog_end(const struct jlog *jl)
{
	return jl->written + jl->blen;
}

uint64_t jlog_written(const struct jlog *jl)
{
	return jl->written;
}

int jlog_fd(const struct jlog *jl)
{
	return jl->fd;
}

void jlog_mark_synced(struct jlog *jl, uint64_t off)
{
	if (off > jl->synced && off <= jl->written)
		jl->synced = off;
}

uint64_t jlog_synced(const struct jlog *jl)
{
	return jl->synced;
}

int jlog_dirty(const struct jlog *jl)
{
	return jl->written > jl->synced;
}
