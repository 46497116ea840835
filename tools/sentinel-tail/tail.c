/*
 * The follow loop: one WebSocket client connection to /ws/logs (wsc.h), on
 * a libevent loop that libwebsockets shares as a foreign loop.
 *
 * Output and the state file. Events go into stdout's buffer as they arrive.
 * At the end of each burst (flush_ev is activated by the first message and
 * runs once lws has handled what the socket held), stdout is flushed, and
 * only then is the cursor's position taken as done: an id in the state file
 * has always been printed. The state file is rewritten at most every
 * STATE_INTERVAL_MS, and at exit. A run killed with SIGKILL may print again,
 * on its next start, what it printed in its last STATE_INTERVAL_MS.
 *
 * Reconnects. When a connection fails or ends, the next attempt waits
 * BACKOFF_FIRST_MS, then twice as long each time, up to BACKOFF_MAX_MS; an
 * established connection resets the wait. Each attempt asks for what the
 * cursor has not seen (cursor_request()). A refusal that retrying cannot
 * fix (HTTP 4xx: a bad parameter, no permission, a wrong path) ends the run.
 * A connection on which the server says nothing (not even its "hello") for
 * HELLO_TIMEOUT_S is dropped and made again.
 *
 * Everything runs on the loop thread. lws is destroyed from our own
 * libevent callbacks, never from inside an lws callback.
 */
#include "tail.h"

#include <errno.h>
#include <event2/event.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cursor.h"
#include "err.h"
#include "log.h"
#include "lwslog.h"
#include "output.h"
#include "wsc.h"

#define BACKOFF_FIRST_MS  1000
#define BACKOFF_MAX_MS    30000
#define STATE_INTERVAL_MS 100
/* After SIGINT/SIGTERM, how long the closing handshake may take. */
#define CLOSE_WAIT_MS 2000
/* Connect and handshake timeout, seconds. */
#define CONNECT_TIMEOUT_S 10
/*
 * With control=1 the server's first message, "hello", comes at once. A
 * connection still silent after this many seconds is dropped and made
 * again: pings alone would keep it open for ever.
 */
#define HELLO_TIMEOUT_S    10
#define STDOUT_BUFFER_SIZE 65536

struct tail {
	const struct tail_options *opt;
	struct event_base *base;
	struct lws_context *lws;
	struct wsc ws; /* the connection, WSC_CLOSED between attempts */
	struct cursor cur;
	struct event *sigint, *sigterm, *retry_timer, *flush_ev, *state_timer, *finish_ev;
	int backoff_ms;    /* the wait before the next attempt */
	unsigned attempts; /* since the last established connection */
	unsigned established : 1;
	unsigned heard : 1; /* a message came on this connection */
	unsigned flush_due : 1;
	unsigned stopping : 1;
	unsigned finished : 1;
	unsigned out_failed : 1;
	unsigned state_failed : 1;
	unsigned refused; /* an HTTP status retrying cannot fix, or 0 */
	int exit_code;
	struct state done; /* the position standard output holds */
	int done_valid;
	struct state saved; /* the position the state file holds */
	int saved_valid;
	int64_t saved_at_ms;
};

/* Milliseconds on the monotonic clock. */
static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A libevent timeout of ms milliseconds. */
static struct timeval
ms_tv(int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	return tv;
}

static void stop(struct tail *t, int exit_code);

/* Flush stdout, then take the cursor's position as printed. */
static int
flush_output(struct tail *t)
{
	if (t->out_failed)
		return -1;
	if (fflush(stdout) || ferror(stdout)) {
		/* A closed pipe (| head) ends the run quietly. */
		if (errno != EPIPE)
			log_error("cannot write to standard output: %s", strerror(errno));
		t->out_failed = 1;
		stop(t, 1);
		return -1;
	}
	if (t->cur.positioned) {
		t->done.last_id = t->cur.last_id;
		strcpy(t->done.epoch, t->cur.epoch);
		t->done_valid = 1;
	}
	return 0;
}

/*
 * Write the printed position to the state file, unless it was written less
 * than STATE_INTERVAL_MS ago (then state_timer does it) and !force.
 */
static int
save_state(struct tail *t, int force)
{
	char errmsg[ERRMSG_SIZE];
	int64_t now;

	if (!t->opt->state_path || !t->done_valid)
		return 0;
	if (t->saved_valid && t->saved.last_id == t->done.last_id &&
	    !strcmp(t->saved.epoch, t->done.epoch))
		return 0;
	now = now_ms();
	if (!force && now - t->saved_at_ms < STATE_INTERVAL_MS) {
		if (!evtimer_pending(t->state_timer, NULL)) {
			struct timeval tv = ms_tv(STATE_INTERVAL_MS - (now - t->saved_at_ms));
			evtimer_add(t->state_timer, &tv);
		}
		return 0;
	}
	t->saved_at_ms = now;
	if (state_save(t->opt->state_path, &t->done, errmsg)) {
		if (!t->state_failed)
			log_error("%s (will retry)", errmsg);
		t->state_failed = 1;
		if (!force) {
			struct timeval tv = ms_tv(STATE_INTERVAL_MS);
			evtimer_add(t->state_timer, &tv);
		}
		return -1;
	}
	if (t->state_failed)
		log_warn("the state file %s is written again", t->opt->state_path);
	t->state_failed = 0;
	t->saved = t->done;
	t->saved_valid = 1;
	return 0;
}

