/*
 * POST /api/events (see http_ingest.h). A request holds at most one batch
 * in flight; its owner is the request, which the connection releases when
 * it closes, so an answer that finds no owner is dropped by the caller of
 * on_done (the server's wake-up handler). A batch with a key is owned by
 * the key's entry instead (idem.h), which answers the request unless it
 * went away.
 */
#include "http_ingest.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "err.h"
#include "gzip.h"
#include "ingest.h"
#include "loki_push.h"
#include "reply.h"
#include "request.h"
#include "timestamp.h"

struct http_ingest {
	journal *journal;
	idem *idem;
	struct http_ingest_limits limits;
};

struct http_upload {
	http_ingest *hi;
	struct lws *wsi;
	struct reply *reply;
	enum ingest_format format;
	int loki;                   /* a Loki push: Loki's answers */
	int gzip;                   /* Content-Encoding: gzip or deflate */
	struct ingest_options opts; /* the request's parameters */
	char *body;                 /* the request body as it arrives */
	size_t body_len, body_cap;
	size_t body_expected;         /* its Content-Length */
	int64_t body_deadline_us;     /* the whole body must be in by then */
	char *idem_key;               /* Idempotency-Key, or NULL */
	struct buf params;            /* its format and parameters, for the fingerprint */
	struct idem_wait *wait;       /* waiting for the key's answer */
	struct ingest_batch *pending; /* committing; its owner is this request */
};

http_ingest *
http_ingest_create(journal *j, idem *id, const struct http_ingest_limits *limits)
{
	http_ingest *hi = calloc(1, sizeof *hi);

	if (!hi)
		return NULL;
	hi->journal = j;
	hi->idem = id;
	hi->limits = *limits;
	return hi;
}

void
http_ingest_destroy(http_ingest *hi)
{
	free(hi);
}

/* Answer an error: our JSON, or Loki's plain text for a Loki push. */
static int
answer_error(struct lws *wsi, struct reply *r, int loki, int status, const char *msg, long index)
{
	return (loki ? reply_text(wsi, r, status, msg) : reply_error(wsi, r, status, msg, index))
		       ? -1
		       : 0;
}

/* Answer now and close once the answer is written. */
static int
refuse(struct lws *wsi, struct reply *r, int loki, int status, const char *msg)
{
	r->close_after = 1;
	return answer_error(wsi, r, loki, status, msg, -1);
}

static int
take_option(const char *name, const char *value, void *arg)
{
	void **a = arg;
	if (!strcmp(name, "token"))
		return 0; /* admission's, not ours */
	return ingest_option_set(a[0], name, value, a[1]);
}

/* Add "&name=value" to a keyed request's fingerprint text (the token aside). */
static int
take_param(const char *name, const char *value, void *arg)
{
	return strcmp(name, "token") ? buf_printf(arg, "&%s=%s", name, value) : 0;
}

/* The name of a format, for a request's fingerprint. */
static const char *
format_name(enum ingest_format f)
{
	return f == INGEST_NDJSON ? "ndjson" : f == INGEST_TEXT ? "text" : "json";
}

/* The body's encoding: 0 identity, 1 gzip or deflate, -1 another. */
static int
content_encoding(struct lws *wsi)
{
	char ce[64] = "";

	if (lws_hdr_copy(wsi, ce, sizeof ce, WSI_TOKEN_HTTP_CONTENT_ENCODING) <= 0 ||
	    !strcasecmp(ce, "identity"))
		return 0;
	if (!strcasecmp(ce, "gzip") || !strcasecmp(ce, "x-gzip") || !strcasecmp(ce, "deflate"))
		return 1;
	return -1;
}

static int
content_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);
	return !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* A POST arrived: check its headers and parameters (see http_ingest.h). */
