/*
 * The HTTP side of the server: libwebsockets' protocols[0], which receives
 * every plain HTTP request (there are no mounts), routes it by path, and
 * writes responses. It also vets WebSocket upgrades (only /ws/logs and
 * /ws/ingest exist) and receives the writer's wake-ups.
 */
#ifndef SENTINEL_HTTP_H
#define SENTINEL_HTTP_H

#include <stddef.h>

#include "auth.h"

struct lws;
struct ingest_batch;

/* The lws protocol callback for protocols[0]. */
int http_callback(struct lws *wsi, int reason, void *user, void *in, size_t len);

/* Size of http_callback's per-session data. */
size_t http_session_size(void);

/*
 * Queue a complete response on an HTTP connection: status, content type
 * and a body that is copied. It is written when the socket is writable.
 * Returns 0 or ERR_NOMEM.
 */
int http_respond(struct lws *wsi, int status, const char *content_type, const char *body,
		 size_t len);

/* Respond with {"error": msg} (and "index" when index >= 0). */
int http_respond_error(struct lws *wsi, int status, const char *msg, long index);

/*
 * LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: refuse an upgrade to anything but the
 * WebSocket endpoints, answering 404 (or 400 for bad parameters) itself.
 * Returns the callback's result: 0 to go on, 1 when answered, -1 to hang up.
 */
int http_confirm_upgrade(struct lws *wsi);

/*
 * Call fn(name, value, arg) for each decoded query parameter of the
 * request, stopping at the first non-zero result, which is returned.
 */
int http_query_each(struct lws *wsi, int (*fn)(const char *name, const char *value, void *arg),
		    void *arg);

/*
 * May this request act in role? Checks the Origin allow-list and, when
 * tokens are configured, the bearer token. Returns 0, or 401/403 with the
 * reason in *why.
 */
int http_authorize(struct lws *wsi, enum auth_role role, const char **why);

/* The HTTP status for a project error code from ingest or the writer. */
int http_status_for(int err);

#endif
