/*
 * What the lws callbacks reach: admission control and the endpoints, each
 * owning its own state behind an opaque type. The set is filled once by
 * the server before the listener starts and only read afterwards; lws
 * hands it to every callback as the context's user pointer.
 */
#ifndef SENTINEL_ENDPOINTS_H
#define SENTINEL_ENDPOINTS_H

#include <libwebsockets.h>

#include "api.h"
#include "api_sql.h"
#include "gate.h"
#include "http_ingest.h"
#include "ws_ingest.h"
#include "ws_logs.h"

struct endpoints {
	gate *gate;
	api *api;
	api_sql *sql;         /* POST /api/sql */
	http_ingest *ingest;  /* POST /api/events */
	ws_logs *logs;        /* /ws/logs */
	ws_ingest *producers; /* /ws/ingest */
};

/* The endpoints of the server that wsi belongs to. */
static inline const struct endpoints *
endpoints_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

#endif
