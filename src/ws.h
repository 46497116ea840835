/*
 * The WebSocket protocol of the server. Browsers and the seed's clients
 * send no subprotocol, so this is the vhost's default protocol and the
 * request path picks the endpoint: /ws/logs (ws_logs.h, subscribe) or
 * /ws/ingest (ws_ingest.h, publish).
 */
#ifndef SENTINEL_WS_H
#define SENTINEL_WS_H

#include <stddef.h>

struct lws;

/* The lws protocol callback. */
int ws_callback(struct lws *wsi, int reason, void *user, void *in, size_t len);

/* Size of ws_callback's per-session data. */
size_t ws_session_size(void);

#endif
