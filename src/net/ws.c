/*
 * Vetting of upgrades and dispatch of WebSocket connections (see ws.h).
 * /loki/api/v1/tail is a /ws/logs subscriber that speaks Loki's tail.
 * A connection's state (struct ws_conn) is made when its upgrade is vetted
 * and freed when it closes, or when it is destroyed without ever opening.
 */
#include "ws.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints.h"
#include "err.h"
#include "ingest.h"

enum ws_role { WS_LOGS, WS_INGEST };

struct ws_conn {
	enum ws_role role;
	struct subscriber *sub;   /* WS_LOGS: prepared when vetted */
	struct ingest_conn *prod; /* WS_INGEST: opened when established */
};

/*
 * Answer an upgrade request with an error instead of switching protocols,
 * and record the refusal; msg goes in the log line only when it is ours
 * (it may quote the request's parameters otherwise). The status line is
 * written by hand: at this stage lws has not recorded the request's HTTP
 * version and would answer "HTTP/1.0", which WebSocket clients reject as
 * not an HTTP/1.1 response.
 */
static int
refuse_upgrade(struct lws *wsi, int status, const char *reason, const char *msg, int ours)
{
	unsigned char buf[LWS_PRE + 1024];
	char *body = ingest_error_json(msg, -1);
	int n;

	rejects_note(endpoints_of(wsi)->rejects, wsi, status, ours ? msg : NULL);
	if (!body)
		return -1;
	n = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
		     "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
		     "content-length: %zu\r\ncache-control: no-store\r\n%s"
		     "connection: close\r\n\r\n%s",
		     status, reason, strlen(body),
		     status == 401 ? "www-authenticate: Bearer realm=\"sentinel-logd\"\r\n" : "",
		     body);
	free(body);
	if (n < 0 || n >= (int)(sizeof buf - LWS_PRE))
		return -1;
	return lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL) < 0 ? -1 : 1;
}

/*
 * Does the client take our protocol: it offers no subprotocol, or offers
 * "sentinel" among others? Otherwise lws would drop the connection without
 * an answer, so the caller refuses it with one.
 */
static int
subprotocol_ok(struct lws *wsi)
{
	char *save = NULL, list[256];

	if (lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) <= 0)
		return 1;
	if (lws_hdr_copy(wsi, list, sizeof list, WSI_TOKEN_PROTOCOL) <= 0)
		return 0; /* too long to hold it */
	for (char *name = strtok_r(list, ", \t", &save); name; name = strtok_r(NULL, ", \t", &save))
		if (!strcmp(name, "sentinel"))
			return 1;
	return 0;
}

int
ws_confirm_upgrade(struct lws *wsi)
{
	const struct endpoints *ep = endpoints_of(wsi);
	char path[128], errmsg[ERRMSG_SIZE];
	const char *why = NULL;
	enum auth_verdict v;
	struct ws_conn *conn;
	enum ws_role role;
	int err;

	if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0)
		return -1;
	if (gate_full(ep->gate))
		return refuse_upgrade(wsi, 503, "Service Unavailable",
				      "too many connections; try again later", 1);
	int tail = !strcmp(path, "/loki/api/v1/tail");
	if (!strcmp(path, "/ws/logs") || tail)
		role = WS_LOGS;
	else if (!strcmp(path, "/ws/ingest"))
		role = WS_INGEST;
	else
		return refuse_upgrade(wsi, 404, "Not Found",
				      "no WebSocket endpoint at this path; use /ws/logs, "
				      "/ws/ingest or /loki/api/v1/tail",
				      1);
	if (!subprotocol_ok(wsi))
		return refuse_upgrade(wsi, 400, "Bad Request",
				      "unsupported subprotocol: offer none, or 'sentinel'", 1);
	v = gate_authorize(ep->gate, wsi, role == WS_LOGS ? AUTH_SUBSCRIBE : AUTH_PUBLISH, &why);
	if (v != AUTH_ALLOWED)
		return refuse_upgrade(
			wsi, v, v == AUTH_UNAUTHENTICATED ? "Unauthorized" : "Forbidden", why, 1);

	ws_forget(wsi); /* a second upgrade on one connection replaces the first */
	conn = calloc(1, sizeof *conn);
	if (!conn)
		return -1;
	conn->role = role;
	if (role == WS_LOGS &&
	    !(conn->sub = tail ? ws_logs_prepare_tail(ep->logs, wsi, &err, errmsg)
			       : ws_logs_prepare(ep->logs, wsi, &err, errmsg))) {
		free(conn);
		return err == ERR_INVAL ? refuse_upgrade(wsi, 400, "Bad Request", errmsg, 0) : -1;
	}
	lws_set_opaque_user_data(wsi, conn);
	return 0;
}

/* The WebSocket is open: start its endpoint. */
static int
establish(struct lws *wsi, struct ws_conn *conn)
{
	if (!conn)
		return -1; /* not vetted: cannot happen, but never serve it */
	if (conn->role == WS_LOGS)
		return ws_logs_start(conn->sub);
	conn->prod = ws_ingest_open(endpoints_of(wsi)->producers, wsi);
	return conn->prod ? 0 : -1;
}

void
ws_forget(struct lws *wsi)
{
	struct ws_conn *conn = lws_get_opaque_user_data(wsi);

	if (!conn)
		return;
	lws_set_opaque_user_data(wsi, NULL);
	if (conn->sub)
		ws_logs_close(conn->sub);
	if (conn->prod)
		ws_ingest_close(conn->prod);
	free(conn);
}

int
ws_callback(struct lws *wsi, int reason, void *user, void *in, size_t len)
{
	struct ws_conn *conn = lws_get_opaque_user_data(wsi);

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return ws_confirm_upgrade(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return establish(wsi, conn);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (conn && conn->sub)
			return ws_logs_writeable(conn->sub);
		if (conn && conn->prod)
			return ws_ingest_writeable(conn->prod);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		/* Subscribers only receive; what they send is ignored. */
		if (conn && conn->prod)
			return ws_ingest_receive(conn->prod, in, len);
		return 0;
	case LWS_CALLBACK_CLOSED:
		ws_forget(wsi);
		return 0;
	default:
		return 0;
	}
}
