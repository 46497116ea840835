/*
 * The read side of the HTTP API: GET /api/events (stored events, paged),
 * GET /api/stats, GET /metrics (Prometheus text format, with the usual
 * process_* metrics), GET /healthz, and GET /api/verify (a check of the
 * hash chain). Each handler queues its whole response on the connection's
 * reply, but /api/verify, which runs on the reader pool and answers
 * through a stream.
 */
#ifndef SENTINEL_API_H
#define SENTINEL_API_H

#include "buf.h"
#include "cursor.h"
#include "hub.h"
#include "idem.h"
#include "readpool.h"
#include "rejects.h"
#include "reply_stream.h"
#include "store.h"
#include "writer.h"
#include "ws_ingest.h"

struct lws;
struct reply;
typedef struct api api;

/* Where the answers come from; every pointer outlives the api. */
struct api_sources {
	store *reader;        /* the loop's read-only store handle */
	writer *writer;       /* commit counters and whether the store can write */
	hub *hub;             /* the newest committed id */
	cursor_set *cursors;  /* subscriber counters */
	idem *keys;           /* idempotency counters */
	ws_ingest *producers; /* /ws/ingest connections */
	rejects *rejects;     /* refused requests, by reason */
	readpool *pool;       /* the reader pool, for /api/verify */
	int sync_full;        /* --sync full */
	/* Optional, for a replicated journal: its readiness (1, or 0 with a
	 * reason) for /healthz, and its samples appended to /metrics. */
	int (*ready)(void *arg, const char **why);
	int (*metrics)(void *arg, struct buf *b);
	void *hooks_arg;
};

/* NULL when out of memory. */
api *api_create(const struct api_sources *src);
void api_destroy(api *a);

/* The server is stopping: /healthz answers 503 from now on. */
void api_stop(api *a);

/* The handlers. Each returns 0, or -1 to close the connection. */
int api_events(api *a, struct lws *wsi, struct reply *r);
int api_stats(api *a, struct lws *wsi, struct reply *r);
int api_metrics(api *a, struct lws *wsi, struct reply *r);
int api_healthz(api *a, struct lws *wsi, struct reply *r);

/* GET /api/verify: *stream is its answer, or NULL when it is queued on r. */
int api_verify(api *a, struct lws *wsi, struct reply *r, struct reply_stream **stream);

#endif
