/*
 * An HTTP/1.1 client connection on a libevent loop: one keep-alive TCP
 * connection to one server, one request at a time (no pipelining), no TLS.
 * An answer carries a Content-Length or ends when the server closes; a
 * transfer encoding is refused (the server never sends one).
 *
 * Two ways to use it. httpc_request() starts a request and the done
 * callback gets the answer on the loop, which is how many connections share
 * one loop. httpc_call() sends a request and runs the loop until its answer
 * is in, for a tool that does one thing at a time.
 *
 * A request that fails after some of it was sent may still have been
 * processed by the server: httpc_maybe_sent() says so, and nothing is ever
 * retried. Loop thread only.
 */
#ifndef SENTINEL_HTTPC_H
#define SENTINEL_HTTPC_H

#include <stddef.h>

#include "resolve.h"
#include "url.h"

struct event_base;
typedef struct httpc httpc;

/*
 * Called on the loop when a request ends: status is the HTTP status, or -1
 * when the request failed (the reason is in httpc_errmsg()). body is
 * NUL-terminated and valid during the call only. The callback may start
 * the next request on c but may not free c.
 */
typedef void (*httpc_done_fn)(httpc *c, int status, const char *body, size_t len, void *arg);

/* An answer that httpc_call() waited for. */
struct httpc_answer {
	int status; /* e.g. 200 */
	char *body; /* malloc'd, NUL-terminated */
	size_t len;
};

/*
 * A connection to u's host and port on base, not opened yet. It connects
 * to the first of addrs that accepts; with addrs NULL the host is resolved
 * each time a connection is opened. done may be NULL for a client used
 * through httpc_call() only. Returns NULL when out of memory.
 */
httpc *httpc_new(struct event_base *base, const struct url *u, const struct resolve_list *addrs,
		 httpc_done_fn done, void *arg);

/* Close and free (NULL is allowed); a request in flight is dropped silently. */
void httpc_free(httpc *c);

/*
 * Fail a request that makes no progress (connecting, sending, or waiting
 * for the answer) for seconds; 0, the default, waits for ever.
 */
void httpc_set_timeout(httpc *c, int seconds);

/* True while a request is in flight. */
int httpc_busy(const httpc *c);

/* Why the last request failed. */
const char *httpc_errmsg(const httpc *c);

/* True when the last failed request was sent, at least in part. */
int httpc_maybe_sent(const httpc *c);

/*
 * Start "METHOD path" with body (len bytes, kept valid by the caller until
 * the answer) and headers (lines each ending in "\r\n", or NULL); Host and
 * Content-Length are added. Returns 0, or a negative ERR_* when the request
 * could not be started (busy, no connection), with the reason in
 * httpc_errmsg(); done is not called then.
 */
int httpc_request(httpc *c, const char *method, const char *path, const char *headers,
		  const char *body, size_t len);

/*
 * Send a request as httpc_request() does, and run c's loop until the
 * answer is in *out; nothing else may use the loop meanwhile. Returns 0,
 * or a negative ERR_* with the reason in httpc_errmsg() and *out untouched.
 */
int httpc_call(httpc *c, const char *method, const char *path, const char *headers,
	       const char *body, size_t len, struct httpc_answer *out);

/* Free what httpc_call() put in a. */
void httpc_answer_free(struct httpc_answer *a);

#endif
