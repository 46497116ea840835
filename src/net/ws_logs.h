/*
 * /ws/logs: the subscribers. Each subscriber is a cursor over the journal,
 * the id of the last event it was sent. It is fed from the hub while its
 * cursor is within the hub's window and from the journal (short keyset
 * pages) when it is older, so replay, live delivery and slow consumers are
 * one mechanism: ids strictly increase, nothing is skipped, nothing is sent
 * twice, and no subscriber makes the server buffer more than one write's
 * worth of frames for it. Loop thread only.
 */
#ifndef SENTINEL_WS_LOGS_H
#define SENTINEL_WS_LOGS_H

#include <stdint.h>

#include "hub.h"
#include "journal.h"

struct lws;
struct subscriber;
typedef struct ws_logs ws_logs;

/* The endpoint, reading j and h (which outlive it). NULL: out of memory. */
ws_logs *ws_logs_create(journal *j, hub *h);

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

/* New events were published to the hub: wake subscribers waiting for them. */
void ws_logs_wake(ws_logs *l);

/* The server is stopping: every subscriber sends what is committed, then
 * closes with 1001 (going away); no new subscriber starts. */
void ws_logs_stop(ws_logs *l);

struct ws_logs_stats {
	unsigned subscribers;
	uint64_t deliveries;  /* event messages sent */
	uint64_t replay_rows; /* events read from the journal for subscribers behind */
};

void ws_logs_get_stats(const ws_logs *l, struct ws_logs_stats *out);

#endif
