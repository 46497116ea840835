/*
 * Server lifetime: start-up, the libevent loop with libwebsockets on it,
 * the journal's completions, and a graceful stop.
 *
 * Start: open the store for writing (migrating it), open a read-only
 * handle for the loop, seed the hub with the store's last id, start the
 * writer thread, build the endpoints, then listen. The writer wakes the
 * loop through an eventfd; the loop then collects finished batches: it
 * publishes their events to the hub, answers their producers and wakes the
 * subscribers. The reader pool (auditors' queries, checks of the hash
 * chain) wakes the loop through a second eventfd in the same way. Stop
 * (SIGINT/SIGTERM): refuse new work, let the writer
 * commit and answer everything already accepted, let subscribers drain
 * what was committed and close them with 1001, close every connection, and
 * close the store (which checkpoints the WAL).
 *
 * Everything here runs on the loop thread but writer_notify() and
 * pool_notify(), which the writer and the reader threads call.
 */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "auth.h"
#include "cluster.h"
#include "endpoints.h"
#include "err.h"
#include "hub.h"
#include "journal.h"
#include "listener.h"
#include "log.h"
#include "readpool.h"
#include "store.h"
#include "writer.h"

/* Jobs that may wait for a reader thread; bytes of one query. */
#define POOL_MAX_QUEUED 32
#define SQL_BODY_MAX    (64 * 1024)

/* How long a stop waits for answers and subscribers to drain. */
#define STOP_GRACE_MS 3000
#define STOP_POLL_MS  50

struct server {
	const struct config *cfg;
	struct event_base *base;
	store *reader;  /* the loop's read-only store handle */
	writer *writer; /* the writer thread and its store handle */
	readpool *pool; /* reader threads for queries and chain checks */
	journal *journal;
	cluster *cluster; /* --jetstream: the stream behind the journal */
	char node[300];   /* the node's name in the cluster */
	hub *hub;         /* newest committed events, in wire form */
	auth *auth;       /* tokens and allowed origins */
	struct endpoints ep;
	listener *listener;
	int wake_fd; /* eventfd: the writer's "batches are done" */
	int pool_fd; /* eventfd: the reader pool's "a job has news" */
	struct event *wake, *pool_wake, *sigint, *sigterm, *stop_timer, *retention_timer;
	int stopping;
	int stop_waited_ms;
	int exit_code; /* when the loop ends: 0, or 75 to be restarted */
};

static void stop(struct server *srv, const char *why);

/* Called by the writer thread after a commit or a retention pass. */
static void
writer_notify(void *arg)
{
	struct server *srv = arg;
	uint64_t one = 1;

	/* Only EAGAIN can fail here (the counter is full), and then the loop
	 * has a wake-up pending anyway. */
	(void)!write(srv->wake_fd, &one, sizeof one);
}

/* Called by a reader thread when a job has output or has finished. */
static void
pool_notify(void *arg)
{
	struct server *srv = arg;
	uint64_t one = 1;

	(void)!write(srv->pool_fd, &one, sizeof one);
}

static void
on_pool_wake(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	uint64_t n;
	(void)what;

	(void)!read(fd, &n, sizeof n);
	readpool_dispatch(srv->pool);
}

/* Take finished batches from the journal: publish, answer, wake readers. */
static void
collect(struct server *srv)
{
	struct ingest_batch *b, *next;
	int published = 0;

	for (b = journal_take_done(srv->journal); b; b = next) {
		next = b->next;
		if (b->status == 0 && !b->remote) {
			for (size_t i = 0; i < b->count; i++) {
				struct wire_msg *m = b->msgs ? b->msgs[i] : NULL;
				if (!m) {
					/* Out of memory for its wire form: subscribers
					 * will read this one from the store instead. */
					hub_forget(srv->hub, b->first_id + (int64_t)i);
					continue;
				}
				hub_publish(srv->hub, m);
				b->msgs[i] = NULL;
			}
			published = 1;
		}
		if (b->owner)
			b->on_done(b);
		else
			ingest_batch_free(b);
	}
	/* Retention may have deleted events the hub still holds. */
	hub_drop_through(srv->hub, writer_retention_max_id(srv->writer));
	if (published)
		ws_logs_wake(srv->ep.logs);
	if (srv->cluster && cluster_fatal(srv->cluster) && !srv->stopping) {
		/* The stream was re-created under this node: stop, so that the
		 * supervisor starts it again and it rebuilds its store. */
		srv->exit_code = 75;
		stop(srv, "the stream changed under this node");
	}
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;
	(void)what;

	(void)!read(fd, &n, sizeof n);
	collect(arg);
}

