/*
 * Files compiled into the binary by embed.cmake (the migrations, the
 * dashboard), so that nothing is read from disk at run time. Each layer
 * that embeds files declares its own table (store.c, dashboard.c).
 */
#ifndef SENTINEL_EMBEDDED_H
#define SENTINEL_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *name; /* base name, e.g. "0001_journal.sql" */
	const char *data; /* contents followed by a NUL byte */
	size_t size;      /* bytes, without the NUL */
};

#endif
