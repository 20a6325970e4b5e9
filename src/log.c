/* log.c: one line per event; control bytes escaped so a log is never a terminal attack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int log_syslog;
static int log_verbose;
static int log_fd = STDERR_FILENO;
static const char *log_ident = "tincan";

void log_init(const char *ident, int to_syslog, int verbose)
{
	log_ident = ident;
	log_syslog = to_syslog;
	log_verbose = verbose;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_file(int fd)
{
	log_fd = fd;
}

__attribute__((format(printf, 2, 0)))
static void vlog(int pri, const char *fmt, va_list ap)
{
	char raw[1024], out[2048];
	vsnprintf(raw, sizeof(raw), fmt, ap);
	size_t j = 0;
	for (size_t i = 0; raw[i] && j + 5 < sizeof(out); i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c < 0x20 || c == 0x7f)
			j += (size_t)snprintf(out + j, sizeof(out) - j, "\\x%02x", c);
		else
			out[j++] = (char)c;
	}
	out[j] = '\0';
	if (log_syslog) {
		syslog(pri, "%s", out);
		return;
	}
	if (log_fd < 0)
		return;
	char line[2200];
	int n = snprintf(line, sizeof(line), "%s: %s\n", log_ident, out);
	if (n > 0 && write(log_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		return;
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	if (log_verbose < 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	if (log_verbose < 2)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
