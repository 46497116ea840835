/*
 * HTTP routing. Each connection's session holds at most one request in
 * flight: an upload while a POST body arrives and commits (or a query's
 * body), then the response until it is written. Responses are written
 * whole, in one lws_write of headers and body (reply.h), but those that
 * come from the reader pool (/api/sql, /api/verify), which are streamed
 * in chunks (reply_stream.h), and GET /api/stream, whose body follows the
 * feed until the connection closes (http_stream.h). HTTP/1 only: the
 * build has no h2.
 */
#include "http.h"

#include <libwebsockets.h>
#include <string.h>

#include "dashboard.h"
#include "endpoints.h"
#include "reply.h"
#include "ws.h"

struct http_session {
	struct reply reply;
	struct http_upload *upload;     /* POST /api/events in progress */
	struct http_follower *follower; /* GET /api/stream in progress */
	struct sql_upload *sql;         /* POST /api/sql: its body arriving */
	struct reply_stream *stream;    /* an answer from the reader pool */
	int drop_body;                  /* answered before the body ended: discard it */
	/* The request's refusal, for the record (rejects.h). */
	const char *why; /* the gate's sentence, or NULL */
	int over_limit;  /* refused past --max-connections */
	int noted;       /* recorded already */
};

size_t
http_session_size(void)
{
	return sizeof(struct http_session);
}

/* Forget the request in flight (a new one starts, or the connection ends). */
static void
reset_request(struct http_session *hs)
{
	http_ingest_release(hs->upload);
	hs->upload = NULL;
	http_stream_release(hs->follower);
	hs->follower = NULL;
	api_sql_release(hs->sql);
	hs->sql = NULL;
	reply_stream_free(hs->stream);
	hs->stream = NULL;
	hs->drop_body = 0;
	hs->why = NULL;
	hs->over_limit = hs->noted = 0;
}

/* If the request has just been refused, record it once (rejects.h). */
static void
note_refusal(struct lws *wsi, struct http_session *hs)
{
	int status = hs->reply.status;

	if (hs->noted || !hs->reply.buf || !((status >= 400 && status < 500) || hs->over_limit))
		return;
	hs->noted = 1;
	rejects_note(endpoints_of(wsi)->rejects, wsi, status, hs->why);
}

static int
answer_error(struct lws *wsi, struct http_session *hs, int status, const char *msg)
{
	return reply_error(wsi, &hs->reply, status, msg, -1) ? -1 : 0;
}

/* Refuse the request unless it may act in role; returns route()'s result. */
static int
guard(struct lws *wsi, struct http_session *hs, enum auth_role role, int *refused)
{
	const char *why = NULL;
	enum auth_verdict v = gate_authorize(endpoints_of(wsi)->gate, wsi, role, &why);

	*refused = v != AUTH_ALLOWED;
	hs->why = why;
	return *refused ? answer_error(wsi, hs, v, why) : 0;
}

/* The methods a path answers besides OPTIONS, which every path answers. */
enum { ALLOW_GET = 1 << 0, ALLOW_HEAD = 1 << 1, ALLOW_POST = 1 << 2 };

/* What serves a path. */
enum route_kind {
	ROUTE_EVENTS,    /* GET reads, POST ingests */
	ROUTE_STATS,     /* GET /api/stats */
	ROUTE_METRICS,   /* GET /metrics */
	ROUTE_HEALTHZ,   /* GET /healthz, no token */
	ROUTE_LOKI_PUSH, /* POST /loki/api/v1/push */
	ROUTE_LOKI,      /* the Loki API's reads (loki.c answers unknown ones) */
	ROUTE_READY,     /* GET /ready (Loki's), no token */
	ROUTE_DASHBOARD, /* the dashboard's files, no token */
	ROUTE_STREAM,    /* GET /api/stream: SSE or NDJSON */
	ROUTE_SQL,       /* POST /api/sql, for auditors */
	ROUTE_VERIFY,    /* GET /api/verify, for auditors */
};

