/*
 * The server: one libevent event_base drives libwebsockets (as a foreign
 * loop), the HTTP API and both WebSocket endpoints; a writer thread commits
 * ingest batches. This header is the state shared by the endpoint modules
 * (http.c, ws_logs.c, ws_ingest.c); all of it is loop-thread only unless a
 * comment says otherwise.
 */
#ifndef SENTINEL_SERVER_H
#define SENTINEL_SERVER_H

#include <libwebsockets.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "hub.h"
#include "ingest.h"
#include "store.h"
#include "writer.h"

struct event_base;
struct event;
struct lws_context;
struct subscriber;

struct server {
	const struct config *cfg;
	struct event_base *base;
	struct lws_context *lws;
	store *reader;                  /* the loop's read-only store handle */
	writer *writer;                 /* the writer thread and its store handle */
	hub *hub;                       /* newest committed events, in wire form */
	auth *auth;                     /* tokens and allowed origins */
	struct subscriber *subscribers; /* /ws/logs clients (ws_logs.c) */
	struct ingest_conn *producers;  /* /ws/ingest clients (ws_ingest.c) */
	unsigned char *frames;          /* WebSocket frames for one subscriber's write */
	size_t frames_len, frames_cap;
	struct event *sigint, *sigterm, *stop_timer, *retention_timer;
	lws_retry_bo_t keepalive; /* WebSocket ping and idle policy */
	int stopping;
	int stop_waited_ms;
	store *pending_store; /* the writable handle until the writer owns it */
	int connections;      /* open client connections */
	uint64_t deliveries;  /* messages sent to /ws/logs clients */
	uint64_t replay_rows; /* events read from the store for them */
};

/*
 * Run the server until SIGINT or SIGTERM. Returns 0 after a clean stop,
 * non-zero if it could not start (after logging why).
 */
int server_run(const struct config *cfg);

/*
 * Queue a parsed batch for commit. batch->on_done is called on the loop
 * when it is committed or failed. Returns 0, or ERR_CLOSED when stopping
 * (the caller still owns the batch).
 */
int server_submit(struct server *srv, struct ingest_batch *batch);

/* Take finished batches from the writer: publish, answer, wake readers. */
void server__writer_done(struct server *srv);

#endif
