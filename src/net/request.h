/*
 * Reading an HTTP request or WebSocket upgrade: its query parameters and
 * its bearer token. A leaf used by every endpoint.
 */
#ifndef SENTINEL_REQUEST_H
#define SENTINEL_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "query.h"

struct lws;

/*
 * Call fn(name, value, arg) for each decoded query parameter of the
 * request, stopping at the first non-zero result, which is returned.
 */
int request_query_each(struct lws *wsi, int (*fn)(const char *name, const char *value, void *arg),
		       void *arg);

/* One endpoint's parameter rules: query_set_subscribe or query_set_list. */
typedef int (*request_param_fn)(struct query *q, const char *name, const char *value,
				int64_t now_us, char *errmsg);

/*
 * Reset q and apply every query parameter of the request to it with set.
 * Returns 0, or ERR_INVAL with the reason, naming the parameter, in errmsg.
 */
int request_parse_query(struct lws *wsi, struct query *q, request_param_fn set, char *errmsg);

/*
 * Copy the request's bearer token (the Authorization header, or ?token=)
 * into out (size bytes). Returns 0, or -1 when the request carries none.
 */
int request_token(struct lws *wsi, char *out, size_t size);

#endif
