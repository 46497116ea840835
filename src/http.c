/*
 * HTTP requests. Each connection's session holds at most one request in
 * flight: its body while it arrives, the batch while the writer commits it,
 * then the response until it is written. Responses are written whole, in
 * one lws_write of headers and body (HTTP/1 only: the build has no h2), from
 * the WRITEABLE callback.
 */
#include "http.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "auth.h"
#include "dashboard.h"
#include "err.h"
#include "ingest.h"
#include "log.h"
#include "query.h"
#include "server.h"
#include "timestamp.h"
#include "writer.h"
#include "ws.h"
#include "ws_logs.h"

struct http_session {
	char *body; /* the request body as it arrives */
	size_t body_len, body_cap;
	size_t body_expected;     /* its Content-Length */
	int64_t body_deadline_us; /* the whole body must be in by then */
	enum ingest_format format;
	int refused;                  /* a response was queued before the body ended */
	struct ingest_batch *pending; /* committing; its owner is this wsi */
	unsigned char *resp;          /* LWS_PRE + headers + body, ready to write */
	size_t resp_len;
	int close_after; /* close once the response is out */
};

size_t
http_session_size(void)
{
	return sizeof(struct http_session);
}

static struct server *
server_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static void
reset_request(struct http_session *hs)
{
	free(hs->body);
	hs->body = NULL;
	hs->body_len = hs->body_cap = 0;
	hs->refused = 0;
}

int
http_query_each(struct lws *wsi, int (*fn)(const char *name, const char *value, void *arg),
		void *arg)
{
	char frag[4096]; /* a fragment never exceeds the header space */

	for (int i = 0;; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			return 0;
		char *eq = strchr(frag, '=');
		const char *value = "";
		if (eq) {
			*eq = '\0';
			value = eq + 1;
		}
		int rc = fn(frag, value, arg);
		if (rc)
			return rc;
	}
}

int
http_status_for(int err)
{
	switch (err) {
	case 0:
		return HTTP_STATUS_OK;
	case ERR_JSON:
	case ERR_EVENT:
	case ERR_INVAL:
		return HTTP_STATUS_BAD_REQUEST;
	case ERR_TOOBIG:
		return HTTP_STATUS_REQ_ENTITY_TOO_LARGE;
	default:
		return HTTP_STATUS_SERVICE_UNAVAILABLE;
	}
}

int
http_respond(struct lws *wsi, int status, const char *content_type, const char *body, size_t len)
{
	struct http_session *hs = lws_wsi_user(wsi);
	size_t head_room = 512;
	unsigned char *buf, *start, *p, *end;

	free(hs->resp);
	hs->resp = NULL;
	buf = malloc(LWS_PRE + head_room + len);
	if (!buf)
		return ERR_NOMEM;
	start = p = buf + LWS_PRE;
	end = start + head_room;
	if (lws_add_http_common_headers(wsi, (unsigned int)status, content_type, (lws_filepos_t)len,
					&p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end) ||
	    (hs->close_after &&
	     lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close",
					  5, &p, end)) ||
	    lws_finalize_http_header(wsi, &p, end)) {
		free(buf);
		return ERR_NOMEM;
	}
	memcpy(p, body, len);
	hs->resp = buf;
	hs->resp_len = (size_t)(p - start) + len;
	lws_callback_on_writable(wsi);
	return 0;
}

int
http_respond_error(struct lws *wsi, int status, const char *msg, long index)
{
	char *json = ingest_error_json(msg, index);
	int rc;

	if (!json) /* msg was not valid UTF-8: say so without it */
		json = ingest_error_json("invalid request", index);
	if (!json)
		return ERR_NOMEM;
	rc = http_respond(wsi, status, "application/json", json, strlen(json));
	free(json);
	return rc;
}

/* Write the queued response; returns non-zero to close the connection. */
static int
write_response(struct lws *wsi, struct http_session *hs)
{
	if (!hs->resp)
		return 0; /* spurious */
	int n = lws_write(wsi, hs->resp + LWS_PRE, hs->resp_len, LWS_WRITE_HTTP_FINAL);
	free(hs->resp);
	hs->resp = NULL;
	if (n < 0 || hs->close_after)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* The writer finished a POSTed batch: answer it. */
static void
ingest_done(struct ingest_batch *b)
{
	struct lws *wsi = b->owner;
	struct http_session *hs = lws_wsi_user(wsi);
	int rc;

	hs->pending = NULL;
	if (b->status == 0) {
		char *answer = ingest_answer_json(b);
		rc = answer ? http_respond(wsi, 200, "application/json", answer, strlen(answer))
			    : ERR_NOMEM;
		free(answer);
	} else {
		rc = http_respond_error(wsi, http_status_for(b->status), b->errmsg, -1);
	}
	if (rc)
		lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	ingest_batch_free(b);
}

/* Refuse a POST early: answer now and close once it is written. */
static int
refuse(struct lws *wsi, struct http_session *hs, int status, const char *msg)
{
	hs->refused = 1;
	hs->close_after = 1;
	return http_respond_error(wsi, status, msg, -1) ? -1 : 0;
}

static int
content_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);
	return !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Start a POST /api/events: check its headers before the body arrives. */
