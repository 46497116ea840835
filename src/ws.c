/* Dispatch of WebSocket connections to their endpoint by request path. */
#include "ws.h"

#include <libwebsockets.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "server.h"
#include "ws_ingest.h"
#include "ws_logs.h"

enum ws_role { WS_NONE, WS_LOGS, WS_INGEST };

struct ws_session {
	enum ws_role role;
	void *state; /* struct subscriber or struct ingest_conn */
};

size_t
ws_session_size(void)
{
	return sizeof(struct ws_session);
}

static int
establish(struct lws *wsi, struct ws_session *ws)
{
	struct server *srv = lws_context_user(lws_get_context(wsi));
	char path[64];

	if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0)
		return -1;
	if (!strcmp(path, "/ws/logs")) {
		ws->role = WS_LOGS;
		ws->state = ws_logs_open(wsi, srv);
	} else if (!strcmp(path, "/ws/ingest")) {
		ws->role = WS_INGEST;
		ws->state = ws_ingest_open(wsi, srv);
	}
	return ws->state ? 0 : -1;
}

int
ws_callback(struct lws *wsi, int reason, void *user, void *in, size_t len)
{
	struct ws_session *ws = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* Upgrades arrive on the default protocol, which is this one. */
		return http_confirm_upgrade(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		return establish(wsi, ws);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (ws->role == WS_LOGS)
			return ws_logs_writeable(ws->state);
		if (ws->role == WS_INGEST)
			return ws_ingest_writeable(ws->state);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		/* Subscribers only receive; what they send is ignored (seed). */
		if (ws->role == WS_INGEST)
			return ws_ingest_receive(ws->state, in, len);
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (ws->role == WS_LOGS)
			ws_logs_close(ws->state);
		else if (ws->role == WS_INGEST)
			ws_ingest_close(ws->state);
		ws->role = WS_NONE;
		ws->state = NULL;
		return 0;
	default:
		return 0;
	}
}
