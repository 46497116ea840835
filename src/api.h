/*
 * The read side of the HTTP API: GET /api/events (stored events, paged),
 * GET /api/stats and GET /metrics (Prometheus text format). Each handler
 * queues its whole response with http_respond().
 */
#ifndef SENTINEL_API_H
#define SENTINEL_API_H

struct lws;
struct server;

int api_events(struct lws *wsi, struct server *srv);
int api_stats(struct lws *wsi, struct server *srv);
int api_metrics(struct lws *wsi, struct server *srv);

#endif
