/*
 * POST /api/events and POST /loki/api/v1/push: one request body becomes
 * one batch appended to the journal and is answered after it committed,
 * with the same JSON as /ws/ingest (a Loki push: Loki's 204, and errors as
 * plain text). The headers and query parameters are checked before the
 * body arrives (type, encoding, length, the mapping of ingest.h); the body
 * is collected as it arrives, within a deadline, inflated when it is
 * compressed, and parsed whole, so a bad event refuses the whole request
 * unless the request asked for partial=1. A request with an
 * Idempotency-Key goes through the key table (idem.h) first: a retry is
 * answered with the first answer (and Idempotent-Replayed: true), the key
 * of another request with 422, and only the first request is appended.
 */
#ifndef SENTINEL_HTTP_INGEST_H
#define SENTINEL_HTTP_INGEST_H

#include <stddef.h>

#include "idem.h"
#include "journal.h"

struct lws;
struct reply;
typedef struct http_ingest http_ingest;
struct http_upload; /* one request in flight */

struct http_ingest_limits {
	size_t event_max; /* bytes of one event */
	size_t body_max;  /* bytes of one request body */
	int body_timeout; /* seconds for the whole body to arrive */
};

/* The endpoint, appending to j, honouring keys with id (both outlive it).
 * NULL when out of memory. */
http_ingest *http_ingest_create(journal *j, idem *id, const struct http_ingest_limits *limits);
void http_ingest_destroy(http_ingest *hi);

/*
 * A POST arrived (headers only). On success *up is the request, to be fed
 * its body; when the request is refused at once, the answer is queued on r
 * with r->close_after set and *up is NULL. Returns 0, or -1 to close the
 * connection now.
 */
int http_ingest_begin(http_ingest *hi, struct lws *wsi, struct reply *r, struct http_upload **up);

/* The same for a Loki push (POST /loki/api/v1/push). */
int http_ingest_begin_loki(http_ingest *hi, struct lws *wsi, struct reply *r,
			   struct http_upload **up);

/*
 * Bytes of the body arrived. Returns 0 to go on, 1 when the request was
 * refused (answered; drop the rest of the body), -1 to close now.
 */
int http_ingest_body(struct http_upload *up, const void *in, size_t len);

/*
 * The body is complete: parse it and append it. The answer is queued on
 * the request's reply now (a bad body) or once the journal is done.
 * Returns 0, or -1 to close the connection.
 */
int http_ingest_end(struct http_upload *up);

/* The request is over or its connection closed: free it (NULL is allowed).
 * A batch still committing is then answered to no one. */
void http_ingest_release(struct http_upload *up);

#endif