struct route {
	const char *path;
	int prefix; /* path is a prefix: "/loki/" and below */
	enum route_kind kind;
	int methods;
	const char *allow; /* the Allow header: every method, OPTIONS included */
};

static const struct route routes[] = {
	{"/api/events", 0, ROUTE_EVENTS, ALLOW_GET | ALLOW_HEAD | ALLOW_POST,
	 "GET, HEAD, POST, OPTIONS"},
	{"/api/stream", 0, ROUTE_STREAM, ALLOW_GET, "GET, OPTIONS"},
	{"/api/stats", 0, ROUTE_STATS, ALLOW_GET | ALLOW_HEAD, "GET, HEAD, OPTIONS"},
	{"/metrics", 0, ROUTE_METRICS, ALLOW_GET | ALLOW_HEAD, "GET, HEAD, OPTIONS"},
	{"/healthz", 0, ROUTE_HEALTHZ, ALLOW_GET | ALLOW_HEAD, "GET, HEAD, OPTIONS"},
	{"/loki/api/v1/push", 0, ROUTE_LOKI_PUSH, ALLOW_POST, "POST, OPTIONS"},
	{"/ready", 0, ROUTE_READY, ALLOW_GET | ALLOW_HEAD, "GET, HEAD, OPTIONS"},
	{"/api/sql", 0, ROUTE_SQL, ALLOW_POST, "POST, OPTIONS"},
	{"/api/verify", 0, ROUTE_VERIFY, ALLOW_GET | ALLOW_HEAD, "GET, HEAD, OPTIONS"},
	{"/loki/", 1, ROUTE_LOKI, ALLOW_GET | ALLOW_HEAD, "GET, HEAD, OPTIONS"},
};

static const struct route dashboard = {NULL, 0, ROUTE_DASHBOARD, ALLOW_GET | ALLOW_HEAD,
				       "GET, HEAD, OPTIONS"};

/* The route of path, or NULL when nothing is there. */
static const struct route *
find_route(const char *path)
{
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct route *rt = &routes[i];
		if (rt->prefix ? !strncmp(path, rt->path, strlen(rt->path))
			       : !strcmp(path, rt->path))
			return rt;
	}
	return dashboard_has(path) ? &dashboard : NULL;
}

/* The request's method as a route bit; 0 for one no route answers. */
static int
method_bit(int method)
{
	switch (method) {
	case LWSHUMETH_GET:
		return ALLOW_GET;
	case LWSHUMETH_HEAD:
		return ALLOW_HEAD;
	case LWSHUMETH_POST:
		return ALLOW_POST;
	default:
		return 0;
	}
}

/* A POST of events (/api/events or Loki's push): admit it, then read its body. */
static int
begin_ingest(struct lws *wsi, struct http_session *hs, int loki_push)
{
	const struct endpoints *ep = endpoints_of(wsi);
	int refused, rc = guard(wsi, hs, AUTH_PUBLISH, &refused);

	if (refused) {
		/* Answered: drop the body and close after the answer. */
		hs->drop_body = hs->reply.close_after = 1;
		return rc;
	}
	rc = loki_push ? http_ingest_begin_loki(ep->ingest, wsi, &hs->reply, &hs->upload)
		       : http_ingest_begin(ep->ingest, wsi, &hs->reply, &hs->upload);
	if (!hs->upload)
		hs->drop_body = 1;
	return rc;
}

/* POST /api/sql: admit an auditor, then read the query (the body). */
static int
begin_sql(struct lws *wsi, struct http_session *hs)
{
	int refused, rc = guard(wsi, hs, AUTH_AUDIT, &refused);

	if (refused) {
		hs->drop_body = hs->reply.close_after = 1;
		return rc;
	}
	rc = api_sql_begin(endpoints_of(wsi)->sql, wsi, &hs->reply, &hs->sql);
	if (!hs->sql)
		hs->drop_body = 1;
	return rc;
}

/*
 * OPTIONS: the path's methods; for a browser page that may use the server,
 * the answer to its CORS preflight too. A page of another site gets 403.
 */
