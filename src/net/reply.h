/*
 * HTTP responses. Every endpoint answers through this leaf: a response is
 * built whole (status line, headers, body) into the connection's reply and
 * written in one lws_write when the socket is writable. A connection has
 * at most one response in flight.
 */
#ifndef SENTINEL_REPLY_H
#define SENTINEL_REPLY_H

#include <stddef.h>

struct lws;

/* The response side of one HTTP connection; zero-initialised means idle. */
struct reply {
	unsigned char *buf; /* LWS_PRE + headers + body, ready to write */
	size_t len;
	int close_after; /* close the connection once the response is out */
	int status;      /* of the response queued last */
	/* Set by the router for the request being answered (reply_begin()
	 * clears them): they add headers to whatever response it gets. */
	const char *allow; /* for a 405 or OPTIONS answer: the path's methods */
	char origin[256];  /* a browser origin allowed to read the response */
	int preflight;     /* a CORS preflight: name what may be sent */
	int head_only;     /* HEAD: the headers of the answer, without its body */
	/* Set by an endpoint (reply_begin() clears it): the answer is that of
	 * an earlier request with the same Idempotency-Key. */
	int replayed;
};

/* A new request on the connection: forget the previous one's settings. */
void reply_begin(struct reply *r);

/*
 * Queue a response: status, content type and a body that is copied (or,
 * with r->head_only, only counted in Content-Length). Adds Allow with
 * r->allow, WWW-Authenticate to a 401, Idempotent-Replayed with
 * r->replayed and, with r->origin, the CORS headers that let that origin
 * read the response (for a preflight, what it may send).
 * Returns 0 or ERR_NOMEM.
 */
int reply_send(struct lws *wsi, struct reply *r, int status, const char *content_type,
	       const char *body, size_t len);

/*
 * The head of a response whose body is streamed (200, no Content-Length,
 * the connection closed at its end): content type, Cache-Control, a word
 * to proxies not to buffer it, the CORS headers as reply_send() adds them,
 * and "Transfer-Encoding: chunked" when chunked is set (the body is then
 * sent in chunks of the caller's). Written into buf (size bytes) for the
 * caller to send; *len_out gets its length. Returns 0, or ERR_TOOBIG when
 * it does not fit.
 */
int reply_stream_head(struct lws *wsi, const struct reply *r, const char *content_type, int chunked,
		      unsigned char *buf, size_t size, size_t *len_out);

/* Queue {"error": msg} (with "index" when index >= 0). Returns 0 or ERR_NOMEM. */
int reply_error(struct lws *wsi, struct reply *r, int status, const char *msg, long index);

/* Queue a plain-text error (Loki's shape): msg and a newline. Returns 0 or
 * ERR_NOMEM. */
int reply_text(struct lws *wsi, struct reply *r, int status, const char *msg);

/*
 * The socket is writable: write the queued response. Returns 0 to keep the
 * connection, -1 to close it (written with close_after, or failed).
 */
int reply_write(struct lws *wsi, struct reply *r);

/* Drop a queued response (the connection is closing). */
void reply_clear(struct reply *r);

/* The HTTP status for a project error code of an ingest or a read. */
int reply_status_for(int err);

#endif
