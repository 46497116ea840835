/*
 * WebSocket client connections for the scenarios: libwebsockets clients on
 * a libevent loop that lws shares as a foreign loop, as the server does.
 *
 * A struct wsc belongs to its scenario, which fills ops and arg and keeps it
 * alive until the lws context it was connected with is destroyed. Every
 * callback runs on that context's loop thread. A connection ends exactly
 * once through ops->closed, whether it failed to connect, was closed by
 * either side, or went with its context.
 */
#ifndef SENTINEL_BENCH_WSC_H
#define SENTINEL_BENCH_WSC_H

#include <stddef.h>

#include "url.h"

struct event_base;
struct lws;
struct lws_context;
struct wsc;

struct wsc_ops {
	/* The handshake succeeded. */
	void (*established)(struct wsc *c);
	/* One whole text message. Return non-zero to close the connection. */
	int (*message)(struct wsc *c, const char *data, size_t len);
	/* The connection may send one message (wsc_send). Non-zero closes it. */
	int (*writeable)(struct wsc *c);
	/* The connection is over (why: a short reason). Do not reuse c in here. */
	void (*closed)(struct wsc *c, const char *why);
};

enum wsc_state { WSC_IDLE, WSC_CONNECTING, WSC_OPEN, WSC_CLOSED };

struct wsc {
	const struct wsc_ops *ops;
	void *arg;
	enum wsc_state state;
	struct lws *wsi; /* NULL once the connection is gone */
	unsigned closing : 1;
	unsigned msg_dropped : 1;
	char *msg; /* a message arriving in fragments */
	size_t msg_len, msg_cap;
};

/*
 * Create an lws client context on base, with a connect and handshake
 * timeout of timeout_s seconds. Returns NULL (after logging why) on failure.
 * Destroy it with lws_context_destroy() from a libevent callback or after
 * the loop has returned, never from inside an lws callback.
 */
struct lws_context *wsc_context_new(struct event_base *base, int timeout_s);

/*
 * Connect c to u's host with request path (path and query). The outcome
 * arrives through c->ops (established or closed), possibly before this
 * returns.
 */
void wsc_connect(struct wsc *c, struct lws_context *ctx, const struct url *u, const char *path);

/*
 * Send payload (len bytes, with LWS_PRE bytes of headroom in front of it,
 * which lws writes the frame header into; lws also masks the payload in
 * place) as one text message. Only from ops->writeable. Returns 0, or -1
 * when the connection failed.
 */
int wsc_send(struct wsc *c, unsigned char *payload, size_t len);

/* Ask for ops->writeable. */
void wsc_want_write(struct wsc *c);

/* Close politely (at the next writeable callback). */
void wsc_close(struct wsc *c);

/* Free what c holds; c must be closed (or never connected). */
void wsc_release(struct wsc *c);

#endif
