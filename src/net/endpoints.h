/*
 * What the lws callbacks reach: admission control, the TLS certificate,
 * the record of refused requests and the endpoints, each owning its own state behind an opaque
 * type. The set is filled once by the server (the gate, the certificate and the record of refusals
 * before the listener starts, the endpoints before the loop runs) and only read afterwards; lws
 * hands it to every callback as the context's user pointer. A reload changes what the gate and the
 * certificate hold, never the set.
 */
#ifndef SENTINEL_ENDPOINTS_H
#define SENTINEL_ENDPOINTS_H

#include <libwebsockets.h>

#include "api.h"
#include "api_sql.h"
#include "cert.h"
#include "gate.h"
#include "http_ingest.h"
#include "http_stream.h"
#include "loki.h"
#include "rejects.h"
#include "ws_ingest.h"
#include "ws_logs.h"

struct endpoints {
	gate *gate;
	cert *cert;       /* --tls-cert and --tls-key, or NULL */
	rejects *rejects; /* refused requests: counted and logged */
	api *api;
	api_sql *sql;         /* POST /api/sql */
	http_ingest *ingest;  /* POST /api/events, POST /loki/api/v1/push */
	loki *loki;           /* the Loki API's reads */
	ws_logs *logs;        /* /ws/logs, /loki/api/v1/tail */
	http_stream *stream;  /* GET /api/stream */
	ws_ingest *producers; /* /ws/ingest */
};

/* The endpoints of the server that wsi belongs to. */
static inline const struct endpoints *
endpoints_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

#endif
