/*
 * POST /api/sql: an auditor's query over HTTP. The body is one SQL
 * statement (or {"sql": "..."} with Content-Type application/json); it runs
 * on the reader pool under store_sql's rules and limits, and its result is
 * streamed back as JSON, JSON lines or CSV, as the Accept header asks. The
 * event loop only collects the body and writes chunks.
 */
#ifndef SENTINEL_API_SQL_H
#define SENTINEL_API_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "readpool.h"
#include "reply_stream.h"

struct lws;
struct reply;
typedef struct api_sql api_sql;
struct sql_upload; /* one request in flight */

struct api_sql_limits {
	int64_t timeout_us; /* --sql-timeout */
	int64_t max_rows;   /* --sql-max-rows */
	size_t body_max;    /* bytes of a query */
	int body_timeout;   /* seconds for the whole body to arrive */
};

/* The endpoint, running queries on pool. NULL when out of memory. */
api_sql *api_sql_create(readpool *pool, const struct api_sql_limits *limits);
void api_sql_destroy(api_sql *a);

/*
 * A POST arrived (headers only). On success *up is the request, to be fed
 * its body; when it is refused at once the answer is queued on r and *up
 * is NULL. Returns 0, or -1 to close the connection.
 */
int api_sql_begin(api_sql *a, struct lws *wsi, struct reply *r, struct sql_upload **up);

/*
 * Bytes of the body arrived. Returns 0 to go on, 1 when the request was
 * refused (answered; drop the rest of the body), -1 to close.
 */
int api_sql_body(struct sql_upload *up, const void *in, size_t len);

/*
 * The body is complete: start the query. *stream is then its answer, or
 * NULL when the answer (an error) is already queued on the reply. Returns
 * 0, or -1 to close the connection.
 */
int api_sql_end(struct sql_upload *up, struct reply_stream **stream);

/* Free the request (NULL is allowed); a query it started is not affected. */
void api_sql_release(struct sql_upload *up);

#endif
