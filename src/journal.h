/* journal.h: append-only record journal, buffered writes, group fsync, readable from both ends. */
#ifndef TINCAN_JOURNAL_H
#define TINCAN_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * File format. A journal is a plain concatenation of frames, with no file header; the first
 * frame starts at offset 0. A frame holding a payload of len bytes at file offset off is
 *
 *	offset		size	field
 *	0		1	head magic 0xFA
 *	1		4	len, unsigned big-endian, at most JLOG_MAX_REC
 *	5		len	payload
 *	5+len		4	CRC-32C (Castagnoli) of: off as u64 big-endian, then bytes 0..5+len-1
 *	9+len		4	len again
 *	13+len		1	tail magic 0xFB
 *
 * so JLOG_OVERHEAD (14) bytes are added to each record. The head makes a frame checkable when
 * reading forward, the trailing len and tail when reading backward. Both magic bytes are
 * invalid in UTF-8, so text payloads never contain them. Because the CRC covers the frame's
 * own offset, a valid frame copied inside another payload (a message that quotes a journal)
 * does not check at any other position, so resynchronising never yields a phantom record.
 *
 * Crashes. A process that dies loses nothing it flushed (write(2)); a machine that loses
 * power may lose what was not synced, and leave a torn last frame or junk after it. Opening
 * checks the last frame only; if it does not check, it walks back to the last frame that does
 * and truncates the file there. A corrupt frame in the middle (bit rot) is skipped by the
 * readers, which resynchronise on the next frame that checks.
 */

enum {
	JLOG_HEAD = 0xFA,
	JLOG_TAIL = 0xFB,
	JLOG_OVERHEAD = 14,
	JLOG_MAX_REC = 1 << 20,		/* largest payload, bytes */
	JLOG_BLOCK = 64 * 1024,		/* reader block size (one pread) */
};

struct jlog;	/* fd, write buffer, size written, size synced, path */

/* All functions returning int return -1 with errno set on an I/O or argument error. */

/* Open or create (mode 0600) for appending, and take an exclusive flock(2) on it (EWOULDBLOCK
 * if another process writes it). Checks the LAST frame only, O(1) in the file's length; if the
 * tail is torn or corrupt, walks back to the last intact frame, truncates the file there, and
 * reports how many bytes were cut in *cut (0 normally; cut may be NULL). Never fails on bad
 * content, only on I/O errors. */
int jlog_open(struct jlog **jl, const char *path, uint64_t *cut);
/* Open for reading only: no lock, never modifies the file; a torn tail is ignored, not cut.
 * jlog_append on it fails with EBADF. */
int jlog_open_ro(struct jlog **jl, const char *path);
/* Flush, fdatasync if dirty, close, free. NULL is a no-op. */
void jlog_close(struct jlog *jl);

/* Buffered append of one record (len <= JLOG_MAX_REC, else EMSGSIZE). Returns the record's
 * offset, which jlog_iter_fwd accepts as a start and jlog_iter_rev as an end, or -1. */
int64_t jlog_append(struct jlog *jl, const void *rec, size_t len);
/* write(2) everything buffered. On failure what was not written stays buffered, and a later
 * flush continues at the same offset. */
int jlog_flush(struct jlog *jl);
/* jlog_flush, then fdatasync. */
int jlog_sync(struct jlog *jl);
uint64_t jlog_end(const struct jlog *jl);	/* logical end offset, buffered records included */
uint64_t jlog_written(const struct jlog *jl);	/* offset handed to the kernel */
/* For a sync done elsewhere (a syncer thread): fdatasync(jlog_fd(jl)) after jlog_written()
 * returned off, then jlog_mark_synced(jl, off) in the writer's thread. */
int jlog_fd(const struct jlog *jl);
void jlog_mark_synced(struct jlog *jl, uint64_t off);
uint64_t jlog_synced(const struct jlog *jl);	/* offset known to be on disk */
int jlog_dirty(const struct jlog *jl);		/* written but not yet synced */

/* Readers: independent of the writer, they pread the file in JLOG_BLOCK blocks, and also see
 * records still in the write buffer. An iterator must be finished before its jlog is closed.
 * The fields are private except skipped. */
struct jlog_iter {
	const struct jlog *jl;
	uint8_t *buf;		/* cached block of the file */
	size_t cap;
	uint64_t boff;		/* file offset of buf[0] */
	size_t blen;
	uint64_t pos;		/* forward: next frame start; reverse: next frame end */
	int dir;		/* 1 forward, -1 reverse */
	int in_junk;		/* inside a run of bytes that do not check */
	uint64_t skipped;	/* public: number of corrupt regions skipped so far */
};
/* Forward from offset from (0 = the first record; a record offset; else resynchronises on the
 * next frame), seeing records appended later too. */
int jlog_iter_fwd(struct jlog_iter *it, const struct jlog *jl, uint64_t from);
/* Backward over the records that end at or before from_end_offset (clamped to the end; pass
 * jlog_end() or UINT64_MAX for the newest, or a record's offset for those before it). */
int jlog_iter_rev(struct jlog_iter *it, const struct jlog *jl, uint64_t from_end_offset);
/* Next record: 1 and fills (rec, len, off), 0 at the end, -1 on I/O error. *rec points into
 * the iterator and stays valid until the next call. A corrupt stretch is skipped and counted
 * in it->skipped. */
int jlog_next(struct jlog_iter *it, const uint8_t **rec, size_t *len, uint64_t *off);
void jlog_iter_done(struct jlog_iter *it);

/* CRC-32C (Castagnoli, reflected, init and final xor 0xFFFFFFFF). Chainable: pass 0 to start,
 * then the previous result. jlog_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t jlog_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
