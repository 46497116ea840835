/*
 * The cluster: several sentinel-logd nodes share one replicated NATS
 * JetStream stream as their journal (--jetstream).
 *
 * Ingest on any node publishes each event to the stream (publisher.c) and
 * is answered once JetStream acknowledged every event and this node has
 * applied them. Each node applies the stream, in order, into its own
 * SQLite store (applier.c): the writer thread commits the rows with the
 * stream's sequence numbers as their ids, and the position applied, in one
 * transaction. So ids are the same on every node, the epoch is the
 * stream's identity, and a client resumes on any node with after_id and
 * epoch. Reads (subscribers, the HTTP API, SQL) use the local store as in
 * single-node mode.
 *
 * Threads: libnats' own threads (connection, acknowledgements), the
 * publisher and the applier. None of them touches libwebsockets or the
 * loop's state: finished batches come back through the journal seam and
 * the notify function, as the writer's do.
 */
#ifndef SENTINEL_CLUSTER_H
#define SENTINEL_CLUSTER_H

#include <stdint.h>

#include "buf.h"
#include "journal.h"
#include "retention.h"
#include "store.h"
#include "writer.h"

typedef struct cluster cluster;

struct cluster_options {
	const char *urls;    /* comma-separated nats:// URLs */
	const char *node;    /* this node's name, in message ids */
	const char *stream;  /* the stream's name */
	const char *subject; /* the subject events are published on */
	int create;          /* create the stream when it does not exist */
	int replicas;        /* for a created stream */
	int64_t max_age_us;  /* stream limits for a created stream; 0: none */
	int64_t max_bytes;
	int64_t max_msgs;
	int64_t dedupe_us;    /* the stream's duplicate window */
	const char *creds;    /* NATS credentials file, or NULL */
	const char *tls_ca;   /* CA to verify the servers, or NULL */
	const char *tls_cert; /* client certificate and key, or NULL */
	const char *tls_key;
	int64_t ack_timeout_us; /* give up on an unacknowledged event after this */
	int64_t max_lag;        /* more events than this to apply: not ready */
};

/* What /healthz and /metrics show. */
struct cluster_stats {
	int connected;            /* to a NATS server */
	uint64_t stream_last;     /* the stream's last sequence, as last seen */
	int64_t applied;          /* the highest sequence applied here */
	uint64_t lag;             /* events in the stream not applied here yet */
	uint64_t publish_pending; /* events published, not yet acknowledged */
	uint64_t published;       /* events acknowledged since start */
	uint64_t republished;     /* publishes sent again after an error */
	uint64_t publish_failed;  /* events given up on (their batch got 503) */
};

/*
 * Connect to NATS, find (or with create, make) the stream, and check that
 * its limits keep at least as long as the local retention. Blocks until
 * connected or the acknowledgement timeout passes. Returns NULL with the
 * reason in errmsg.
 */
cluster *cluster_open(const struct cluster_options *o, const struct retention_policy *local,
		      char *errmsg);

/* The stream's identity, the epoch of every node (16 hex digits). */
const char *cluster_epoch(const cluster *c);

/*
 * Make the store at path this stream's replica before the server opens it:
 * a new store takes the stream's epoch; a store of an earlier stream of
 * the same name (re-created since, or that lost what this node applied) is
 * moved aside to PATH.epoch-OLD and a new one started. Returns 0, or an
 * ERR_* with the reason in errmsg.
 */
int cluster_adopt_store(cluster *c, const char *path, char *errmsg);

/*
 * Start the publisher and the applier: the writer w (on the store made by
 * cluster_adopt_store) receives the stream's events from the highest
 * sequence already applied on; reader serves reads; notify wakes the loop
 * (any thread). Returns 0 or an ERR_* with the reason in errmsg.
 */
int cluster_start(cluster *c, writer *w, store *reader, void (*notify)(void *arg), void *arg,
		  char *errmsg);

/* The journal over the cluster (valid after cluster_start). */
journal *cluster_journal(cluster *c);

/* Fill *out (any thread). */
void cluster_get_stats(cluster *c, struct cluster_stats *out);

/* Append the cluster's samples to a /metrics page. Returns 0 or ERR_NOMEM. */
int cluster_metrics(cluster *c, struct buf *b);

/*
 * Whether this node can serve ingest now: connected, and within max_lag of
 * the stream. Returns 1, or 0 with the reason in *why.
 */
int cluster_ready(cluster *c, const char **why);

/* Non-zero once the stream was found re-created or truncated under this
 * node: the server must stop and rebuild (exit code 75). */
int cluster_fatal(cluster *c);

/* Stop taking batches: pending ones are answered with the error. Then stop
 * the threads (before the writer stops). */
void cluster_stop(cluster *c);

/* Close the connection and free everything (NULL is allowed). */
void cluster_close(cluster *c);

#endif
