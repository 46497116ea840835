/*
 * WebSocket connections. Upgrades are vetted here (only /ws/logs,
 * /ws/ingest and /loki/api/v1/tail exist; admission and parameters are
 * checked before the handshake is answered, so a refusal is an HTTP
 * status), and each open
 * WebSocket is dispatched to its endpoint by the path it was opened on.
 *
 * Browsers and most clients name no subprotocol, so this is the
 * vhost's default protocol. A connection's endpoint state hangs on the
 * wsi's opaque user data from the vetting on, so it does not depend on
 * which protocol lws bound the connection to.
 */
#ifndef SENTINEL_WS_H
#define SENTINEL_WS_H

#include <stddef.h>

struct lws;

/* The lws protocol callback. */
int ws_callback(struct lws *wsi, int reason, void *user, void *in, size_t len);

/*
 * LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, on whichever protocol it arrives:
 * refuse an upgrade to anything but the endpoints, answering with an HTTP
 * status itself. Returns the callback's result: 0 to go on, 1 when
 * answered, -1 to hang up.
 */
int ws_confirm_upgrade(struct lws *wsi);

/* The connection is being destroyed: free what vetting left on it. */
void ws_forget(struct lws *wsi);

#endif
