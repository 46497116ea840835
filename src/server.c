/*
 * Server lifetime: start-up, the libevent loop with libwebsockets on it,
 * the writer's completions, and a graceful stop.
 *
 * Start: open the store for writing (migrating it), open a read-only
 * handle, seed the hub with the store's last id, create the lws context on
 * our event_base, then start the writer. Stop (SIGINT/SIGTERM): refuse new
 * work, let the writer commit and answer everything already accepted, let
 * subscribers drain what was committed and close them with 1001, destroy
 * the lws context, and close the store (which checkpoints the WAL).
 */
#include "server.h"

#include <event2/event.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "err.h"
#include "http.h"
#include "log.h"
#include "ws.h"
#include "ws_ingest.h"
#include "ws_logs.h"
#include "lwslog.h"

#if !defined(LWS_WITH_LIBEVENT)
#error "libwebsockets was built without LWS_WITH_LIBEVENT; sentinel-logd needs it"
#endif

/* How long a stop waits for answers and subscribers to drain. */
#define STOP_GRACE_MS 3000
#define STOP_POLL_MS  50

static struct lws_protocols protocols[] = {
	{"http", (lws_callback_function *)http_callback, 0, 0, 0, NULL, 0},
	{"sentinel", (lws_callback_function *)ws_callback, 0, 65536, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Make "sentinel" the protocol of upgrades that name none (browsers, seed). */
static const struct lws_protocol_vhost_options pvo_default = {NULL, NULL, "default", "1"};
static const struct lws_protocol_vhost_options pvo = {NULL, &pvo_default, "sentinel", ""};

/* Called by the writer thread: lws_cancel_service() is thread-safe. */
static void
wake_loop(void *arg)
{
	struct server *srv = arg;
	lws_cancel_service(srv->lws);
}

int
server_submit(struct server *srv, struct ingest_batch *batch)
{
	if (srv->stopping)
		return ERR_CLOSED;
	return writer_submit(srv->writer, batch);
}

void
server__writer_done(struct server *srv)
{
	struct ingest_batch *b, *next;
	int published = 0;

	for (b = writer_take_done(srv->writer); b; b = next) {
		next = b->next;
		if (b->status == 0) {
			for (size_t i = 0; i < b->count; i++) {
				struct hub_msg *m = b->msgs ? b->msgs[i] : NULL;
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
		ws_logs_wake(srv);
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

/* Poll until the stop has drained, then tear down lws and leave the loop. */
static void
on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd;
	(void)what;

	/* At least two polls, so that queued answers to producers go out. */
	srv->stop_waited_ms += STOP_POLL_MS;
	if (srv->stop_waited_ms < STOP_GRACE_MS &&
	    (srv->subscribers || srv->producers || srv->stop_waited_ms < 2 * STOP_POLL_MS)) {
		struct timeval tv = {0, STOP_POLL_MS * 1000};
		evtimer_add(srv->stop_timer, &tv);
		return;
	}
	lws_context_destroy(srv->lws);
	srv->lws = NULL;
	event_base_loopexit(srv->base, NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval tv = {0, STOP_POLL_MS * 1000};
	(void)what;

	if (srv->stopping)
		return;
	log_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	srv->stopping = 1;
	if (srv->retention_timer)
		event_del(srv->retention_timer);
	/* Commit what was accepted, then answer it and publish it. */
	writer_stop(srv->writer);
	server__writer_done(srv);
	/* Subscribers send what is left and producers get their answers, then
	 * both close with 1001 (ws_logs.c, ws_ingest.c). */
	ws_logs_stop(srv);
	ws_ingest_stop(srv);
	evtimer_add(srv->stop_timer, &tv);
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
	char errmsg[AUTH_ERRMSG_SIZE];

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

/* Open both store handles and the hub. */
static int
open_store(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	char errmsg[512];
	int64_t last_id;
	int err;

	store *wst = store_open(cfg->db_path, STORE_WRITE | (cfg->sync_full ? STORE_SYNC_FULL : 0),
				&err, errmsg, sizeof errmsg);
	if (!wst) {
		log_error("cannot open the store: %s", errmsg);
		return err;
	}
	srv->reader = store_open(cfg->db_path, STORE_READONLY, &err, errmsg, sizeof errmsg);
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
	srv->pending_store = wst;
	log_info("store %s: last id %lld, epoch %s, sync %s", cfg->db_path, (long long)last_id,
		 store_epoch(srv->reader), cfg->sync_full ? "full" : "normal");
	return 0;
}

static int
create_lws(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct lws_context_creation_info info;
	void *loops[1] = {srv->base};

	/* Either protocol may end up serving a WebSocket (http.c). */
	protocols[0].per_session_data_size =
		http_session_size() > ws_session_size() ? http_session_size() : ws_session_size();
	protocols[1].per_session_data_size = ws_session_size();

	memset(&info, 0, sizeof info);
	info.port = cfg->port;
	info.iface = strcmp(cfg->host, "0.0.0.0") ? cfg->host : NULL;
	info.protocols = protocols;
	info.pvo = &pvo;
	info.user = srv;
	info.foreign_loops = loops;
	info.pcontext = &srv->lws;
	info.options = LWS_SERVER_OPTION_LIBEVENT | LWS_SERVER_OPTION_VALIDATE_UTF8 |
		       LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	info.max_http_header_data = 4096;
	info.pt_serv_buf_size = 64 * 1024;
	/* Ping a quiet WebSocket after half the idle time, drop it after all. */
	srv->keepalive.secs_since_valid_ping =
		(uint16_t)(cfg->idle_timeout / 2 ? cfg->idle_timeout / 2 : 1);
	srv->keepalive.secs_since_valid_hangup = (uint16_t)cfg->idle_timeout;
	info.retry_and_idle_policy = &srv->keepalive;
	info.timeout_secs = (unsigned int)cfg->handshake_timeout;
	info.keepalive_timeout = cfg->handshake_timeout;
	if (cfg->tls_cert) {
		if (access(cfg->tls_cert, R_OK) || access(cfg->tls_key, R_OK)) {
			log_error("cannot read the TLS certificate %s or key %s", cfg->tls_cert,
				  cfg->tls_key);
			return ERR_INVAL;
		}
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = cfg->tls_cert;
		info.ssl_private_key_filepath = cfg->tls_key;
	}

	srv->lws = lws_create_context(&info);
	if (!srv->lws) {
		log_error("cannot listen on %s:%d (address in use or not available?)", cfg->host,
			  cfg->port);
		return ERR_SYS;
	}
	return 0;
}

int
server_run(const struct config *cfg)
{
	struct server srv = {.cfg = cfg};
	int rc, err;

	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(cfg->max_connections);
	lws_set_log_level(LLL_ERR | LLL_WARN | (cfg->verbose ? LLL_NOTICE : 0), lwslog_line);

	srv.base = event_base_new();
	if (!srv.base) {
		log_error("cannot create the event loop");
		return 1;
	}
	if ((rc = setup_auth(&srv)) || (rc = open_store(&srv)))
		goto out;
	if ((rc = create_lws(&srv)))
		goto out;
	srv.writer = writer_create(srv.pending_store, &cfg->retention, wake_loop, &srv, &err);
	srv.pending_store = NULL;
	if (!srv.writer) {
		log_error("cannot start the writer thread: %s", err_str(err));
		rc = err;
		goto out;
	}

	srv.sigint = evsignal_new(srv.base, SIGINT, on_signal, &srv);
	srv.sigterm = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
	srv.stop_timer = evtimer_new(srv.base, on_stop_timer, &srv);
	if (!srv.sigint || !srv.sigterm || !srv.stop_timer || evsignal_add(srv.sigint, NULL) ||
	    evsignal_add(srv.sigterm, NULL)) {
		log_error("cannot install signal handlers");
		rc = ERR_SYS;
		goto out;
	}

	if (retention_active(&cfg->retention)) {
		int64_t us = cfg->retention.interval_us;
		struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
		srv.retention_timer = event_new(srv.base, -1, EV_PERSIST, on_retention_timer, &srv);
		if (!srv.retention_timer || event_add(srv.retention_timer, &tv)) {
			log_error("cannot start the retention timer");
			rc = ERR_SYS;
			goto out;
		}
		writer_request_maintenance(srv.writer); /* a first pass at start */
	}

	log_info("sentinel-logd listening on %s://%s:%d (live feed: %s://%s:%d/ws/logs)",
		 cfg->tls_cert ? "https" : "http", cfg->host, cfg->port,
		 cfg->tls_cert ? "wss" : "ws", cfg->host, cfg->port);
	if (event_base_dispatch(srv.base) < 0) {
		log_error("the event loop failed");
		rc = ERR_SYS;
	}
out:
	/* The writer calls lws_cancel_service(): join it before lws goes. */
	if (srv.writer)
		writer_stop(srv.writer);
	if (srv.lws)
		lws_context_destroy(srv.lws);
	if (srv.writer)
		server__writer_done(&srv); /* free what is left unanswered */
	writer_destroy(srv.writer);
	if (srv.sigint)
		event_free(srv.sigint);
	if (srv.sigterm)
		event_free(srv.sigterm);
	if (srv.stop_timer)
		event_free(srv.stop_timer);
	if (srv.retention_timer)
		event_free(srv.retention_timer);
	store_close(srv.pending_store);
	store_close(srv.reader);
	hub_destroy(srv.hub);
	auth_destroy(srv.auth);
	free(srv.frames);
	event_base_free(srv.base);
	if (rc == 0)
		log_info("stopped cleanly");
	return rc ? 1 : 0;
}