/* The burst is over: flush it, and save the state if it is due. */
static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct tail *t = arg;

	t->flush_due = 0;
	if (!flush_output(t))
		save_state(t, 0);
}

/* A state write held back by STATE_INTERVAL_MS is due now. */
static void
on_state_timer(evutil_socket_t fd, short what, void *arg)
{
	save_state(arg, 0);
}

/* Flush once the current burst of messages has been handled. */
static void
request_flush(struct tail *t)
{
	if (!t->flush_due) {
		t->flush_due = 1;
		event_active(t->flush_ev, EV_TIMEOUT, 0);
	}
}

/* One whole message from the server. */
static void
on_message(struct tail *t, const char *text, size_t len)
{
	json_t *msg;

	switch (cursor_message(&t->cur, text, len, &msg)) {
	case CURSOR_PRINT:
		/* A failed write shows in the flush, which stops the run. */
		if (t->opt->json)
			output_json(stdout, text, len);
		else
			output_human(stdout, msg);
		break;
	case CURSOR_SKIP:
		log_debug("skipping an event printed already");
		break;
	case CURSOR_CONTROL:
	case CURSOR_INVALID:
		break;
	}
	json_decref(msg);
	request_flush(t);
}

static void connect_now(struct tail *t);

/* The backoff wait is over: try again. */
static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	connect_now(arg);
}

/* The connection (or the attempt) is over: retry later, or finish. */
static void
connection_gone(struct tail *t)
{
	int was_established = t->established;

	t->established = 0;
	if (t->finished)
		return;
	request_flush(t);
	if (t->stopping) {
		event_active(t->finish_ev, EV_TIMEOUT, 0);
		return;
	}
	if (t->refused) {
		log_error("the server refused the subscription with HTTP %u (%s)", t->refused,
			  t->refused == 401   ? "it wants a token: add ?token=TOKEN to --url"
			  : t->refused == 403 ? "this token may not subscribe"
					      : "check --url, --since and --type");
		stop(t, 1);
		return;
	}
	struct timeval tv = ms_tv(t->backoff_ms);
	log_info("%s; reconnecting in %d s",
		 !was_established ? "not connected"
		 : t->heard       ? "disconnected"
				  : "disconnected before the server said hello",
		 t->backoff_ms / 1000);
	if (evtimer_add(t->retry_timer, &tv)) {
		log_error("cannot schedule the reconnect");
		stop(t, 1);
		return;
	}
	t->backoff_ms = t->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : t->backoff_ms * 2;
}

/* The connection is open: the server's hello is due at once. */
static void
on_established(struct wsc *c)
{
	struct tail *t = c->arg;

	log_info("connected");
	t->established = 1;
	t->heard = 0;
	wsc_set_timeout(c, HELLO_TIMEOUT_S);
	t->attempts = 0;
	t->backoff_ms = BACKOFF_FIRST_MS;
}

/* One whole message from the server. */
static int
on_ws_message(struct wsc *c, const char *text, size_t len)
{
	struct tail *t = c->arg;

	if (!t->heard) {
		t->heard = 1;
		wsc_set_timeout(c, 0);
	}
	on_message(t, text, len);
	return 0;
}

/*
 * The connection or the attempt is over. A message too large to hold ends
 * the run: skipping an event would break "every event once".
 */
static void
on_closed(struct wsc *c, const char *why)
{
	struct tail *t = c->arg;

	if (!t->established) {
		log_info("cannot connect: %s", why);
		/* Timeouts and rate limits pass; other 4xx will not. */
		if (c->http_status >= 400 && c->http_status < 500 && c->http_status != 408 &&
		    c->http_status != 429)
			t->refused = c->http_status;
	}
	if (c->too_large)
		stop(t, 1);
	connection_gone(t);
}

static const struct wsc_ops ws_ops = {
	.established = on_established,
	.message = on_ws_message,
	.writeable = NULL,
	.closed = on_closed,
};

