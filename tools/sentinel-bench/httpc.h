/*
 * A plain-socket HTTP/1.1 client connection on a libevent loop: one
 * keep-alive TCP connection, one request at a time (no pipelining), answers
 * with a Content-Length. It is what the ingest and fan-out scenarios post
 * with, so it is kept lean: the request head is formatted once per request
 * and written with the body in one writev, the answer is parsed in place.
 *
 * Loop thread only. The connection is opened (on loopback, at once) by the
 * first request and again after the server closed it.
 */
#ifndef SENTINEL_BENCH_HTTPC_H
#define SENTINEL_BENCH_HTTPC_H

#include <stddef.h>

#include "url.h"

struct event_base;
typedef struct httpc httpc;

/*
 * Called on the loop when a request ends: status is the HTTP status, or -1
 * when the request failed (the reason is in httpc_errmsg()). body is valid
 * during the call only. The callback may start the next request on c but
 * may not free c.
 */
typedef void (*httpc_done_fn)(httpc *c, int status, const char *body, size_t len, void *arg);

/* A connection to u's host and port. Returns NULL when out of memory. */
httpc *httpc_new(struct event_base *base, const struct url *u, httpc_done_fn done, void *arg);

/* Close and free (NULL is allowed); a request in flight is dropped silently. */
void httpc_free(httpc *c);

/* True while a request is in flight. */
int httpc_busy(const httpc *c);

/* Why the last request failed. */
const char *httpc_errmsg(const httpc *c);

/*
 * Start "METHOD path" with body (len bytes, kept valid by the caller until
 * the answer) of content_type (NULL: no body headers but Content-Length).
 * Returns 0, or a negative ERR_* when it could not even be sent (busy, no
 * connection); done is not called then.
 */
int httpc_request(httpc *c, const char *method, const char *path, const char *content_type,
		  const char *body, size_t len);

#endif
