/* Files compiled into the binary by embed.cmake, each NUL-terminated. */
#ifndef SENTINEL_EMBEDDED_H
#define SENTINEL_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *name; /* base name, e.g. "0001_journal.sql" */
	const char *data; /* contents followed by a NUL byte */
	size_t size;      /* bytes, without the NUL */
};

/* migrations/NNNN_*.sql in order (migrations_data.c, generated). */
extern const struct embedded_file embedded_migrations[];
extern const size_t embedded_migrations_count;

/* src/web/: the dashboard's files (web_data.c, generated). */
extern const struct embedded_file embedded_web[];
extern const size_t embedded_web_count;

#endif
