/*
 * /ws/ingest: producers that stream. Each text message is one event or an
 * array of events, appended to the journal as one batch and answered, in
 * the order the messages came, with the same JSON as POST /api/events. A
 * message may carry an idempotency key in an envelope,
 * {"idempotency_key":"KEY","events":...} (ingest_envelope()), honoured as
 * the HTTP header is (idem.h): a retry's answer is the first answer with
 * "replayed":true added. Loop thread only.
 */
#ifndef SENTINEL_WS_INGEST_H
#define SENTINEL_WS_INGEST_H

#include <stddef.h>

#include "idem.h"
#include "journal.h"

struct lws;
struct ingest_conn;
typedef struct ws_ingest ws_ingest;

/* The endpoint, appending to j with these limits, honouring keys with id.
 * NULL: out of memory. */
ws_ingest *ws_ingest_create(journal *j, idem *id, size_t event_max, size_t body_max);

/* Free the endpoint; every producer must have closed. */
void ws_ingest_destroy(ws_ingest *wi);

/* A producer connected; returns its state, or NULL to refuse it. */
struct ingest_conn *ws_ingest_open(ws_ingest *wi, struct lws *wsi);

/* A fragment of a message arrived. Returns 0, or -1 to close. */
int ws_ingest_receive(struct ingest_conn *c, const void *in, size_t len);

/* Send the answers that are ready, in order. Returns 0, or -1 to close. */
int ws_ingest_writeable(struct ingest_conn *c);

/* The connection closed: batches still committing are answered to no one. */
void ws_ingest_close(struct ingest_conn *c);

/* The server is stopping: answer what is pending, then close with 1001. */
void ws_ingest_stop(ws_ingest *wi);

/* The number of producers connected. */
unsigned ws_ingest_count(const ws_ingest *wi);

#endif
