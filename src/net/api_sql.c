/*
 * POST /api/sql (api_sql.h). A request collects its body within a bound
 * and a deadline, like an ingest request; the query text then moves into
 * the job, which owns it until the pool frees it.
 */
#define _GNU_SOURCE /* strcasestr */
#include "api_sql.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "reply.h"
#include "store_sql.h"
#include "timestamp.h"

/* Output a query's job holds before it waits for the client. */
#define SQL_JOB_BUFFER (256 * 1024)

struct api_sql {
	readpool *pool;
	struct api_sql_limits limits;
};

struct sql_upload {
	api_sql *a;
	struct lws *wsi;
	struct reply *reply;
	int json_body; /* {"sql": ...} rather than the statement itself */
	enum store_sql_format format;
	char *body;
	size_t len, expected;
	int64_t deadline_us;
};

/* What a job needs: its own copy of everything. */
struct sql_job {
	char *sql;
	size_t len;
	enum store_sql_format format;
	int64_t timeout_us, max_rows;
	readpool_job *job;
};

static const struct {
	const char *type;
	enum store_sql_format format;
	const char *content_type;
} formats[] = {
	{"application/json", STORE_SQL_JSON, "application/json"},
	{"application/x-ndjson", STORE_SQL_NDJSON, "application/x-ndjson"},
	{"application/ndjson", STORE_SQL_NDJSON, "application/x-ndjson"},
	{"application/jsonl", STORE_SQL_NDJSON, "application/x-ndjson"},
	{"text/csv", STORE_SQL_CSV, "text/csv; charset=utf-8"},
};

api_sql *
api_sql_create(readpool *pool, const struct api_sql_limits *limits)
{
	api_sql *a = calloc(1, sizeof *a);

	if (!a)
		return NULL;
	a->pool = pool;
	a->limits = *limits;
	return a;
}

void
api_sql_destroy(api_sql *a)
{
	free(a);
}

static int
refuse(struct lws *wsi, struct reply *r, int status, const char *msg)
{
	r->close_after = 1;
	return reply_error(wsi, r, status, msg, -1) ? -1 : 0;
}

/* The format the Accept header asks for first among ours (JSON by default). */
static enum store_sql_format
accepted_format(struct lws *wsi)
{
	char accept[512];
	const char *best = NULL;
	enum store_sql_format format = STORE_SQL_JSON;

	if (lws_hdr_copy(wsi, accept, sizeof accept, WSI_TOKEN_HTTP_ACCEPT) <= 0)
		return format;
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
		for (const char *at = accept; (at = strcasestr(at, formats[i].type)); at++) {
			char next = at[strlen(formats[i].type)];
			if (next != '\0' && next != ',' && next != ';' && next != ' ')
				continue;
			if (!best || at < best) {
				best = at;
				format = formats[i].format;
			}
			break;
		}
	}
	return format;
}

static const char *
content_type_of(enum store_sql_format format)
{
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (formats[i].format == format)
			return formats[i].content_type;
	return "application/json";
}

