/*
 * Server-Sent Events and NDJSON framing of a cursor's output (see
 * http_stream.h). As on /ws/logs, a writable callback runs one turn of the
 * cursor, up to a budget, and lays what it produces back to back in the
 * endpoint's buffer, which leaves in one write: the response head (on the
 * first write only), one chunk's size line, the events, the chunk's end.
 * lws keeps what the kernel did not take and calls back only once it has
 * drained, so a slow reader costs at most one write's worth of memory and
 * falls back to the journal, like a slow WebSocket subscriber: it is never
 * disconnected for being slow and loses nothing.
 *
 * The buffer is laid out as LWS_PRE, HEAD_ROOM, then the payload: what
 * goes in front of the payload (the head, the size line) is written right
 * before it once the payload's length is known.
 */
#include "http_stream.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "reply.h"
#include "request.h"
#include "wire.h"

/* Per writable callback: at most this many events or bytes. */
#define SEND_BUDGET_MSGS  256
#define SEND_BUDGET_BYTES (512 * 1024)
/* Room for the response head and a chunk's size line before the payload. */
#define HEAD_MAX  1024
#define HEAD_ROOM (HEAD_MAX + 24)
/* After the payload: the end of its chunk and the last chunk. */
#define TAIL_ROOM 8
/* An EventSource reconnects this long after the connection drops (ms). */
#define SSE_RETRY_MS 1000

struct http_stream {
	cursor_set *set;
	lws_usec_t tick_us;
	unsigned char *buf; /* LWS_PRE + HEAD_ROOM + payload + TAIL_ROOM */
	size_t cap;
	size_t len; /* payload bytes queued */
};

struct http_follower {
	http_stream *hs;
	struct lws *wsi;
	cursor *cur;
	int sse;             /* Server-Sent Events; else NDJSON */
	int chunked;         /* an HTTP/1.1 client: the body goes in chunks */
	unsigned char *head; /* the response head until it is written */
	size_t head_len;
	int quiet;         /* nothing was written since the timer last fired */
	int keepalive_due; /* the timer found the connection quiet */
};

http_stream *
http_stream_create(cursor_set *set, int tick_ms)
{
	http_stream *hs = calloc(1, sizeof *hs);

	if (!hs)
		return NULL;
	hs->set = set;
	hs->tick_us = (lws_usec_t)(tick_ms > 0 ? tick_ms : 1000) * 1000;
	return hs;
}

void
http_stream_destroy(http_stream *hs)
{
	if (!hs)
		return;
	free(hs->buf);
	free(hs);
}

/* The payload queued so far. */
static unsigned char *
payload(http_stream *hs)
{
	return hs->buf + LWS_PRE + HEAD_ROOM;
}

/* Make room for need more payload bytes. */
static int
reserve(http_stream *hs, size_t need)
{
	size_t want = LWS_PRE + HEAD_ROOM + hs->len + need + TAIL_ROOM;

	if (want <= hs->cap)
		return 0;
	size_t cap = hs->cap ? hs->cap : 64 * 1024;
	while (cap < want)
		cap *= 2;
	unsigned char *p = realloc(hs->buf, cap);
	if (!p)
		return -1;
	hs->buf = p;
	hs->cap = cap;
	return 0;
}

static int
put(http_stream *hs, const void *data, size_t len)
{
	if (reserve(hs, len))
		return -1;
	memcpy(payload(hs) + hs->len, data, len);
	hs->len += len;
	return 0;
}

static int
put_str(http_stream *hs, const char *s)
{
	return put(hs, s, strlen(s));
}