static int
begin(http_ingest *hi, struct lws *wsi, struct reply *r, int loki, struct http_upload **up)
{
	char ct[128] = "", clen[32] = "", why[ERRMSG_SIZE];
	struct ingest_options opts;
	enum ingest_format format;
	struct http_upload *u;
	int gzip;

	*up = NULL;
	ingest_options_init(&opts);
	if (!loki && request_query_each(wsi, take_option, (void *[]){&opts, why}))
		return refuse(wsi, r, loki, HTTP_STATUS_BAD_REQUEST, why);
	if (lws_hdr_copy(wsi, ct, sizeof ct, WSI_TOKEN_HTTP_CONTENT_TYPE) < 0)
		ct[0] = '\0';
	if (!ct[0] || content_type_is(ct, "application/json"))
		format = INGEST_JSON;
	else if (loki)
		return refuse(
			wsi, r, loki, HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE,
			"only JSON pushes are supported: send Content-Type: application/json");
	else if (content_type_is(ct, "application/x-ndjson") ||
		 content_type_is(ct, "application/ndjson") ||
		 content_type_is(ct, "application/jsonl"))
		format = INGEST_NDJSON;
	else if (content_type_is(ct, "text/plain") && opts.map.type[0])
		format = INGEST_TEXT; /* only when asked for: lines need a type */
	else if (content_type_is(ct, "text/plain"))
		return refuse(wsi, r, loki, HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE,
			      "text/plain bodies (one event a line) need ?type=NAME");
	else
		return refuse(wsi, r, loki, HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE,
			      "Content-Type must be application/json, application/x-ndjson or "
			      "text/plain");
	if ((gzip = content_encoding(wsi)) < 0)
		return refuse(wsi, r, loki, HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE,
			      "Content-Encoding must be gzip, deflate or identity");

	if (lws_hdr_copy(wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return refuse(wsi, r, loki, HTTP_STATUS_LENGTH_REQUIRED,
			      "a Content-Length header is required");
	char *end;
	unsigned long long n = strtoull(clen, &end, 10);
	if (*end || end == clen)
		return refuse(wsi, r, loki, HTTP_STATUS_BAD_REQUEST, "invalid Content-Length");
	if (n > hi->limits.body_max) {
		char msg[128];
		snprintf(msg, sizeof msg,
			 "request body of %llu bytes is over the limit of %zu bytes", n,
			 hi->limits.body_max);
		return refuse(wsi, r, loki, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, msg);
	}
	char *key = NULL;
	int klen = lws_hdr_custom_length(wsi, "idempotency-key:", 16);
	if (klen >= 0) { /* present, perhaps empty */
		char value[INGEST_KEY_MAX + 8];
		if (klen >= (int)sizeof value ||
		    lws_hdr_custom_copy(wsi, value, sizeof value, "idempotency-key:", 16) < 0) {
			snprintf(why, sizeof why, "Idempotency-Key must be 1 to %d characters",
				 INGEST_KEY_MAX);
			return refuse(wsi, r, loki, HTTP_STATUS_BAD_REQUEST, why);
		}
		if (!(key = ingest_key_parse(value, why)))
			return refuse(wsi, r, loki, HTTP_STATUS_BAD_REQUEST, why);
	}
	u = calloc(1, sizeof *u);
	if (!u) {
		free(key);
		return refuse(wsi, r, loki, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory");
	}
	u->idem_key = key;
	u->hi = hi;
	u->wsi = wsi;
	u->reply = r;
	u->format = format;
	u->loki = loki;
	u->gzip = gzip;
	u->opts = opts;
	/* What, besides the body, makes a keyed request the same request. */
	if (key &&
	    (buf_printf(&u->params, "%s", format_name(opts.has_format ? opts.format : format)) ||
	     request_query_each(wsi, take_param, &u->params))) {
		http_ingest_release(u);
		return refuse(wsi, r, loki, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory");
	}
	/* The buffer grows as the body arrives: a claimed length costs nothing
	 * until the bytes are actually sent. */
	u->body_expected = n;
	u->body_cap = n + 1 < 64 * 1024 ? n + 1 : 64 * 1024;
	u->body = malloc(u->body_cap);
	if (!u->body) {
		http_ingest_release(u);
		return refuse(wsi, r, loki, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory");
	}
	u->body_deadline_us = timestamp_now() + (int64_t)hi->limits.body_timeout * 1000000;
	*up = u;
	return 0;
}

int
http_ingest_begin(http_ingest *hi, struct lws *wsi, struct reply *r, struct http_upload **up)
{
	return begin(hi, wsi, r, 0, up);
}

int
http_ingest_begin_loki(http_ingest *hi, struct lws *wsi, struct reply *r, struct http_upload **up)
{
	return begin(hi, wsi, r, 1, up);
}

/* Refuse the request in the middle of its body. */
static int
refuse_body(struct http_upload *u, int status, const char *msg)
{
	return refuse(u->wsi, u->reply, u->loki, status, msg) ? -1 : 1;
}

int
http_ingest_body(struct http_upload *u, const void *in, size_t len)
{
	if (len == 0)
		return 0;
	if (u->body_len + len > u->body_expected)
		return refuse_body(u, HTTP_STATUS_REQ_ENTITY_TOO_LARGE,
				   "request body is longer than its Content-Length");
	/* lws restarts its timeout on every chunk; a body sent a byte at a
	 * time would hold the connection and its buffer forever. */
	if (timestamp_now() > u->body_deadline_us)
		return refuse_body(u, HTTP_STATUS_REQUEST_TIMEOUT,
				   "the request body did not arrive within the handshake timeout");
	if (u->body_len + len + 1 > u->body_cap) {
		size_t cap = u->body_cap * 2;
		while (cap < u->body_len + len + 1)
			cap *= 2;
		if (cap > u->body_expected + 1)
			cap = u->body_expected + 1;
		char *bigger = realloc(u->body, cap);
		if (!bigger)
			return refuse_body(u, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory");
		u->body = bigger;
		u->body_cap = cap;
	}
	memcpy(u->body + u->body_len, in, len);
	u->body_len += len;
	return 0;
}

/* The journal is done with the request's batch: answer it. */
static void
answer(struct ingest_batch *b)
{
	struct http_upload *u = b->owner;
	int rc;

	u->pending = NULL;
	if (b->status == 0 && u->loki) {
		rc = reply_send(u->wsi, u->reply, HTTP_STATUS_NO_CONTENT, "text/plain", "", 0);
	} else if (b->status == 0) {
		char *json = ingest_answer_json(b);
		rc = json ? reply_send(u->wsi, u->reply, 200, "application/json", json,
				       strlen(json))
			  : ERR_NOMEM;
		free(json);
	} else {
		rc = answer_error(u->wsi, u->reply, u->loki, reply_status_for(b->status), b->errmsg,
				  -1);
	}
	if (rc)
		lws_set_timeout(u->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	ingest_batch_free(b);
}

/* The key's answer for this request: a replay, a refusal, or its batch's. */
static void
answer_keyed(void *arg, const struct idem_answer *a)
{
	struct http_upload *u = arg;
	int rc;

	u->wait = NULL;
	if (a->status >= 300) {
		rc = answer_error(u->wsi, u->reply, u->loki, a->status, a->errmsg, -1);
	} else {
		u->reply->replayed = a->replayed;
		rc = reply_send(u->wsi, u->reply, a->status,
				a->status == HTTP_STATUS_NO_CONTENT ? "text/plain"
								    : "application/json",
				a->body, strlen(a->body));
	}
	if (rc)
		lws_set_timeout(u->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

/* Free the body once it is no longer needed. */
static void
drop_body(struct http_upload *u)
{
	free(u->body);
	u->body = NULL;
	u->body_len = u->body_cap = 0;
}

/* The key is in flight for this request, which stores nothing after all. */
static void
abandon_key(struct http_upload *u)
{
	if (u->wait) {
		idem_abandon(u->wait);
		u->wait = NULL;
	}
}

int
http_ingest_end(struct http_upload *u)
{
	struct ingest_error err;
	struct ingest_batch *b;
	size_t max = u->hi->limits.body_max;
	char *plain = NULL;
	size_t plain_len = 0;

	if (u->gzip) {
		int rc = gzip_inflate(u->body, u->body_len, max, &plain, &plain_len, err.msg);
		if (rc)
			return answer_error(u->wsi, u->reply, u->loki, reply_status_for(rc),
					    err.msg, -1);
		free(u->body);
		u->body = plain;
		u->body_len = plain_len;
	}
	if (u->idem_key && idem_enabled(u->hi->idem)) {
		unsigned char hash[INGEST_KEY_HASH_SIZE];
		idem_fingerprint(u->loki ? "loki" : "events", u->params.data ? u->params.data : "",
				 u->body, u->body_len, hash);
		if (idem_check(u->hi->idem, u->idem_key, hash, u->loki, answer_keyed, u,
			       &u->wait) != IDEM_NEW) {
			drop_body(u); /* answered, or waiting for the first's answer */
			return 0;
		}
	}
	if (u->loki)
		b = loki_push_parse(u->body, u->body_len, u->hi->limits.event_max, &err);
	else
		b = ingest_parse_opts(u->body, u->body_len, u->format, u->hi->limits.event_max,
				      &u->opts, &err);
	drop_body(u);
	if (!b) {
		abandon_key(u);
		return answer_error(u->wsi, u->reply, u->loki, reply_status_for(err.code), err.msg,
				    (long)err.index);
	}
	b->owner = u;
	b->on_done = answer;
	b->idem_key = u->idem_key;
	u->idem_key = NULL;
	if (b->count == 0) {
		abandon_key(u);
		answer(b); /* nothing to commit: answer at once */
		return 0;
	}
	if (u->wait)
		idem_attach(u->wait, b); /* answered through the key */
	if (journal_append(u->hi->journal, b)) {
		ingest_batch_free(b);
		abandon_key(u);
		return answer_error(u->wsi, u->reply, u->loki, HTTP_STATUS_SERVICE_UNAVAILABLE,
				    "the server is shutting down", -1);
	}
	if (!u->wait)
		u->pending = b;
	return 0;
}

void
http_ingest_release(struct http_upload *u)
{
	if (!u)
		return;
	if (u->pending)
		u->pending->owner = NULL; /* the journal's answer has nowhere to go */
	idem_cancel(u->wait);
	free(u->body);
	free(u->idem_key);
	buf_free(&u->params);
	free(u);
}
