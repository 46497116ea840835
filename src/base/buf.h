/*
 * A growable byte buffer for building responses. Functions return 0 or
 * ERR_NOMEM; after a failure the buffer keeps its old contents.
 */
#ifndef SENTINEL_BUF_H
#define SENTINEL_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len, cap;
};

int buf_append(struct buf *b, const void *data, size_t len);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append s as a JSON string literal, quotes included. */
int buf_json_string(struct buf *b, const char *s);

void buf_free(struct buf *b);

#endif
