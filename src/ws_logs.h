/*
 * /ws/logs: the subscribers. Each subscriber is a cursor over the journal,
 * the id of the last event it was sent. It is fed from the hub while its
 * cursor is within the hub's window and from the store (short keyset pages)
 * when it is older, so replay, live delivery and slow consumers are one
 * mechanism: ids strictly increase, nothing is skipped, nothing is sent
 * twice, and no subscriber makes the server buffer more than one message.
 */
#ifndef SENTINEL_WS_LOGS_H
#define SENTINEL_WS_LOGS_H

struct lws;
struct query;
struct server;
struct subscriber;

/*
 * Read the request's query parameters (after_id, since, type, control,
 * epoch). Returns 0, or ERR_INVAL with the reason in errmsg
 * (QUERY_ERRMSG_SIZE bytes); the upgrade is then refused with HTTP 400.
 */
int ws_logs_parse(struct lws *wsi, struct query *q, char *errmsg);

/* A client connected to /ws/logs; returns its state or NULL to refuse. */
struct subscriber *ws_logs_open(struct lws *wsi, struct server *srv);

/* The socket can take more: send what the cursor has not seen yet. */
int ws_logs_writeable(struct subscriber *sub);

/* The connection closed; forget the subscriber. */
void ws_logs_close(struct subscriber *sub);

/* New events were published to the hub: wake subscribers waiting for them. */
void ws_logs_wake(struct server *srv);

/* The server is stopping: every subscriber sends what is committed, then
 * closes with 1001 (going away). */
void ws_logs_stop(struct server *srv);

/* Number of connected subscribers. */
unsigned ws_logs_count(const struct server *srv);

#endif