int
api_sql_begin(api_sql *a, struct lws *wsi, struct reply *r, struct sql_upload **up)
{
	char ct[128] = "", clen[32] = "", *end;
	struct sql_upload *u;

	*up = NULL;
	if (lws_hdr_copy(wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return refuse(wsi, r, HTTP_STATUS_LENGTH_REQUIRED,
			      "a Content-Length header is required");
	unsigned long long n = strtoull(clen, &end, 10);
	if (*end || end == clen)
		return refuse(wsi, r, HTTP_STATUS_BAD_REQUEST, "invalid Content-Length");
	if (n > a->limits.body_max) {
		char msg[128];
		snprintf(msg, sizeof msg, "a query of %llu bytes is over the limit of %zu bytes", n,
			 a->limits.body_max);
		return refuse(wsi, r, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, msg);
	}
	if (!(u = calloc(1, sizeof *u)) || !(u->body = malloc(n + 1))) {
		free(u);
		return refuse(wsi, r, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory");
	}
	if (lws_hdr_copy(wsi, ct, sizeof ct, WSI_TOKEN_HTTP_CONTENT_TYPE) < 0)
		ct[0] = '\0';
	u->json_body = !strncasecmp(ct, "application/json", 16);
	u->format = accepted_format(wsi);
	u->a = a;
	u->wsi = wsi;
	u->reply = r;
	u->expected = n;
	u->deadline_us = timestamp_now() + (int64_t)a->limits.body_timeout * 1000000;
	*up = u;
	return 0;
}

int
api_sql_body(struct sql_upload *u, const void *in, size_t len)
{
	if (len == 0)
		return 0;
	if (u->len + len > u->expected)
		return refuse(u->wsi, u->reply, HTTP_STATUS_REQ_ENTITY_TOO_LARGE,
			      "the request body is longer than its Content-Length")
			       ? -1
			       : 1;
	if (timestamp_now() > u->deadline_us)
		return refuse(u->wsi, u->reply, HTTP_STATUS_REQUEST_TIMEOUT,
			      "the request body did not arrive within the handshake timeout")
			       ? -1
			       : 1;
	memcpy(u->body + u->len, in, len);
	u->len += len;
	return 0;
}

/* Take the statement out of {"sql": "..."}: *sql and *len, malloc'd. */
static int
sql_from_json(struct sql_upload *u, char **sql, size_t *len, char *errmsg)
{
	json_error_t e;
	json_t *root = json_loadb(u->body, u->len, 0, &e), *v;
	int rc = 0;

	if (!root)
		return err_set(errmsg, ERR_INVAL, "the body is not JSON: %s", e.text);
	v = json_object_get(root, "sql");
	if (!json_is_string(v)) {
		rc = err_set(errmsg, ERR_INVAL, "expected {\"sql\": \"SELECT ...\"}");
	} else {
		*len = json_string_length(v);
		*sql = malloc(*len + 1);
		if (!*sql)
			rc = err_set(errmsg, ERR_NOMEM, "out of memory");
		else
			memcpy(*sql, json_string_value(v), *len + 1);
	}
	json_decref(root);
	return rc;
}

static void
free_job(void *arg)
{
	struct sql_job *q = arg;
	free(q->sql);
	free(q);
}

static int
job_write(const void *data, size_t len, void *arg)
{
	struct sql_job *q = arg;
	return readpool_write(q->job, data, len);
}

static int
job_cancelled(void *arg)
{
	struct sql_job *q = arg;
	return readpool_cancelled(q->job);
}

/* The job, on a reader thread. */
static int
run_query(store *st, readpool_job *job, void *arg, char *errmsg)
{
	struct sql_job *q = arg;
	struct store_sql_limits limits = {
		.deadline_us = readpool_deadline(job),
		.timeout_us = q->timeout_us,
		.max_rows = q->max_rows,
	};

	q->job = job;
	return store_sql_run(st, q->sql, q->len, q->format, &limits, job_write, job_cancelled, q,
			     errmsg);
}

int
api_sql_end(struct sql_upload *u, struct reply_stream **stream)
{
	char errmsg[ERRMSG_SIZE];
	struct sql_job *q = calloc(1, sizeof *q);
	int rc;

	*stream = NULL;
	if (!q)
		return reply_error(u->wsi, u->reply, HTTP_STATUS_SERVICE_UNAVAILABLE,
				   "out of memory", -1)
			       ? -1
			       : 0;
	if (u->json_body) {
		if ((rc = sql_from_json(u, &q->sql, &q->len, errmsg))) {
			free(q);
			return reply_error(u->wsi, u->reply, reply_stream_status_for(rc), errmsg,
					   -1)
				       ? -1
				       : 0;
		}
	} else {
		u->body[u->len] = '\0';
		q->sql = u->body;
		q->len = u->len;
		u->body = NULL;
	}
	q->format = u->format;
	q->timeout_us = u->a->limits.timeout_us;
	q->max_rows = u->a->limits.max_rows;
	return reply_stream_start(u->wsi, u->reply, u->a->pool, content_type_of(q->format),
				  &(struct readpool_job_options){
					  .run = run_query,
					  .arg = q,
					  .free_arg = free_job,
					  .buffer = SQL_JOB_BUFFER,
					  .time_limit_us = q->timeout_us,
				  },
				  stream);
}

void
api_sql_release(struct sql_upload *u)
{
	if (!u)
		return;
	free(u->body);
	free(u);
}
