/*
 * GET /api/stream: the feed over plain HTTP, for clients that do not speak
 * WebSocket. The same cursor as /ws/logs (cursor.h): the same parameters
 * (after_id, since, type, control, epoch, token), replay then live, no gap
 * and no duplicate; only the framing differs.
 *
 * - Server-Sent Events (Accept: text/event-stream, or format=sse), which a
 *   browser's EventSource follows: each event is "id: N" and "data: JSON";
 *   the control messages are named events ("event: gap" ...), always sent
 *   (EventSource's onmessage does not see named events). A client that
 *   reconnects sends Last-Event-ID, and the stream resumes exactly after
 *   it (it replaces after_id and since).
 * - NDJSON (the default, or Accept: application/x-ndjson, or
 *   format=ndjson): one event a line; the control messages as lines too
 *   with control=1, as on /ws/logs.
 *
 * The response has no length and ends only when the server stops (after
 * everything committed was sent) or the client leaves; it is chunked for
 * HTTP/1.1 clients. While nothing else is sent, a keepalive goes out at
 * least every half --idle-timeout (an SSE comment, or an empty NDJSON
 * line), so that proxies keep the connection open. Loop thread only.
 */
#ifndef SENTINEL_HTTP_STREAM_H
#define SENTINEL_HTTP_STREAM_H

#include "cursor.h"

struct lws;
struct reply;
typedef struct http_stream http_stream;
struct http_follower; /* one response in progress */

/*
 * The endpoint, its followers' cursors in set (which outlives it). The
 * keepalive timer ticks every tick_ms milliseconds; a follower that sent
 * nothing for a whole tick then sends a keepalive. NULL: out of memory.
 */
http_stream *http_stream_create(cursor_set *set, int tick_ms);

/* Free the endpoint; every follower must have been released. */
void http_stream_destroy(http_stream *hs);

/*
 * A GET /api/stream the gate admitted (headers only). On success *out is
 * the stream, which starts with the next writable callback; when the
 * request is refused (400 for a parameter, 503 while stopping or when the
 * store cannot be read) the answer is queued on r and *out is NULL.
 * Returns 0, or -1 to close the connection now.
 */
int http_stream_begin(http_stream *hs, struct lws *wsi, struct reply *r,
		      struct http_follower **out);

/* The socket can take more: send what the cursor has for it. Returns 0,
 * or -1 to close the connection (the stream ended or failed). */
int http_stream_writeable(struct http_follower *f);

/* The connection's timer fired (LWS_CALLBACK_TIMER): keepalive if due. */
void http_stream_timer(struct http_follower *f);

/* The connection closed: forget the stream (NULL is allowed). */
void http_stream_release(struct http_follower *f);

#endif