/* Start a retention pass every --retention-interval. */
static void
on_retention_timer(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd;
	(void)what;
	if (!srv->stopping)
		writer_request_maintenance(srv->writer);
}

/* Poll until the stop has drained, then close everything and leave the loop. */
static void
on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct ws_logs_stats ls;
	(void)fd;
	(void)what;

	/* At least two polls, so that queued answers to producers go out. */
	srv->stop_waited_ms += STOP_POLL_MS;
	ws_logs_get_stats(srv->ep.logs, &ls);
	if (srv->stop_waited_ms < STOP_GRACE_MS &&
	    (ls.subscribers || ws_ingest_count(srv->ep.producers) ||
	     srv->stop_waited_ms < 2 * STOP_POLL_MS)) {
		struct timeval tv = {0, STOP_POLL_MS * 1000};
		evtimer_add(srv->stop_timer, &tv);
		return;
	}
	listener_destroy(srv->listener);
	srv->listener = NULL;
	event_base_loopexit(srv->base, NULL);
}

/* Begin a graceful stop (see the top of this file). */
static void
stop(struct server *srv, const char *why)
{
	struct timeval tv = {0, STOP_POLL_MS * 1000};

	if (srv->stopping)
		return;
	log_info("%s, stopping", why);
	srv->stopping = 1;
	if (srv->retention_timer)
		event_del(srv->retention_timer);
	/* A cluster answers what it took; its applier stops writing. */
	cluster_stop(srv->cluster);
	/* Commit what was accepted, then answer it and publish it. */
	writer_stop(srv->writer);
	collect(srv);
	/* Subscribers send what is left and producers get their answers, then
	 * both close with 1001 (ws_logs.c, ws_ingest.c). */
	api_stop(srv->ep.api);
	ws_logs_stop(srv->ep.logs);
	ws_ingest_stop(srv->ep.producers);
	evtimer_add(srv->stop_timer, &tv);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	stop(arg, sig == SIGINT ? "received SIGINT" : "received SIGTERM");
}

/* Allow enough descriptors for --max-connections (up to the hard limit). */
static void
raise_fd_limit(int connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)connections + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < want)
		log_warn("only %llu file descriptors available for %d connections",
			 (unsigned long long)rl.rlim_cur, connections);
}

static int
is_loopback(const char *host)
{
	return !strncmp(host, "127.", 4) || !strcmp(host, "::1") || !strcmp(host, "localhost");
}

/* Tokens (file and environment) and origins; refuse an open door. */
static int
setup_auth(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	const char *env = getenv("SENTINEL_TOKENS");
	char errmsg[ERRMSG_SIZE];

	srv->auth = auth_create();
	if (!srv->auth)
		return ERR_NOMEM;
	if (cfg->token_file && auth_load_file(srv->auth, cfg->token_file, errmsg)) {
		log_error("cannot load tokens: %s", errmsg);
		return ERR_INVAL;
	}
	if (env && auth_add_lines(srv->auth, env, ';', "SENTINEL_TOKENS", errmsg)) {
		log_error("cannot load tokens: %s", errmsg);
		return ERR_INVAL;
	}
	for (size_t i = 0; i < cfg->origin_count; i++)
		if (auth_allow_origin(srv->auth, cfg->origins[i]))
			return ERR_NOMEM;
	if (!is_loopback(cfg->host) && !auth_token_count(srv->auth) && !cfg->allow_anonymous) {
		log_error("refusing to listen on %s without tokens: anyone who can reach it could "
			  "read and write events. Configure --token-file or SENTINEL_TOKENS, or "
			  "pass --allow-anonymous",
			  cfg->host);
		return ERR_INVAL;
	}
	if (auth_token_count(srv->auth))
		log_info("authentication on: %zu token(s)", auth_token_count(srv->auth));
	return 0;
}

/* --jetstream: connect, and make the store a replica of the stream. */
static int
open_cluster(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct cluster_options o = cfg->cluster;
	char errmsg[ERRMSG_SIZE];

	if (!o.node) {
		snprintf(srv->node, sizeof srv->node, "%s:%d", cfg->host, cfg->port);
		o.node = srv->node;
	}
	srv->cluster = cluster_open(&o, &cfg->retention, errmsg);
	if (!srv->cluster || cluster_adopt_store(srv->cluster, cfg->db_path, errmsg)) {
		log_error("cannot join the cluster: %s", errmsg);
		return ERR_IO;
	}
	return 0;
}