static int
begin_ingest(struct lws *wsi, struct http_session *hs)
{
	const struct config *cfg = server_of(wsi)->cfg;
	char ct[128] = "", clen[32] = "";

	if (lws_hdr_copy(wsi, ct, sizeof ct, WSI_TOKEN_HTTP_CONTENT_TYPE) < 0)
		ct[0] = '\0';
	if (!ct[0] || content_type_is(ct, "application/json"))
		hs->format = INGEST_JSON;
	else if (content_type_is(ct, "application/x-ndjson") ||
		 content_type_is(ct, "application/ndjson") ||
		 content_type_is(ct, "application/jsonl"))
		hs->format = INGEST_NDJSON;
	else
		return refuse(wsi, hs, HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE,
			      "Content-Type must be application/json or application/x-ndjson");

	if (lws_hdr_copy(wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return refuse(wsi, hs, HTTP_STATUS_LENGTH_REQUIRED,
			      "a Content-Length header is required");
	char *end;
	unsigned long long n = strtoull(clen, &end, 10);
	if (*end || end == clen)
		return refuse(wsi, hs, HTTP_STATUS_BAD_REQUEST, "invalid Content-Length");
	if (n > cfg->body_max) {
		char msg[128];
		snprintf(msg, sizeof msg,
			 "request body of %llu bytes is over the limit of %zu bytes", n,
			 cfg->body_max);
		return refuse(wsi, hs, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, msg);
	}
	/* The buffer grows as the body arrives: a claimed length costs nothing
	 * until the bytes are actually sent. */
	hs->body_expected = n;
	hs->body_cap = n + 1 < 64 * 1024 ? n + 1 : 64 * 1024;
	hs->body = malloc(hs->body_cap);
	if (!hs->body)
		return refuse(wsi, hs, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory");
	hs->body_deadline_us = timestamp_now() + (int64_t)cfg->handshake_timeout * 1000000;
	return 0;
}

static int
append_body(struct lws *wsi, struct http_session *hs, const void *in, size_t len)
{
	if (hs->refused || len == 0)
		return 0; /* answered already, or nothing: drop it */
	if (hs->body_len + len > hs->body_expected)
		return refuse(wsi, hs, HTTP_STATUS_REQ_ENTITY_TOO_LARGE,
			      "request body is longer than its Content-Length");
	/* lws restarts its timeout on every chunk; a body sent a byte at a
	 * time would hold the connection and its buffer forever. */
	if (timestamp_now() > hs->body_deadline_us)
		return refuse(wsi, hs, HTTP_STATUS_REQUEST_TIMEOUT,
			      "the request body did not arrive within the handshake timeout");
	if (hs->body_len + len + 1 > hs->body_cap) {
		size_t cap = hs->body_cap * 2;
		while (cap < hs->body_len + len + 1)
			cap *= 2;
		if (cap > hs->body_expected + 1)
			cap = hs->body_expected + 1;
		char *bigger = realloc(hs->body, cap);
		if (!bigger)
			return refuse(wsi, hs, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory");
		hs->body = bigger;
		hs->body_cap = cap;
	}
	memcpy(hs->body + hs->body_len, in, len);
	hs->body_len += len;
	return 0;
}

static int
finish_ingest(struct lws *wsi, struct http_session *hs)
{
	struct server *srv = server_of(wsi);
	struct ingest_error err;
	struct ingest_batch *b;

	if (hs->refused)
		return 0;
	b = ingest_parse(hs->body ? hs->body : "", hs->body_len, hs->format, srv->cfg->event_max,
			 &err);
	reset_request(hs);
	if (!b)
		return http_respond_error(wsi, http_status_for(err.code), err.msg, (long)err.index)
			       ? -1
			       : 0;
	if (b->count == 0) {
		ingest_done(b); /* nothing to commit: answer at once */
		return 0;
	}
	b->owner = wsi;
	b->on_done = ingest_done;
	if (server_submit(srv, b)) {
		ingest_batch_free(b);
		return http_respond_error(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
					  "the server is shutting down", -1)
			       ? -1
			       : 0;
	}
	hs->pending = b;
	return 0;
}

static int
healthz(struct lws *wsi)
{
	struct server *srv = server_of(wsi);
	int state = writer_state(srv->writer);
	static const char ok[] = "{\"status\":\"ok\"}";

	if (state == 0 && !srv->stopping)
		return http_respond(wsi, 200, "application/json", ok, sizeof ok - 1);
	return http_respond_error(
		wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
		srv->stopping ? "the server is shutting down" : "the store cannot write", -1);
}

/* Is the request's Origin (if any) allowed: listed, or the server itself? */
static int
origin_ok(struct lws *wsi, const auth *a)
{
	char origin[256], host[256];
	const char *authority;

	if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
		return 1; /* not a browser */
	if (auth_origin_allowed(a, origin))
		return 1;
	/* Same origin: the dashboard served by this server. */
	authority = strstr(origin, "://");
	return authority && lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) > 0 &&
	       !strcasecmp(authority + 3, host);
}

/* The bearer token of a request: the Authorization header or ?token=. */
static int
request_token(struct lws *wsi, char *out, size_t size)
{
	char header[AUTH_TOKEN_MAX + 16];

	if (lws_hdr_copy(wsi, header, sizeof header, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
	    !strncasecmp(header, "Bearer ", 7)) {
		snprintf(out, size, "%s", header + 7);
		memset(header, 0, sizeof header);
		return 0;
	}
	/* The value comes back inside out, after "token=". */
	const char *value = lws_get_urlarg_by_name(wsi, "token=", out, (int)size);
	if (!value)
		return -1;
	memmove(out, value, strlen(value) + 1);
	return 0;
}

int
http_authorize(struct lws *wsi, enum auth_role role, const char **why)
{
	const auth *a = server_of(wsi)->auth;
	char token[AUTH_TOKEN_MAX + 16];
	int status;

	if (!origin_ok(wsi, a)) {
		*why = "requests from this Origin are not allowed";
		return 403;
	}
	if (auth_token_count(a) == 0)
		return 0;
	status = auth_check(a, request_token(wsi, token, sizeof token) ? NULL : token, role);
	memset(token, 0, sizeof token);
	if (status == 401)
		*why = "a valid token is required: send 'Authorization: Bearer TOKEN' or "
		       "?token=TOKEN";
	else if (status == 403)
		*why = role == AUTH_PUBLISH     ? "this token may not publish events"
		       : role == AUTH_SUBSCRIBE ? "this token may not read events"
						: "this token is not an admin token";
	return status;
}

/* Refuse the request unless it may act in role; returns route()'s result. */
static int
guard(struct lws *wsi, enum auth_role role, int *refused)
{
	const char *why = NULL;
	int status = http_authorize(wsi, role, &why);

	*refused = status != 0;
	if (!status)
		return 0;
	return http_respond_error(wsi, status, why, -1) ? -1 : 0;
}

/* Is the server past --max-connections? */
static int
over_capacity(struct lws *wsi)
{
	struct server *srv = server_of(wsi);
	return srv->connections > srv->cfg->max_connections;
}

/* Route a request by method and path (no query string). */
static int
route(struct lws *wsi, struct http_session *hs, const char *path)
{
	char *uri;
	int uri_len, method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);

	if (over_capacity(wsi)) {
		hs->close_after = 1;
		return http_respond_error(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
					  "too many connections; try again later", -1)
			       ? -1
			       : 0;
	}

	struct server *srv = server_of(wsi);
	int refused, rc;

	if (!strcmp(path, "/api/events")) {
		if (method == LWSHUMETH_POST) {
			rc = guard(wsi, AUTH_PUBLISH, &refused);
			if (refused) {
				/* Answered: drop the body and close after the answer. */
				hs->refused = hs->close_after = 1;
				return rc;
			}
			return begin_ingest(wsi, hs);
		}
		if (method == LWSHUMETH_GET) {
			rc = guard(wsi, AUTH_SUBSCRIBE, &refused);
			return refused ? rc : api_events(wsi, srv) ? -1 : 0;
		}
		return http_respond_error(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED,
					  "use GET to read events or POST to ingest them", -1);
	}
	if (method == LWSHUMETH_GET) {
		if (!strcmp(path, "/healthz"))
			return healthz(wsi);
		/* The dashboard's files need no token (SPEC §6). */
		if (dashboard_serve(wsi, path) >= 0)
			return 0;
		if (!strcmp(path, "/api/stats") || !strcmp(path, "/metrics")) {
			rc = guard(wsi, AUTH_SUBSCRIBE, &refused);
			if (refused)
				return rc;
			return (path[1] == 'a' ? api_stats(wsi, srv) : api_metrics(wsi, srv)) ? -1
											      : 0;
		}
	} else if (!strcmp(path, "/healthz") || !strcmp(path, "/api/stats") ||
		   !strcmp(path, "/metrics")) {
		return http_respond_error(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "use GET", -1);
	}
	if (method == LWSHUMETH_POST) /* do not read a body we will not use */
		hs->close_after = 1;
	return http_respond_error(wsi, HTTP_STATUS_NOT_FOUND, "no such endpoint", -1);
}

/*
 * Answer an upgrade request with an error instead of switching protocols.
 * The status line is written by hand: at this stage lws has not recorded
 * the request's HTTP version and would answer "HTTP/1.0", which WebSocket
 * clients reject as not an HTTP/1.1 response.
 */
static int
refuse_upgrade(struct lws *wsi, int status, const char *reason, const char *msg)
{
	unsigned char buf[LWS_PRE + 1024];
	char *body = ingest_error_json(msg, -1);
	int n;

	if (!body)
		return -1;
	n = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
		     "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
		     "content-length: %zu\r\ncache-control: no-store\r\n"
		     "connection: close\r\n\r\n%s",
		     status, reason, strlen(body), body);
	free(body);
	if (n < 0 || n >= (int)(sizeof buf - LWS_PRE))
		return -1;
	return lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL) < 0 ? -1 : 1;
}

int
http_confirm_upgrade(struct lws *wsi)
{
	char path[128], errmsg[QUERY_ERRMSG_SIZE];
	struct query q;

	const char *why = NULL;
	int status;

	if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0)
		return -1;
	if (over_capacity(wsi))
		return refuse_upgrade(wsi, 503, "Service Unavailable",
				      "too many connections; try again later");
	if (!strcmp(path, "/ws/logs") || !strcmp(path, "/ws/ingest")) {
		status = http_authorize(wsi, path[4] == 'l' ? AUTH_SUBSCRIBE : AUTH_PUBLISH, &why);
		if (status)
			return refuse_upgrade(wsi, status,
					      status == 401 ? "Unauthorized" : "Forbidden", why);
		if (path[4] == 'l' && ws_logs_parse(wsi, &q, errmsg))
			return refuse_upgrade(wsi, 400, "Bad Request", errmsg);
		return 0;
	}
	return refuse_upgrade(wsi, 404, "Not Found",
			      "no WebSocket endpoint at this path; use /ws/logs or /ws/ingest");
}