/* The cursor's sink: one event, as an SSE event or an NDJSON line. */
static long
sink_event(void *arg, const struct cursor_event *ev)
{
	struct http_follower *f = arg;
	http_stream *hs = f->hs;
	char id[40];
	size_t len;

	if (f->sse) {
		snprintf(id, sizeof id, "id: %lld\ndata: ", (long long)ev->id);
		if (put_str(hs, id))
			return -1;
	}
	if (reserve(hs, ev->len + WIRE_OVERHEAD + 2))
		return -1;
	if (ev->wire) {
		memcpy(payload(hs) + hs->len, ev->json, ev->len);
		len = ev->len;
	} else {
		len = wire_write(ev->id, ev->json, ev->len, (char *)payload(hs) + hs->len);
	}
	hs->len += len;
	if (put_str(hs, f->sse ? "\n\n" : "\n"))
		return -1;
	return (long)len;
}

/* The cursor's sink: a control message, as a named SSE event or a line. */
static int
sink_control(void *arg, const char *name, const char *json, size_t len)
{
	struct http_follower *f = arg;
	http_stream *hs = f->hs;

	if (f->sse && (put_str(hs, "event: ") || put_str(hs, name) || put_str(hs, "\ndata: ")))
		return -1;
	return put(hs, json, len) || put_str(hs, f->sse ? "\n\n" : "\n");
}

/*
 * Send the queued payload in one write, with the response head in front
 * of it the first time, framed as a chunk for an HTTP/1.1 client; last
 * ends the body. Returns 0, or -1 when the connection failed.
 */
static int
flush(struct http_follower *f, int last)
{
	http_stream *hs = f->hs;
	char size_line[24];
	size_t line_len = 0;

	if (!hs->buf && reserve(hs, 0))
		return -1;
	unsigned char *start = payload(hs), *end = start + hs->len;
	if (f->chunked && hs->len) {
		line_len = (size_t)snprintf(size_line, sizeof size_line, "%zx\r\n", hs->len);
		memcpy(end, "\r\n", 2);
		end += 2;
	}
	if (f->chunked && last) {
		memcpy(end, "0\r\n\r\n", 5);
		end += 5;
	}
	start -= line_len;
	memcpy(start, size_line, line_len);
	if (f->head) {
		start -= f->head_len;
		memcpy(start, f->head, f->head_len);
		free(f->head);
		f->head = NULL;
	}
	hs->len = 0;
	if (start == end)
		return 0;
	f->quiet = 0;
	size_t n = (size_t)(end - start);
	return lws_write(f->wsi, start, n, LWS_WRITE_HTTP) < (int)n ? -1 : 0;
}

int
http_stream_writeable(struct http_follower *f)
{
	http_stream *hs = f->hs;
	const struct cursor_sink sink = {sink_event, sink_control, f};
	char retry[32];
	int rc, last;

	hs->len = 0;
	/* lws gives a request the handshake timeout to be answered in; this
	 * answer lasts as long as the client stays. */
	if (f->head)
		lws_set_timeout(f->wsi, NO_PENDING_TIMEOUT, 0);
	if (f->head && f->sse) {
		snprintf(retry, sizeof retry, "retry: %d\n\n", SSE_RETRY_MS);
		if (put_str(hs, retry))
			return -1;
	}
	rc = cursor_fill(f->cur, &sink, SEND_BUDGET_MSGS, SEND_BUDGET_BYTES);
	/* Stopping: everything committed is queued, end the body. */
	last = rc == 0 && cursor_set_stopping(hs->set);
	if (rc >= 0 && f->keepalive_due && !hs->len &&
	    put_str(hs, f->sse ? ": keepalive\n\n" : "\n"))
		rc = -1;
	f->keepalive_due = 0;
	/* A failure cannot be told in the body: what was queued goes, then the
	 * connection closes without the last chunk, which clients see. */
	if (flush(f, last) || rc < 0 || last)
		return -1;
	if (rc > 0)
		lws_callback_on_writable(f->wsi);
	return 0;
}

void
http_stream_timer(struct http_follower *f)
{
	if (f->quiet) {
		f->keepalive_due = 1;
		lws_callback_on_writable(f->wsi);
	}
	f->quiet = 1;
	lws_set_timer_usecs(f->wsi, f->hs->tick_us);
}