static int
cluster_ready_hook(void *arg, const char **why)
{
	return cluster_ready(arg, why);
}

static int
cluster_metrics_hook(void *arg, struct buf *b)
{
	return cluster_metrics(arg, b);
}

/* Open both store handles, start the writer, and build the journal and hub. */
static int
open_store(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	char errmsg[ERRMSG_SIZE];
	int64_t last_id;
	int err;

	if (cfg->cluster.urls && (err = open_cluster(srv)))
		return err;

	store *wst = store_open(cfg->db_path, STORE_WRITE | (cfg->sync_full ? STORE_SYNC_FULL : 0),
				&err, errmsg);
	if (!wst) {
		log_error("cannot open the store: %s", errmsg);
		return err;
	}
	srv->reader = store_open(cfg->db_path, STORE_READONLY, &err, errmsg);
	if (!srv->reader) {
		log_error("cannot open the store for reading: %s", errmsg);
		store_close(wst);
		return err;
	}
	if ((err = store_last_id(srv->reader, &last_id))) {
		log_error("cannot read the store: %s", store_errmsg(srv->reader));
		store_close(wst);
		return err;
	}
	srv->hub = hub_create(cfg->cache_events, cfg->cache_bytes, last_id);
	if (!srv->hub) {
		store_close(wst);
		return ERR_NOMEM;
	}
	srv->pool = readpool_create(cfg->db_path, cfg->readers, POOL_MAX_QUEUED, pool_notify, srv,
				    &err, errmsg);
	if (!srv->pool) {
		log_error("cannot start the reader threads: %s", errmsg);
		store_close(wst);
		return err;
	}
	/* The writer owns wst from here, also when it fails to start. */
	srv->writer = writer_create(wst, &cfg->retention, writer_notify, srv, &err);
	if (!srv->writer) {
		log_error("cannot start the writer thread: %s", err_str(err));
		return err;
	}
	if (srv->cluster) {
		if ((err = cluster_start(srv->cluster, srv->writer, srv->reader, writer_notify, srv,
					 errmsg))) {
			log_error("cannot start the cluster node: %s", errmsg);
			return err;
		}
		srv->journal = cluster_journal(srv->cluster);
	} else {
		srv->journal = journal_local_new(srv->writer, srv->reader);
		if (!srv->journal)
			return ERR_NOMEM;
	}
	log_info("store %s: last id %lld, epoch %s, sync %s", cfg->db_path, (long long)last_id,
		 store_epoch(srv->reader), cfg->sync_full ? "full" : "normal");
	return 0;
}

/* The endpoints and the listener that serves them. */
static int
open_endpoints(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct endpoints *ep = &srv->ep;
	char errmsg[ERRMSG_SIZE];

	ep->gate = gate_create(srv->auth, cfg->max_connections);
	ep->logs = ws_logs_create(srv->journal, srv->hub);
	ep->producers = ws_ingest_create(srv->journal, cfg->event_max, cfg->body_max);
	ep->sql = api_sql_create(srv->pool, &(struct api_sql_limits){
						    .timeout_us = cfg->sql_timeout_us,
						    .max_rows = cfg->sql_max_rows,
						    .body_max = SQL_BODY_MAX,
						    .body_timeout = cfg->handshake_timeout,
					    });
	ep->ingest =
		http_ingest_create(srv->journal, &(struct http_ingest_limits){
							 .event_max = cfg->event_max,
							 .body_max = cfg->body_max,
							 .body_timeout = cfg->handshake_timeout,
						 });
	if (ep->logs)
		ep->api = api_create(&(struct api_sources){
			.reader = srv->reader,
			.writer = srv->writer,
			.hub = srv->hub,
			.logs = ep->logs,
			.pool = srv->pool,
			.sync_full = cfg->sync_full,
			.ready = srv->cluster ? cluster_ready_hook : NULL,
			.metrics = srv->cluster ? cluster_metrics_hook : NULL,
			.hooks_arg = srv->cluster,
		});
	if (!ep->gate || !ep->logs || !ep->producers || !ep->ingest || !ep->api || !ep->sql)
		return ERR_NOMEM;
	srv->listener = listener_create(srv->base,
					&(struct listener_options){
						.host = cfg->host,
						.port = cfg->port,
						.tls_cert = cfg->tls_cert,
						.tls_key = cfg->tls_key,
						.handshake_timeout = cfg->handshake_timeout,
						.idle_timeout = cfg->idle_timeout,
						.verbose = cfg->verbose,
					},
					ep, errmsg);
	if (!srv->listener) {
		log_error("%s", errmsg);
		return ERR_SYS;
	}
	return 0;
}

