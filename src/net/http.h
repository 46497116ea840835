/*
 * The HTTP router: libwebsockets' protocols[0], which receives every plain
 * HTTP request (there are no mounts), checks admission, and hands each
 * request to its endpoint by method and path. Upgrades are vetted by the
 * WebSocket side (ws.h).
 */
#ifndef SENTINEL_HTTP_H
#define SENTINEL_HTTP_H

#include <stddef.h>

struct lws;

/* The lws protocol callback for protocols[0]. */
int http_callback(struct lws *wsi, int reason, void *user, void *in, size_t len);

/* Size of http_callback's per-session data. */
size_t http_session_size(void);

#endif