/* The cursor has something new for a waiting follower. */
static void
wake(void *arg)
{
	lws_callback_on_writable(arg);
}

/* SSE, or NDJSON? format= decides, else the Accept header. */
static int
wants_sse(struct lws *wsi, const struct query *q)
{
	char accept[256];

	if (q->format != QUERY_FORMAT_ANY)
		return q->format == QUERY_FORMAT_SSE;
	if (lws_hdr_copy(wsi, accept, sizeof accept, WSI_TOKEN_HTTP_ACCEPT) <= 0)
		return 0;
	return strstr(accept, "text/event-stream") != NULL;
}

/*
 * A reconnecting EventSource's Last-Event-ID: resume exactly after it.
 * Returns 0 (used or absent), or ERR_INVAL with the reason in errmsg.
 */
static int
take_last_event_id(struct lws *wsi, struct query *q, char *errmsg)
{
	char value[32], *end;
	int len = lws_hdr_custom_length(wsi, "last-event-id:", 14);

	if (len <= 0)
		return 0;
	if (len >= (int)sizeof value ||
	    lws_hdr_custom_copy(wsi, value, sizeof value, "last-event-id:", 14) < 0)
		return err_set(errmsg, ERR_INVAL, "Last-Event-ID must be an event id");
	errno = 0;
	long long id = strtoll(value, &end, 10);
	if (errno || end == value || *end || value[0] < '0' || value[0] > '9')
		return err_set(errmsg, ERR_INVAL, "Last-Event-ID must be an event id");
	q->has_after_id = 1;
	q->after_id = id;
	q->has_since = 0;
	return 0;
}

/* Does the client speak HTTP/1.1 (chunks), or 1.0 (a body ended by close)? */
static int
http11(struct lws *wsi)
{
	char version[16];

	return lws_hdr_copy(wsi, version, sizeof version, WSI_TOKEN_HTTP) > 0 &&
	       !strcmp(version, "HTTP/1.1");
}

int
http_stream_begin(http_stream *hs, struct lws *wsi, struct reply *r, struct http_follower **out)
{
	char errmsg[ERRMSG_SIZE];
	unsigned char head[HEAD_MAX];
	struct http_follower *f = NULL;
	struct query q;
	int rc;

	*out = NULL;
	if (request_parse_query(wsi, &q, query_set_stream, errmsg) ||
	    take_last_event_id(wsi, &q, errmsg))
		return reply_error(wsi, r, HTTP_STATUS_BAD_REQUEST, errmsg, -1) ? -1 : 0;
	if (!(f = calloc(1, sizeof *f)))
		goto nomem;
	f->hs = hs;
	f->wsi = wsi;
	f->sse = wants_sse(wsi, &q);
	f->chunked = http11(wsi);
	/* Named events are invisible to EventSource's onmessage: always on. */
	if (f->sse)
		q.control = 1;
	if (!(f->cur = cursor_new(hs->set, &q, wake, wsi)))
		goto nomem;
	if ((rc = cursor_start(f->cur))) {
		http_stream_release(f);
		return reply_error(wsi, r, HTTP_STATUS_SERVICE_UNAVAILABLE,
				   rc == ERR_CLOSED ? "the server is stopping"
						    : "the store cannot be read",
				   -1)
			       ? -1
			       : 0;
	}
	if (reply_stream_head(wsi, r, f->sse ? "text/event-stream" : "application/x-ndjson",
			      f->chunked, head, sizeof head, &f->head_len) ||
	    !(f->head = malloc(f->head_len)))
		goto nomem;
	memcpy(f->head, head, f->head_len);
	lws_set_timer_usecs(wsi, hs->tick_us);
	lws_callback_on_writable(wsi);
	*out = f;
	return 0;
nomem:
	http_stream_release(f);
	return reply_error(wsi, r, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory", -1) ? -1 : 0;
}

void
http_stream_release(struct http_follower *f)
{
	if (!f)
		return;
	cursor_free(f->cur);
	free(f->head);
	free(f);
}
