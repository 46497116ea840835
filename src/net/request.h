/*
 * Reading an HTTP request or WebSocket upgrade: its query parameters and
 * its bearer token. A leaf used by every endpoint.
 */
#ifndef SENTINEL_REQUEST_H
#define SENTINEL_REQUEST_H

#include <stddef.h>

struct lws;

/*
 * Call fn(name, value, arg) for each decoded query parameter of the
 * request, stopping at the first non-zero result, which is returned.
 */
int request_query_each(struct lws *wsi, int (*fn)(const char *name, const char *value, void *arg),
		       void *arg);

/*
 * Copy the request's bearer token (the Authorization header, or ?token=)
 * into out (size bytes). Returns 0, or -1 when the request carries none.
 */
int request_token(struct lws *wsi, char *out, size_t size);

#endif
