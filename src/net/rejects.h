/*
 * The record of refused requests and upgrades (any 4xx, and 503 for the
 * connection limit): a counter per reason for /metrics
 * (sentinel_requests_rejected_total), and a log line per refusal with the
 * client's address, the request's method and path, the status and its
 * reason, at most REJECTS_LOG_BURST lines per REJECTS_LOG_WINDOW_S seconds
 * so that a flood of bad requests cannot flood the log; the lines left out
 * are counted in the next one. Never a token, a query string or a body:
 * only what the server itself says. The router (http.c) and the upgrade
 * vetting (ws.c) report to it; nothing else does. Loop thread only.
 */
#ifndef SENTINEL_REJECTS_H
#define SENTINEL_REJECTS_H

#include <stdint.h>

struct lws;
typedef struct rejects rejects;

#define REJECTS_LOG_BURST    10
#define REJECTS_LOG_WINDOW_S 10

/* The reasons, each a label value of the metric. */
enum rejects_reason {
	REJECTS_BAD_REQUEST,          /* 400 */
	REJECTS_UNAUTHORIZED,         /* 401 */
	REJECTS_FORBIDDEN,            /* 403 */
	REJECTS_NOT_FOUND,            /* 404 */
	REJECTS_METHOD_NOT_ALLOWED,   /* 405 */
	REJECTS_REQUEST_TIMEOUT,      /* 408 */
	REJECTS_LENGTH_REQUIRED,      /* 411 */
	REJECTS_PAYLOAD_TOO_LARGE,    /* 413 */
	REJECTS_UNSUPPORTED_MEDIA,    /* 415 */
	REJECTS_OTHER,                /* any other 4xx */
	REJECTS_TOO_MANY_CONNECTIONS, /* 503: past --max-connections */
	REJECTS_REASONS
};

/* NULL when out of memory. */
rejects *rejects_create(void);
void rejects_destroy(rejects *r);

/*
 * Record that wsi's request was refused with status (a 4xx; or 503, which
 * counts as the connection limit). detail is a sentence of the server's
 * own (never the client's data) for the log line, or NULL.
 */
void rejects_note(rejects *r, struct lws *wsi, int status, const char *detail);

/* The label value of a reason ("bad_request", ...). */
const char *rejects_reason_name(enum rejects_reason reason);

/* How many refusals of a reason were recorded since start. */
uint64_t rejects_count(const rejects *r, enum rejects_reason reason);

#endif
