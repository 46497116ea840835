/*
 * HTTP routing. Each connection's session holds at most one request in
 * flight: an upload while a POST body arrives and commits (or a query's
 * body), then the response until it is written. Responses are written
 * whole, in one lws_write of headers and body (reply.h), but those that
 * come from the reader pool (/api/sql, /api/verify), which are streamed
 * in chunks (reply_stream.h). HTTP/1 only: the build has no h2.
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
	struct http_upload *upload;  /* POST /api/events in progress */
	struct sql_upload *sql;      /* POST /api/sql: its body arriving */
	struct reply_stream *stream; /* an answer from the reader pool */
	int drop_body;               /* answered before the body ended: discard it */
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
	api_sql_release(hs->sql);
	hs->sql = NULL;
	reply_stream_free(hs->stream);
	hs->stream = NULL;
	hs->drop_body = 0;
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
	return *refused ? answer_error(wsi, hs, v, why) : 0;
}

/* POST or GET /api/events. */
static int
route_events(struct lws *wsi, struct http_session *hs, int method)
{
	const struct endpoints *ep = endpoints_of(wsi);
	int refused, rc;

	if (method == LWSHUMETH_POST) {
		rc = guard(wsi, hs, AUTH_PUBLISH, &refused);
		if (refused) {
			/* Answered: drop the body and close after the answer. */
			hs->drop_body = hs->reply.close_after = 1;
			return rc;
		}
		rc = http_ingest_begin(ep->ingest, wsi, &hs->reply, &hs->upload);
		if (!hs->upload)
			hs->drop_body = 1;
		return rc;
	}
	if (method == LWSHUMETH_GET) {
		rc = guard(wsi, hs, AUTH_SUBSCRIBE, &refused);
		return refused ? rc : api_events(ep->api, wsi, &hs->reply);
	}
	return answer_error(wsi, hs, HTTP_STATUS_METHOD_NOT_ALLOWED,
			    "use GET to read events or POST to ingest them");
}

/* POST /api/sql and GET /api/verify: for auditors (and admins). */
static int
route_audit(struct lws *wsi, struct http_session *hs, int method, int sql)
{
	const struct endpoints *ep = endpoints_of(wsi);
	int refused, rc;

	if (method != (sql ? LWSHUMETH_POST : LWSHUMETH_GET)) {
		hs->reply.close_after = method == LWSHUMETH_POST;
		return answer_error(wsi, hs, HTTP_STATUS_METHOD_NOT_ALLOWED,
				    sql ? "use POST with the query as the body" : "use GET");
	}
	rc = guard(wsi, hs, AUTH_AUDIT, &refused);
	if (refused) {
		hs->drop_body = hs->reply.close_after = sql;
		return rc;
	}
	if (!sql)
		return api_verify(ep->api, wsi, &hs->reply, &hs->stream);
	rc = api_sql_begin(ep->sql, wsi, &hs->reply, &hs->sql);
	if (!hs->sql)
		hs->drop_body = 1;
	return rc;
}

/* Route a request by method and path (no query string). */
static int
route(struct lws *wsi, struct http_session *hs, const char *path)
{
	const struct endpoints *ep = endpoints_of(wsi);
	char *uri;
	int uri_len, method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	int refused, rc;

	if (gate_full(ep->gate)) {
		hs->reply.close_after = 1;
		return answer_error(wsi, hs, HTTP_STATUS_SERVICE_UNAVAILABLE,
				    "too many connections; try again later");
	}
	if (!strcmp(path, "/api/events"))
		return route_events(wsi, hs, method);
	if (!strcmp(path, "/api/sql") || !strcmp(path, "/api/verify"))
		return route_audit(wsi, hs, method, path[5] == 's');
	if (method == LWSHUMETH_GET) {
		if (!strcmp(path, "/healthz"))
			return api_healthz(ep->api, wsi, &hs->reply);
		/* The dashboard's files need no token. */
		if (dashboard_serve(wsi, &hs->reply, path) == 0)
			return 0;
		if (!strcmp(path, "/api/stats") || !strcmp(path, "/metrics")) {
			rc = guard(wsi, hs, AUTH_SUBSCRIBE, &refused);
			if (refused)
				return rc;
			return path[1] == 'a' ? api_stats(ep->api, wsi, &hs->reply)
					      : api_metrics(ep->api, wsi, &hs->reply);
		}
	} else if (!strcmp(path, "/healthz") || !strcmp(path, "/api/stats") ||
		   !strcmp(path, "/metrics")) {
		return answer_error(wsi, hs, HTTP_STATUS_METHOD_NOT_ALLOWED, "use GET");
	}
	if (method == LWSHUMETH_POST) /* do not read a body we will not use */
		hs->reply.close_after = 1;
	return answer_error(wsi, hs, HTTP_STATUS_NOT_FOUND, "no such endpoint");
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
		hs->reply.close_after = 0;
		int rc = route(wsi, hs, in ? (const char *)in : "");
		if (!hs->upload && !hs->sql && !hs->drop_body &&
		    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
			/* Answered without reading the body: drop it, then close,
			 * since the rest of it may still be on its way. */
			hs->drop_body = hs->reply.close_after = 1;
		}
		return rc;
	}
	case LWS_CALLBACK_HTTP_BODY:
		return body(wsi, hs, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (hs->drop_body)
			return 0;
		if (hs->sql) {
			int rc = api_sql_end(hs->sql, &hs->stream);
			api_sql_release(hs->sql);
			hs->sql = NULL;
			return rc;
		}
		return hs->upload ? http_ingest_end(hs->upload) : 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
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
		/* The request is answered: nothing of it is needed any more.
		 * Release it first: when reply_write() completes the transaction,
		 * lws frees this session's memory without a CLOSED_HTTP. */
		if (hs->reply.buf) {
			http_ingest_release(hs->upload);
			hs->upload = NULL;
		}
		return reply_write(wsi, &hs->reply);
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return ws_confirm_upgrade(wsi);
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