static int
answer_options(struct lws *wsi, struct http_session *hs, const struct route *rt,
	       enum gate_origin origin)
{
	hs->reply.allow = rt->allow;
	if (origin == GATE_ORIGIN_REFUSED) {
		hs->why = "requests from this Origin are not allowed (see --allow-origin)";
		return answer_error(wsi, hs, HTTP_STATUS_FORBIDDEN, hs->why);
	}
	hs->reply.preflight = origin == GATE_ORIGIN_ALLOWED;
	return reply_send(wsi, &hs->reply, HTTP_STATUS_NO_CONTENT, "text/plain", "", 0) ? -1 : 0;
}

/* A GET the route allows: answer it, asking for a token where one is needed. */
static int
answer_get(struct lws *wsi, struct http_session *hs, const struct route *rt, const char *path)
{
	const struct endpoints *ep = endpoints_of(wsi);
	int refused, rc;

	switch (rt->kind) {
	case ROUTE_DASHBOARD:
		return dashboard_serve(wsi, &hs->reply, path) ? -1 : 0;
	case ROUTE_HEALTHZ:
		return api_healthz(ep->api, wsi, &hs->reply);
	case ROUTE_READY: /* like /healthz, /ready needs no token */
		return loki_serve(ep->loki, wsi, &hs->reply, path);
	case ROUTE_VERIFY:
		rc = guard(wsi, hs, AUTH_AUDIT, &refused);
		return refused ? rc : api_verify(ep->api, wsi, &hs->reply, &hs->stream);
	default:
		break;
	}
	rc = guard(wsi, hs, AUTH_SUBSCRIBE, &refused);
	if (refused)
		return rc;
	switch (rt->kind) {
	case ROUTE_EVENTS:
		return api_events(ep->api, wsi, &hs->reply);
	case ROUTE_STATS:
		return api_stats(ep->api, wsi, &hs->reply);
	case ROUTE_METRICS:
		return api_metrics(ep->api, wsi, &hs->reply);
	case ROUTE_STREAM:
		return http_stream_begin(ep->stream, wsi, &hs->reply, &hs->follower);
	default:
		return loki_serve(ep->loki, wsi, &hs->reply, path);
	}
}

/* Route a request by method and path (no query string). */
static int
route(struct lws *wsi, struct http_session *hs, const char *path)
{
	const struct endpoints *ep = endpoints_of(wsi);
	char *uri;
	int uri_len, method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	const struct route *rt;
	enum gate_origin origin;

	/* A HEAD is answered as its GET would be, without the body. */
	hs->reply.head_only = method == LWSHUMETH_HEAD;
	if (gate_full(ep->gate)) {
		hs->reply.close_after = hs->over_limit = 1;
		return answer_error(wsi, hs, HTTP_STATUS_SERVICE_UNAVAILABLE,
				    "too many connections; try again later");
	}
	if (!(rt = find_route(path))) {
		if (method == LWSHUMETH_POST) /* do not read a body we will not use */
			hs->reply.close_after = 1;
		return answer_error(wsi, hs, HTTP_STATUS_NOT_FOUND, "no such endpoint");
	}
	/* A browser page that may use the server may also read the answer. */
	origin = gate_origin(ep->gate, wsi, hs->reply.origin, sizeof hs->reply.origin);
	if (origin != GATE_ORIGIN_ALLOWED)
		hs->reply.origin[0] = '\0';
	if (method == LWSHUMETH_OPTIONS)
		return answer_options(wsi, hs, rt, origin);
	if (!(rt->methods & method_bit(method))) {
		hs->reply.allow = rt->allow;
		return answer_error(
			wsi, hs, HTTP_STATUS_METHOD_NOT_ALLOWED,
			rt->kind == ROUTE_EVENTS
				? "use GET or HEAD to read events, or POST to ingest them"
			: rt->methods & ALLOW_POST ? "use POST"
			: rt->methods & ALLOW_HEAD ? "use GET or HEAD"
						   : "use GET");
	}
	if (method == LWSHUMETH_POST)
		return rt->kind == ROUTE_SQL ? begin_sql(wsi, hs)
					     : begin_ingest(wsi, hs, rt->kind == ROUTE_LOKI_PUSH);
	return answer_get(wsi, hs, rt, path);
}

