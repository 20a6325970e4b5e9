/* log.h: logging to stderr or syslog; peer-supplied text is escaped, keys never logged. */
#ifndef TINCAN_LOG_H
#define TINCAN_LOG_H

#include <stdarg.h>

/* to_syslog: 0 = stderr (tincand -d, tincan), 1 = syslog(3). verbose: 0..2. */
void log_init(const char *ident, int to_syslog, int verbose);
void log_set_file(int fd);	/* stderr replacement for the curses UI (-1 = discard) */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
