/*
 * Server lifetime: start-up, the libevent loop with libwebsockets on it,
 * the journal's completions, reloads and a graceful stop.
 *
 * Start: resolve the address, load the tokens and the TLS certificate,
 * and listen first, so that a server that cannot listen exits before it
 * creates or locks anything; then open the store for writing (locking and
 * migrating it), open a read-only handle for the loop, seed the hub with
 * the store's last id, start the writer thread and the reader pool, and
 * build the endpoints. Nothing is served before the loop runs, by which
 * time every endpoint exists. The writer wakes the loop through an
 * eventfd; the loop then collects finished batches: it publishes their
 * events to the hub, answers their producers and wakes the subscribers.
 * The reader pool (auditors' queries, checks of the hash chain) wakes the
 * loop through a second eventfd in the same way. Reload (SIGHUP): swap in
 * the tokens and the certificate read anew, or keep the old ones when the
 * new ones do not load; connections are left alone. Stop (SIGINT/SIGTERM):
 * refuse new work, let the writer commit and answer everything already
 * accepted, let subscribers drain what was committed and close them with
 * 1001, close every connection, and close the store (which checkpoints the
 * WAL).
 *
 * Everything here runs on the loop thread but writer_notify() and
 * pool_notify(), which the writer and the reader threads call.
 */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "auth.h"