/* Copy a request path for the log, with the value of token= shown as "***". */
static void
hide_token(const char *path, char *out, size_t size)
{
	const char *p = path, *query = strchr(path, '?');
	size_t n = 0;

	while (*p && n + 1 < size) {
		if (query && p > query && (p[-1] == '?' || p[-1] == '&') &&
		    !strncmp(p, "token=", 6) && n + 10 < size) {
			memcpy(out + n, "token=***", 9);
			n += 9;
			p += 6 + strcspn(p + 6, "&");
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
}

/* Start a connection that asks for what the cursor has not seen. */
static void
connect_now(struct tail *t)
{
	const struct url *u = &t->opt->url;
	char path[URL_PATH_MAX + 256];

	if (cursor_request(&t->cur, u, path, sizeof path)) {
		log_error("the request path would be longer than %zu bytes", sizeof path);
		stop(t, 1);
		return;
	}
	t->attempts++;
	if (t->opt->verbose) {
		char shown[sizeof path], host[URL_HOST_PORT_SIZE];
		hide_token(path, shown, sizeof shown);
		url_host_header(u, host, sizeof host);
		log_info("connecting to %s://%s%s (attempt %u)", u->tls ? "wss" : "ws", host, shown,
			 t->attempts);
	}
	/* A failure may end the attempt in here, through on_closed(). */
	wsc_connect(&t->ws, t->lws, u, NULL, path, WSC_KEEPALIVE);
}

/* Tear down lws and leave the loop, with output flushed and state saved. */
static void
on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct tail *t = arg;

	if (t->finished)
		return;
	t->finished = 1;
	if (!flush_output(t) && save_state(t, 1))
		t->exit_code = 1;
	evtimer_del(t->retry_timer);
	evtimer_del(t->state_timer);
	if (t->lws) {
		lws_context_destroy(t->lws);
		t->lws = NULL;
	}
	event_base_loopexit(t->base, NULL);
}

/* Stop following: close the connection politely, then finish. */
static void
stop(struct tail *t, int exit_code)
{
	if (exit_code)
		t->exit_code = exit_code;
	if (t->stopping)
		return;
	t->stopping = 1;
	evtimer_del(t->retry_timer);
	if (t->ws.state == WSC_OPEN) {
		/* wsc sends the close frame; finish_ev is the deadline. */
		struct timeval tv = ms_tv(CLOSE_WAIT_MS);
		wsc_close(&t->ws);
		event_add(t->finish_ev, &tv);
	} else {
		event_active(t->finish_ev, EV_TIMEOUT, 0);
	}
}

/* SIGINT or SIGTERM: stop, and at a second one stop at once. */
static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct tail *t = arg;

	log_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	if (t->stopping)
		event_active(t->finish_ev, EV_TIMEOUT, 0); /* a second signal: now */
	else
		stop(t, 0);
}

/* Create the loop's events and the lws context on it. */
static int
setup(struct tail *t)
{
	t->base = event_base_new();
	if (!t->base)
		return ERR_SYS;
	t->sigint = evsignal_new(t->base, SIGINT, on_signal, t);
	t->sigterm = evsignal_new(t->base, SIGTERM, on_signal, t);
	t->retry_timer = evtimer_new(t->base, on_retry, t);
	t->flush_ev = event_new(t->base, -1, 0, on_flush, t);
	t->state_timer = evtimer_new(t->base, on_state_timer, t);
	t->finish_ev = evtimer_new(t->base, on_finish, t);
	if (!t->sigint || !t->sigterm || !t->retry_timer || !t->flush_ev || !t->state_timer ||
	    !t->finish_ev || evsignal_add(t->sigint, NULL) || evsignal_add(t->sigterm, NULL))
		return ERR_SYS;
	t->lws = wsc_context_new(t->base, CONNECT_TIMEOUT_S, t->opt->url.tls);
	return t->lws ? 0 : ERR_SYS;
}

int
tail_run(const struct tail_options *opt)
{
	struct tail t;
	struct timeval now = {0, 0};

	memset(&t, 0, sizeof t);
	t.opt = opt;
	t.ws.ops = &ws_ops;
	t.ws.arg = &t;
	t.backoff_ms = BACKOFF_FIRST_MS;
	cursor_init(&t.cur, opt->resume, opt->since, opt->types);
	if (opt->resume) {
		t.done = t.saved = *opt->resume;
		t.done_valid = t.saved_valid = 1;
	}

	/* Each burst is flushed whole (on_flush), also on a terminal. */
	setvbuf(stdout, NULL, _IOFBF, STDOUT_BUFFER_SIZE);
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(LLL_ERR | (opt->verbose ? LLL_WARN : 0) |
				  (opt->verbose > 1 ? LLL_NOTICE : 0),
			  lwslog_line);
	if (setup(&t)) {
		log_error("cannot set up the event loop and libwebsockets");
		t.exit_code = 1;
		goto out;
	}
	if (evtimer_add(t.retry_timer, &now) || event_base_dispatch(t.base) < 0) {
		log_error("the event loop failed");
		t.exit_code = 1;
	}
out:
	if (t.lws)
		lws_context_destroy(t.lws);
	if (t.finish_ev)
		event_free(t.finish_ev);
	if (t.state_timer)
		event_free(t.state_timer);
	if (t.flush_ev)
		event_free(t.flush_ev);
	if (t.retry_timer)
		event_free(t.retry_timer);
	if (t.sigterm)
		event_free(t.sigterm);
	if (t.sigint)
		event_free(t.sigint);
	if (t.base)
		event_base_free(t.base);
	wsc_release(&t.ws);
	return t.exit_code;
}