int
http_callback(struct lws *wsi, int reason, void *user, void *in, size_t len)
{
	struct http_session *hs = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		reset_request(hs);
		hs->close_after = 0;
		int rc = route(wsi, hs, in ? (const char *)in : "");
		if (!hs->body && !hs->refused &&
		    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
			/* Answered without reading the body: drop it, then close,
			 * since the rest of it may still be on its way. */
			hs->refused = hs->close_after = 1;
		}
		return rc;
	}
	case LWS_CALLBACK_HTTP_BODY:
		return append_body(wsi, hs, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return finish_ingest(wsi, hs);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return write_response(wsi, hs);
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return http_confirm_upgrade(wsi);
	case LWS_CALLBACK_CLOSED_HTTP:
		if (hs->pending)
			hs->pending->owner = NULL; /* the writer's answer has nowhere to go */
		hs->pending = NULL;
		reset_request(hs);
		free(hs->resp);
		hs->resp = NULL;
		return 0;
	/*
	 * An upgrade that lws handled before its protocol init ran (it is
	 * deferred to a timer in lws 4.1) stays bound to this protocol rather
	 * than the default WebSocket one. Hand its WebSocket life to ws.c: the
	 * session memory is large enough for either (server.c).
	 */
	case LWS_CALLBACK_ESTABLISHED:
		reset_request(hs);
		free(hs->resp);
		memset(user, 0,
		       http_session_size() > ws_session_size() ? http_session_size()
							       : ws_session_size());
		return ws_callback(wsi, reason, user, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_CLOSED:
		return ws_callback(wsi, reason, user, in, len);
	case LWS_CALLBACK_WSI_CREATE:
		server_of(wsi)->connections++;
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		server_of(wsi)->connections--;
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		server__writer_done(lws_context_user(lws_get_context(wsi)));
		return 0;
	default:
		return lws_callback_http_dummy(wsi, (enum lws_callback_reasons)reason, user, in,
					       len);
	}
}