#include "cluster.h"
#include "cursor.h"
#include "endpoints.h"
#include "err.h"
#include "hub.h"
#include "journal.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
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
	struct address addr; /* --listen, resolved */
	struct event_base *base;
	store *reader;  /* the loop's read-only store handle */
	writer *writer; /* the writer thread and its store handle */
	readpool *pool; /* reader threads for queries and chain checks */
	journal *journal;
	cluster *cluster;    /* --jetstream: the stream behind the journal */
	char node[300];      /* the node's name in the cluster */
	hub *hub;            /* newest committed events, in wire form */
	cursor_set *cursors; /* the subscribers' cursors over the journal and the hub */
	idem *keys;          /* idempotency keys in flight, and their lookups */
	auth *auth;          /* tokens and allowed origins */
	struct endpoints ep;
	listener *listener;
	int wake_fd; /* eventfd: the writer's "batches are done" */
	int pool_fd; /* eventfd: the reader pool's "a job has news" */
	struct event *wake, *pool_wake, *sigint, *sigterm, *sighup, *stop_timer, *retention_timer;
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
	if (published && srv->cursors)
		cursor_set_wake(srv->cursors);
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
	struct cursor_stats cs;
	(void)fd;
	(void)what;

	/* At least two polls, so that queued answers to producers go out. */
	srv->stop_waited_ms += STOP_POLL_MS;
	cursor_set_get_stats(srv->cursors, &cs);
	if (srv->stop_waited_ms < STOP_GRACE_MS &&
	    (cs.cursors || ws_ingest_count(srv->ep.producers) ||
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
	notify_stopping();
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
	cursor_set_stop(srv->cursors);
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

/* Is gid the server's group, or one of its supplementary groups? */
static int
own_group(gid_t gid)
{
	gid_t groups[64];
	int n = getgroups(64, groups);

	if (gid == getegid())
		return 1;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/*
 * Warn when a file holding secrets may be read or changed by other users:
 * by anyone else, by its group when that is not the server's own (the
 * usual root:sentinel 0640 lets only the service read it), or written by
 * its group.
 */
static void
warn_if_shared(const char *what, const char *path)
{
	struct stat sb;

	if (stat(path, &sb) != 0)
		return; /* loading it says why */
	if ((sb.st_mode & (S_IRWXO | S_IWGRP)) || ((sb.st_mode & S_IRGRP) && !own_group(sb.st_gid)))
		log_warn("the %s %s can be read or changed by other users (mode %03o): "
			 "chmod 600 %s, or 640 with the server's group",
			 what, path, (unsigned)(sb.st_mode & 0777), path);
}

/*
 * Read the tokens (file and environment) and origins into a new table;
 * refuse an open door. Returns NULL with the reason in errmsg.
 */
static auth *
load_auth(struct server *srv, char *errmsg)
{
	const struct config *cfg = srv->cfg;
	const char *env = getenv("SENTINEL_TOKENS");
	auth *a = auth_create();

	if (!a) {
		err_set(errmsg, ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (cfg->token_file)
		warn_if_shared("token file", cfg->token_file);
	if ((cfg->token_file && auth_load_file(a, cfg->token_file, errmsg)) ||
	    (env && auth_add_lines(a, env, ';', "SENTINEL_TOKENS", errmsg)))
		goto fail;
	for (size_t i = 0; i < cfg->origin_count; i++)
		if (auth_allow_origin(a, cfg->origins[i])) {
			err_set(errmsg, ERR_NOMEM, "out of memory");
			goto fail;
		}
	if (!srv->addr.loopback && !auth_token_count(a) && !cfg->allow_anonymous) {
		err_set(errmsg, ERR_INVAL,
			"refusing to listen on %s without tokens: anyone who can reach it could "
			"read and write events. Configure --token-file or SENTINEL_TOKENS, or "
			"pass --allow-anonymous",
			cfg->host);
		goto fail;
	}
	return a;
fail:
	auth_destroy(a);
	return NULL;
}

/* Tokens, origins and the TLS certificate, before anything listens. */
static int
setup_auth(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	char errmsg[ERRMSG_SIZE];

	if (!(srv->auth = load_auth(srv, errmsg))) {
		log_error("cannot load tokens: %s", errmsg);
		return ERR_INVAL;
	}
	if (auth_token_count(srv->auth))
		log_info("authentication on: %zu token(s)", auth_token_count(srv->auth));
	if (cfg->tls_key)
		warn_if_shared("TLS key", cfg->tls_key);
	if (cfg->tls_cert && !(srv->ep.cert = cert_load(cfg->tls_cert, cfg->tls_key, errmsg))) {
		log_error("%s", errmsg);
		return ERR_INVAL;
	}
	return 0;
}

/*
 * SIGHUP: read the token file and the TLS certificate and key again. What
 * fails to load is refused with a log line and the old one stays in use;
 * connections are not touched: requests and handshakes from now on use
 * what was loaded.
 */
static void
reload(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	char errmsg[ERRMSG_SIZE], what[400];
	auth *a;

	if (srv->stopping)
		return;
	if (!(a = load_auth(srv, errmsg))) {
		log_error("reload: tokens not reloaded, the %zu in use stay: %s",
			  auth_token_count(srv->auth), errmsg);
	} else {
		gate_set_auth(srv->ep.gate, a);
		auth_destroy(srv->auth);
		srv->auth = a;
		log_info("reload: %zu token(s)%s%s", auth_token_count(a),
			 cfg->token_file ? " from " : "", cfg->token_file ? cfg->token_file : "");
	}
	if (!srv->ep.cert)
		return;
	warn_if_shared("TLS key", cfg->tls_key);
	if (cert_reload(srv->ep.cert, errmsg)) {
		cert_describe(srv->ep.cert, what, sizeof what);
		log_error("reload: TLS certificate not reloaded, the one in use stays (%s): %s",
			  what, errmsg);
		return;
	}
	cert_describe(srv->ep.cert, what, sizeof what);
	log_info("reload: TLS certificate %s (%s) for new connections", cfg->tls_cert, what);
}

static void
on_sighup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	log_info("received SIGHUP, reloading");
	notify_reloading();
	reload(arg);
	notify_ready("reloaded");
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
	if (store_renewal(wst))
		log_warn("store %s has a new epoch %s: %s. Clients resuming with its old epoch "
			 "start over (reset)",
			 cfg->db_path, store_epoch(wst), store_renewal(wst));
	int64_t lost_from, lost_to;
	store_lost_at_open(wst, &lost_from, &lost_to);
	if (lost_to)
		log_warn("the store was not stopped cleanly: ids %lld to %lld may have been handed "
			 "out and are lost; new ids start at %lld, and subscribers resuming across "
			 "them are told so",
			 (long long)lost_from, (long long)lost_to, (long long)lost_to + 1);
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

/* Admission and the listener: bound and listening, serving nothing yet. */
static int
open_listener(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	char errmsg[ERRMSG_SIZE];

	srv->ep.gate = gate_create(srv->auth, cfg->max_connections, !srv->addr.loopback);
	srv->ep.rejects = rejects_create();
	if (!srv->ep.gate || !srv->ep.rejects)
		return ERR_NOMEM;
	srv->listener = listener_create(srv->base,
					&(struct listener_options){
						.addr = &srv->addr,
						.port = cfg->port,
						.tls_cert = cfg->tls_cert,
						.tls_key = cfg->tls_key,
						.handshake_timeout = cfg->handshake_timeout,
						.idle_timeout = cfg->idle_timeout,
						.verbose = cfg->verbose,
					},
					&srv->ep, errmsg);
	if (!srv->listener) {
		log_error("%s", errmsg);
		return ERR_SYS;
	}
	return 0;
}

/* The endpoints the listener serves once the loop runs. */
static int
open_endpoints(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct endpoints *ep = &srv->ep;

	srv->cursors = cursor_set_create(srv->journal, srv->hub);
	if (!srv->cursors)
		return ERR_NOMEM;
	ep->logs = ws_logs_create(srv->cursors);
	/* Keepalives at least every half --idle-timeout: a tick a quarter. */
	ep->stream = http_stream_create(srv->cursors, cfg->idle_timeout * 1000 / 4);
	srv->keys = idem_create(srv->reader, cfg->retention.key_window_us);
	if (!srv->keys)
		return ERR_NOMEM;
	ep->producers = ws_ingest_create(srv->journal, srv->keys, cfg->event_max, cfg->body_max);
	ep->sql = api_sql_create(srv->pool, &(struct api_sql_limits){
						    .timeout_us = cfg->sql_timeout_us,
						    .max_rows = cfg->sql_max_rows,
						    .body_max = SQL_BODY_MAX,
						    .body_timeout = cfg->handshake_timeout,
					    });
	ep->ingest = http_ingest_create(srv->journal, srv->keys,
					&(struct http_ingest_limits){
						.event_max = cfg->event_max,
						.body_max = cfg->body_max,
						.body_timeout = cfg->handshake_timeout,
					});
	ep->loki = loki_create(srv->reader, cfg->loki_max_scan);
	if (ep->logs)
		ep->api = api_create(&(struct api_sources){
			.reader = srv->reader,
			.writer = srv->writer,
			.hub = srv->hub,
			.cursors = srv->cursors,
			.keys = srv->keys,
			.producers = ep->producers,
			.rejects = ep->rejects,
			.pool = srv->pool,
			.sync_full = cfg->sync_full,
			.ready = srv->cluster ? cluster_ready_hook : NULL,
			.metrics = srv->cluster ? cluster_metrics_hook : NULL,
			.hooks_arg = srv->cluster,
		});
	if (!ep->logs || !ep->stream || !ep->producers || !ep->ingest || !ep->api || !ep->loki ||
	    !ep->sql)
		return ERR_NOMEM;
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
	srv->sighup = evsignal_new(srv->base, SIGHUP, on_sighup, srv);
	srv->stop_timer = evtimer_new(srv->base, on_stop_timer, srv);
	if (!srv->wake || !srv->pool_wake || !srv->sigint || !srv->sigterm || !srv->sighup ||
	    !srv->stop_timer || event_add(srv->wake, NULL) || event_add(srv->pool_wake, NULL) ||
	    evsignal_add(srv->sigint, NULL) || evsignal_add(srv->sigterm, NULL) ||
	    evsignal_add(srv->sighup, NULL)) {
		log_error("cannot install the loop's events");
		return ERR_SYS;
	}
	/* Retention passes, which also expire idempotency keys. */
	if (retention_active(&cfg->retention) || cfg->retention.key_window_us) {
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

/* Resolve --listen once; everything after binds what this found. */
static int
resolve(struct server *srv)
{
	char errmsg[ERRMSG_SIZE];
	int rc = address_resolve(srv->cfg->host, &srv->addr, errmsg);

	if (rc)
		log_error("%s", errmsg);
	return rc;
}

int
server_check(const struct config *cfg)
{
	struct server srv = {.cfg = cfg};
	char what[400];
	int rc = resolve(&srv);

	/* The tokens, the origins, and the TLS certificate with its key. */
	if (!rc)
		rc = setup_auth(&srv);
	if (!rc)
		printf("# tokens: %zu (not shown)\n", auth_token_count(srv.auth));
	if (!rc && srv.ep.cert) {
		cert_describe(srv.ep.cert, what, sizeof what);
		printf("# TLS certificate: %s\n", what);
	}
	auth_destroy(srv.auth);
	cert_free(srv.ep.cert);
	return rc;
}

/* Say where the server listens, as the user named it and as bound, in
 * the log and to a service manager. */
static void
log_listening(struct server *srv)
{
	char status[400];
	const struct config *cfg = srv->cfg;
	const char *s = cfg->tls_cert ? "s" : "";
	char bound[INET6_ADDRSTRLEN + 16], named[sizeof cfg->host + 16];
	int port = listener_port(srv->listener);

	address_format(&srv->addr, port, bound, sizeof bound);
	snprintf(named, sizeof named, strchr(cfg->host, ':') ? "[%s]:%d" : "%s:%d", cfg->host,
		 port);
	if (strcmp(named, bound))
		log_info(
			"sentinel-logd listening on http%s://%s (%s; live feed: ws%s://%s/ws/logs)",
			s, named, bound, s, named);
	else
		log_info("sentinel-logd listening on http%s://%s (live feed: ws%s://%s/ws/logs)", s,
			 named, s, named);
	snprintf(status, sizeof status, "listening on http%s://%s", s, named);
	notify_ready(status);
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
	if ((rc = resolve(&srv)) || (rc = setup_auth(&srv)) || (rc = open_listener(&srv)) ||
	    (rc = open_store(&srv)) || (rc = open_endpoints(&srv)) || (rc = open_events(&srv)))
		goto out;
	log_listening(&srv);
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
	free_event(srv.sighup);
	free_event(srv.stop_timer);
	free_event(srv.retention_timer);
	api_destroy(srv.ep.api);
	loki_destroy(srv.ep.loki);
	api_sql_destroy(srv.ep.sql);
	http_ingest_destroy(srv.ep.ingest);
	ws_ingest_destroy(srv.ep.producers);
	ws_logs_destroy(srv.ep.logs);
	http_stream_destroy(srv.ep.stream);
	cursor_set_destroy(srv.cursors);
	idem_destroy(srv.keys);
	gate_destroy(srv.ep.gate);
	rejects_destroy(srv.ep.rejects);
	if (srv.cluster)
		cluster_close(srv.cluster); /* owns the journal */
	else
		journal_free(srv.journal);
	writer_destroy(srv.writer);
	store_close(srv.reader);
	hub_destroy(srv.hub);
	auth_destroy(srv.auth);
	cert_free(srv.ep.cert); /* after the listener: its TLS context used it */
	if (srv.wake_fd >= 0)
		close(srv.wake_fd);
	if (srv.pool_fd >= 0)
		close(srv.pool_fd);
	event_base_free(srv.base);
	if (rc == 0)
		log_info("stopped cleanly");
	return rc ? 1 : srv.exit_code;
}
