/*
 * /ws/ingest: producers that stream. Each text message is one event or an
 * array of events, committed as one batch and answered, in the order the
 * messages came, with the same JSON as POST /api/events.
 */
#ifndef SENTINEL_WS_INGEST_H
#define SENTINEL_WS_INGEST_H

#include <stddef.h>

struct lws;
struct server;
struct ingest_conn;

/* A producer connected; returns its state or NULL to refuse. */
struct ingest_conn *ws_ingest_open(struct lws *wsi, struct server *srv);

/* A fragment of a message arrived. Returns non-zero to close. */
int ws_ingest_receive(struct ingest_conn *c, const void *in, size_t len);

/* Send the answers that are ready, in order. */
int ws_ingest_writeable(struct ingest_conn *c);

/* The server is stopping: answer what is pending, then close with 1001. */
void ws_ingest_stop(struct server *srv);

/* The connection closed: batches still committing are answered to no one. */
void ws_ingest_close(struct ingest_conn *c);

#endif
