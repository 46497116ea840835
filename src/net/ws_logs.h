/*
 * /ws/logs and /loki/api/v1/tail: the WebSocket subscribers. Each one is a
 * cursor (cursor.h), which owns the delivery rules: where it starts, the
 * control messages, replay from the journal and live delivery from the
 * hub. This endpoint reads the upgrade's parameters and frames what the
 * cursor produces as WebSocket messages. Loop thread only.
 */
#ifndef SENTINEL_WS_LOGS_H
#define SENTINEL_WS_LOGS_H

#include "cursor.h"

struct lws;
struct subscriber;
typedef struct ws_logs ws_logs;

/* The endpoint, its subscribers' cursors in set (which outlives it). NULL:
 * out of memory. */
ws_logs *ws_logs_create(cursor_set *set);

/* Free the endpoint; every subscriber must have closed. */
void ws_logs_destroy(ws_logs *l);

/*
 * An upgrade to /ws/logs: read its query parameters (after_id, since, type,
 * control, epoch) into a subscriber that is not started yet. Returns it,
 * or NULL with *err set (ERR_INVAL: the upgrade is refused with HTTP 400
 * and the reason in errmsg; ERR_NOMEM).
 */
struct subscriber *ws_logs_prepare(ws_logs *l, struct lws *wsi, int *err, char *errmsg);

/*
 * The same for /loki/api/v1/tail (parameters query, start, limit,
 * delay_for): a subscriber whose events pass through its LogQL query and
 * are sent in Loki's tail messages,
 * {"streams":[{"stream":{labels},"values":[["<ns>","<line>"]]}]}. It
 * starts at start (default: now) and follows the live feed.
 */
struct subscriber *ws_logs_prepare_tail(ws_logs *l, struct lws *wsi, int *err, char *errmsg);

/* The WebSocket is open: place the cursor and start sending. Returns 0,
 * or -1 to close the connection (stopping, or the journal cannot be read). */
int ws_logs_start(struct subscriber *sub);

/* The socket can take more: send what the cursor has not seen yet.
 * Returns 0, or -1 to close the connection. */
int ws_logs_writeable(struct subscriber *sub);

/* The connection closed (started or not): forget the subscriber. */
void ws_logs_close(struct subscriber *sub);

#endif
