/*
 * Leveled logging; each line is formatted whole and written with one call,
 * so lines of different threads never interleave. The format is chosen
 * once at start (log_set_format) and only read afterwards.
 */
#include "log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timestamp.h"

/* A text line, newline included, is at most this long. */
#define LINE_SIZE 1024

static enum log_level min_level = LOG_INFO;
static enum log_format line_format = LOG_FORMAT_TEXT;
static int to_journal; /* standard error is systemd's journal */

static const char *const level_names[] = {"debug", "info", "warn", "error"};
/* syslog priorities: debug 7, info 6, warning 4, err 3 */
static const int level_priorities[] = {7, 6, 4, 3};

void
log_set_level(enum log_level level)
{
	min_level = level;
}

/* JOURNAL_STREAM is "DEVICE:INODE" of the journal's stream; it is only
 * ours if standard error is still that stream (a child may inherit the
 * variable with its standard error redirected elsewhere). */
static int
stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st))
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_set_format(enum log_format format)
{
	line_format = format;
	to_journal = stderr_is_journal();
}

/* The length of the valid UTF-8 sequence that starts s (len bytes left), or 0. */
static size_t
utf8_sequence(const unsigned char *s, size_t len)
{
	size_t need;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return need;
}

/*
 * Write s as the inside of a JSON string into out, which holds at least
 * 6 bytes per byte of s. Bytes that are not UTF-8 become U+FFFD, so that
 * the line stays valid JSON whatever a message quotes. Returns the length.
 */
static size_t
json_escape(char *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), n = 0;

	while (len) {
		size_t k = utf8_sequence(p, len);
		if (k == 0) {
			n += (size_t)sprintf(out + n, "\\ufffd");
			k = 1;
		} else if (*p == '"' || *p == '\\') {
			n += (size_t)sprintf(out + n, "\\%c", *p);
		} else if (*p == '\n' || *p == '\t' || *p == '\r') {
			n += (size_t)sprintf(out + n, "\\%c",
					     *p == '\n'   ? 'n'
					     : *p == '\t' ? 't'
							  : 'r');
		} else if (*p < 0x20 || *p == 0x7f) {
			n += (size_t)sprintf(out + n, "\\u%04x", *p);
		} else {
			memcpy(out + n, p, k);
			n += k;
		}
		p += k;
		len -= k;
	}
	return n;
}

/* One JSON object a line: {"ts":"...","level":"...","msg":"..."}. */
static void
write_json(enum log_level level, const char *fmt, va_list ap)
{
	char msg[LINE_SIZE], ts[TIMESTAMP_FORMAT_SIZE];
	char line[64 + TIMESTAMP_FORMAT_SIZE + 6 * LINE_SIZE];
	size_t n = 0;

	timestamp_format(timestamp_now(), ts);
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (to_journal)
		n += (size_t)sprintf(line, "<%d>", level_priorities[level]);
	n += (size_t)sprintf(line + n, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
			     level_names[level]);
	n += json_escape(line + n, msg);
	memcpy(line + n, "\"}\n", 3);
	(void)!write(STDERR_FILENO, line, n + 3);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LINE_SIZE], ts[TIMESTAMP_FORMAT_SIZE];
	va_list ap;
	int n;

	if (level < min_level)
		return;
	va_start(ap, fmt);
	if (line_format == LOG_FORMAT_JSON) {
		write_json(level, fmt, ap);
		va_end(ap);
		return;
	}
	if (to_journal) {
		n = snprintf(line, sizeof line, "<%d>", level_priorities[level]);
	} else {
		timestamp_format(timestamp_now(), ts);
		n = snprintf(line, sizeof line, "%s %s ", ts, level_names[level]);
	}
	n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
