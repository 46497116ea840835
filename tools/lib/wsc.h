/*
 * WebSocket client connections: libwebsockets clients on a libevent loop
 * that lws shares as a foreign loop, as the server does.
 *
 * A struct wsc belongs to its owner, which fills ops and arg and keeps it
 * alive until the lws context it was connected with is destroyed. Every
 * callback runs on that context's loop thread. A connection ends exactly
 * once through ops->closed, whether it failed to connect, was closed by
 * either side, or went with its context; the wsc may then connect again.
 *
 * Messages are handed over whole: fragments are gathered up to
 * WSC_MSG_MAX bytes, and a larger message closes the connection (skipping
 * it could lose an event). Binary messages are ignored with a warning: the
 * server sends text only.
 */
#ifndef SENTINEL_WSC_H
#define SENTINEL_WSC_H

#include <stddef.h>

#include "url.h"

struct event_base;
struct lws;
struct lws_context;
struct wsc;

/* The largest message gathered. */
#define WSC_MSG_MAX ((size_t)64 << 20)

/* Flags of wsc_connect(). */
#define WSC_ORIGIN    1u /* send an Origin naming the server, as its own page would */
#define WSC_KEEPALIVE 2u /* ping an idle connection; drop one that stays silent */

struct wsc_ops {
	/* The handshake succeeded. */
	void (*established)(struct wsc *c);
	/* One whole text message (not NUL-terminated). Non-zero closes the connection. */
	int (*message)(struct wsc *c, const char *data, size_t len);
	/* The connection may send one message (wsc_send). Non-zero closes it. NULL: never sends. */
	int (*writeable)(struct wsc *c);
	/* The connection is over (why: a short reason). */
	void (*closed)(struct wsc *c, const char *why);
};

enum wsc_state { WSC_IDLE, WSC_CONNECTING, WSC_OPEN, WSC_CLOSED };

struct wsc {
	const struct wsc_ops *ops;
	void *arg;
	enum wsc_state state;
	struct lws *wsi;        /* NULL once the connection is gone */
	unsigned http_status;   /* the HTTP status of a refused handshake, else 0 */
	unsigned too_large : 1; /* it was closed for a message over WSC_MSG_MAX */
	unsigned closing : 1;
	unsigned msg_binary : 1;
	char *msg; /* a message arriving in fragments */
	size_t msg_len, msg_cap;
};

/*
 * Create an lws client context on base, with a connect and handshake
 * timeout of timeout_s seconds, ready for wss:// if tls. Returns NULL
 * (after logging why) on failure. Destroy it with lws_context_destroy()
 * from a libevent callback or after the loop has returned, never from
 * inside an lws callback.
 */
struct lws_context *wsc_context_new(struct event_base *base, int timeout_s, int tls);

/*
 * Connect c to u's host and port (or to address, a numeric address of that
 * host, when not NULL) with request path (path and query), sending u's
 * Host header, with flags (WSC_*). The outcome arrives through c->ops
 * (established or closed), possibly before this returns.
 */
void wsc_connect(struct wsc *c, struct lws_context *ctx, const struct url *u, const char *address,
		 const char *path, unsigned flags);

/*
 * Send payload (len bytes, with LWS_PRE bytes of headroom in front of it,
 * which lws writes the frame header into; lws also masks the payload in
 * place) as one text message. Only from ops->writeable. Returns 0, or -1
 * when the connection failed.
 */
int wsc_send(struct wsc *c, unsigned char *payload, size_t len);

/* Ask for ops->writeable. */
void wsc_want_write(struct wsc *c);

/*
 * Drop the open connection in seconds, unless a later call cancels that
 * with 0 (say, once the server has said what it must say first).
 */
void wsc_set_timeout(struct wsc *c, int seconds);

/* Close politely (at the next writeable callback). */
void wsc_close(struct wsc *c);

/* Free what c holds; c must be closed (or never connected). */
void wsc_release(struct wsc *c);

#endif