/* Bytes of a request body arrived. */
static int
body(struct lws *wsi, struct http_session *hs, const void *in, size_t len)
{
	int rc;

	if (hs->drop_body || (!hs->upload && !hs->sql))
		return 0; /* answered already: drop it */
	rc = hs->sql ? api_sql_body(hs->sql, in, len) : http_ingest_body(hs->upload, in, len);
	if (rc == 1) {
		reset_request(hs);
		hs->drop_body = 1;
		return 0;
	}
	return rc;
}

int
http_callback(struct lws *wsi, int reason, void *user, void *in, size_t len)
{
	struct http_session *hs = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		reset_request(hs);
		reply_begin(&hs->reply);
		int rc = route(wsi, hs, in ? (const char *)in : "");
		note_refusal(wsi, hs);
		if (!hs->upload && !hs->sql && !hs->drop_body &&
		    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
			/* Answered without reading the body: drop it, then close,
			 * since the rest of it may still be on its way. */
			hs->drop_body = hs->reply.close_after = 1;
		}
		return rc;
	}
	case LWS_CALLBACK_HTTP_BODY: {
		int rc = body(wsi, hs, in, len);
		note_refusal(wsi, hs);
		return rc;
	}
	case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
		int rc = 0;
		if (hs->drop_body)
			return 0;
		if (hs->sql) {
			rc = api_sql_end(hs->sql, &hs->stream);
			api_sql_release(hs->sql);
			hs->sql = NULL;
		} else if (hs->upload) {
			rc = http_ingest_end(hs->upload);
		}
		note_refusal(wsi, hs);
		return rc;
	}
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (hs->follower)
			return http_stream_writeable(hs->follower);
		if (hs->stream) {
			int rc = reply_stream_write(hs->stream, &hs->reply);
			if (rc == REPLY_STREAM_MORE)
				return 0;
			/* Free it before the transaction completes (see below). */
			reply_stream_free(hs->stream);
			hs->stream = NULL;
			if (rc == REPLY_STREAM_DONE)
				return lws_http_transaction_completed(wsi) ? -1 : 0;
			return rc == REPLY_STREAM_ERROR ? 0 : -1;
		}
		/* The answer ends the request. Once it is written, a keep-alive
		 * connection is rebound for the next request, which frees this
		 * session's memory (lws_bind_protocol): nothing may be left in
		 * it, so the upload goes now. */
		if (hs->reply.buf)
			reset_request(hs);
		return reply_write(wsi, &hs->reply);
	case LWS_CALLBACK_TIMER:
		if (hs && hs->follower)
			http_stream_timer(hs->follower);
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return ws_confirm_upgrade(wsi);
	/* At start, with TLS: user is the SSL_CTX lws made from the files. */
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		return endpoints_of(wsi)->cert ? cert_attach(endpoints_of(wsi)->cert, user) : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
		reset_request(hs);
		reply_clear(&hs->reply);
		return 0;
	/*
	 * An upgrade that lws handled before its protocol init ran (it is
	 * deferred to a timer in lws 4.1) stays bound to this protocol rather
	 * than the default WebSocket one: hand its WebSocket life to ws.c.
	 */
	case LWS_CALLBACK_ESTABLISHED:
		reset_request(hs);
		reply_clear(&hs->reply);
		return ws_callback(wsi, reason, NULL, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_CLOSED:
		return ws_callback(wsi, reason, NULL, in, len);
	/* lws sends both to protocols[0], whatever the connection became. */
	case LWS_CALLBACK_WSI_CREATE:
		gate_conn_opened(endpoints_of(wsi)->gate);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		ws_forget(wsi);
		gate_conn_closed(endpoints_of(wsi)->gate);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, (enum lws_callback_reasons)reason, user, in,
					       len);
	}
}