/* The loop's events: the writer's wake-up, signals, timers. */
static int
open_events(struct server *srv)
{
	const struct config *cfg = srv->cfg;

	srv->wake = event_new(srv->base, srv->wake_fd, EV_READ | EV_PERSIST, on_wake, srv);
	srv->pool_wake =
		event_new(srv->base, srv->pool_fd, EV_READ | EV_PERSIST, on_pool_wake, srv);
	srv->sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
	srv->sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
	srv->stop_timer = evtimer_new(srv->base, on_stop_timer, srv);
	if (!srv->wake || !srv->pool_wake || !srv->sigint || !srv->sigterm || !srv->stop_timer ||
	    event_add(srv->wake, NULL) || event_add(srv->pool_wake, NULL) ||
	    evsignal_add(srv->sigint, NULL) || evsignal_add(srv->sigterm, NULL)) {
		log_error("cannot install the loop's events");
		return ERR_SYS;
	}
	if (retention_active(&cfg->retention)) {
		int64_t us = cfg->retention.interval_us;
		struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
		srv->retention_timer =
			event_new(srv->base, -1, EV_PERSIST, on_retention_timer, srv);
		if (!srv->retention_timer || event_add(srv->retention_timer, &tv)) {
			log_error("cannot start the retention timer");
			return ERR_SYS;
		}
		writer_request_maintenance(srv->writer); /* a first pass at start */
	}
	return 0;
}

static void
free_event(struct event *ev)
{
	if (ev)
		event_free(ev);
}

int
server_run(const struct config *cfg)
{
	struct server srv = {.cfg = cfg, .wake_fd = -1, .pool_fd = -1};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(cfg->max_connections);

	srv.base = event_base_new();
	if (!srv.base) {
		log_error("cannot create the event loop");
		return 1;
	}
	srv.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	srv.pool_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (srv.wake_fd < 0 || srv.pool_fd < 0) {
		log_error("cannot create an eventfd: %s", strerror(errno));
		rc = ERR_SYS;
		goto out;
	}
	if ((rc = setup_auth(&srv)) || (rc = open_store(&srv)) || (rc = open_endpoints(&srv)) ||
	    (rc = open_events(&srv)))
		goto out;

	log_info("sentinel-logd listening on %s://%s:%d (live feed: %s://%s:%d/ws/logs)",
		 cfg->tls_cert ? "https" : "http", cfg->host, cfg->port,
		 cfg->tls_cert ? "wss" : "ws", cfg->host, cfg->port);
	if (event_base_dispatch(srv.base) < 0) {
		log_error("the event loop failed");
		rc = ERR_SYS;
	}
out:
	/* Commit what was accepted, close every connection, then free what is
	 * left unanswered (its connections are gone). */
	cluster_stop(srv.cluster);
	if (srv.writer)
		writer_stop(srv.writer);
	listener_destroy(srv.listener);
	if (srv.journal)
		collect(&srv);
	/* Every connection is closed, so every job released: stop the readers. */
	readpool_destroy(srv.pool);
	free_event(srv.wake);
	free_event(srv.pool_wake);
	free_event(srv.sigint);
	free_event(srv.sigterm);
	free_event(srv.stop_timer);
	free_event(srv.retention_timer);
	api_destroy(srv.ep.api);
	api_sql_destroy(srv.ep.sql);
	http_ingest_destroy(srv.ep.ingest);
	ws_ingest_destroy(srv.ep.producers);
	ws_logs_destroy(srv.ep.logs);
	gate_destroy(srv.ep.gate);
	if (srv.cluster)
		cluster_close(srv.cluster); /* owns the journal */
	else
		journal_free(srv.journal);
	writer_destroy(srv.writer);
	store_close(srv.reader);
	hub_destroy(srv.hub);
	auth_destroy(srv.auth);
	if (srv.wake_fd >= 0)
		close(srv.wake_fd);
	if (srv.pool_fd >= 0)
		close(srv.pool_fd);
	event_base_free(srv.base);
	if (rc == 0)
		log_info("stopped cleanly");
	return rc ? 1 : srv.exit_code;
}
