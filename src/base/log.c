/* Leveled logging; each line is formatted whole and written with one call. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "timestamp.h"

static enum log_level min_level = LOG_INFO;

void
log_set_level(enum log_level level)
{
	min_level = level;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	char line[1024], ts[TIMESTAMP_FORMAT_SIZE];
	va_list ap;
	int n;

	if (level < min_level)
		return;
	timestamp_format(timestamp_now(), ts);
	n = snprintf(line, sizeof line, "%s %s ", ts, names[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
