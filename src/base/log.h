/*
 * Logging to standard error, one line per message. The default format is
 * "2026-03-09T14:00:00.123456Z level message". Safe from any thread.
 */
#ifndef SENTINEL_LOG_H
#define SENTINEL_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

enum log_format {
	LOG_FORMAT_TEXT, /* "TIMESTAMP level message" (the default) */
	LOG_FORMAT_JSON, /* {"ts":"...","level":"info","msg":"..."} */
};

/* Messages below level are dropped (default LOG_INFO). */
void log_set_level(enum log_level level);

/*
 * Choose the line format, and look whether standard error is systemd's
 * journal (JOURNAL_STREAM names it). If it is, every line starts with its
 * syslog priority ("<6>") so that the journal records the level, and text
 * lines leave the timestamp to the journal. Call before other threads log.
 */
void log_set_format(enum log_format format);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
