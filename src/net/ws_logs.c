/*
 * WebSocket framing of a cursor's output. A WRITEABLE callback runs one
 * turn of the subscriber's cursor, up to a per-callback budget, so one fast
 * reader cannot starve the others and a long replay is interleaved with
 * everything else on the loop; it then asks for another callback. A
 * subscriber whose cursor caught up waits until the cursor set wakes it.
 *
 * Frames are laid out back to back in the endpoint's frame buffer (a header
 * of our own in front of each event's JSON, from the hub's shared copy or
 * written from the stored body) and leave in one write per callback: one
 * send() for up to SEND_BUDGET_MSGS events instead of a send() and a
 * poll() for each. lws keeps what the kernel did not take and calls back
 * only when it has drained, so a subscriber never has more than one batch
 * buffered. Frames are unmasked text frames (server to client) and the
 * endpoint negotiates no extension, so the bytes are exactly what lws
 * would write.
 */
#include "ws_logs.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "logql.h"
#include "loki.h"
#include "query.h"
#include "request.h"
#include "wire.h"

/* Per WRITEABLE callback: at most this many messages or bytes. */
#define SEND_BUDGET_MSGS  256
#define SEND_BUDGET_BYTES (512 * 1024)

struct ws_logs {
	cursor_set *set;
	unsigned char *frames; /* frames for one subscriber's write */
	size_t frames_len, frames_cap;
};

struct subscriber {
	struct lws *wsi;
	ws_logs *logs;
	struct query q;
	cursor *cur; /* made when the WebSocket opens */
	logql *tail; /* /loki/api/v1/tail: its query */
};

ws_logs *
ws_logs_create(cursor_set *set)
{
	ws_logs *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	l->set = set;
	return l;
}

void
ws_logs_destroy(ws_logs *l)
{
	if (!l)
		return;
	free(l->frames);
	free(l);
}

struct subscriber *
ws_logs_prepare(ws_logs *l, struct lws *wsi, int *err, char *errmsg)
{
	struct subscriber *sub = calloc(1, sizeof *sub);

	if (!sub) {
		*err = err_set(errmsg, ERR_NOMEM, "out of memory");
		return NULL;
	}
	sub->wsi = wsi;
	sub->logs = l;
	if (request_parse_query(wsi, &sub->q, query_set_subscribe, errmsg)) {
		free(sub);
		*err = ERR_INVAL;
		return NULL;
	}
	return sub;
}

struct tail_params {
	struct subscriber *sub;
	char *errmsg;
};

static int
take_tail_param(const char *name, const char *value, void *arg)
{
	struct tail_params *tp = arg;
	struct subscriber *sub = tp->sub;

	if (!strcmp(name, "query")) {
		logql_free(sub->tail);
		if (!(sub->tail = logql_parse(value, tp->errmsg)))
			return ERR_INVAL;
		if (logql_kind(sub->tail) != LOGQL_LOG)
			return err_set(tp->errmsg, ERR_INVAL,
				       "tail takes a log query, not a metric");
	} else if (!strcmp(name, "start")) {
		if (loki_parse_time(value, &sub->q.since_us))
			return err_set(tp->errmsg, ERR_INVAL, "invalid parameter 'start': %.64s",
				       value);
		sub->q.has_since = 1;
	}
	/* limit and delay_for change nothing here: every entry is sent. */
	return 0;
}

struct subscriber *
ws_logs_prepare_tail(ws_logs *l, struct lws *wsi, int *err, char *errmsg)
{
	struct subscriber *sub = calloc(1, sizeof *sub);
	struct tail_params tp = {sub, errmsg};

	if (!sub) {
		*err = err_set(errmsg, ERR_NOMEM, "out of memory");
		return NULL;
	}
	sub->wsi = wsi;
	sub->logs = l;
	query_init(&sub->q);
	if (request_query_each(wsi, take_tail_param, &tp) ||
	    (!sub->tail && err_set(errmsg, ERR_INVAL, "query parameter is required"))) {
		logql_free(sub->tail);
		free(sub);
		*err = ERR_INVAL;
		return NULL;
	}
	/* A type the selector pins is filtered before the query runs. */
	const char *type = logql_type(sub->tail);
	if (type) {
		strcpy(sub->q.types[0], type);
		sub->q.type_count = 1;
	}
	return sub;
}

/* The cursor has something new for a waiting subscriber. */
static void
wake(void *arg)
{
	lws_callback_on_writable(arg);
}

int
ws_logs_start(struct subscriber *sub)
{
	sub->cur = cursor_new(sub->logs->set, &sub->q, wake, sub->wsi);
	if (!sub->cur || cursor_start(sub->cur))
		return -1;
	lws_callback_on_writable(sub->wsi);
	return 0;
}

void
ws_logs_close(struct subscriber *sub)
{
	cursor_free(sub->cur);
	logql_free(sub->tail);
	free(sub);
}

/* Make room for need more bytes in the frame buffer. */
static int
frames_reserve(ws_logs *l, size_t need)
{
	if (l->frames_len + need <= l->frames_cap)
		return 0;
	size_t cap = l->frames_cap ? l->frames_cap : 64 * 1024;
	while (cap < l->frames_len + need)
		cap *= 2;
	unsigned char *p = realloc(l->frames, cap);
	if (!p)
		return -1;
	l->frames = p;
	l->frames_cap = cap;
	return 0;
}

/* Write a text frame header for len payload bytes; returns its size. */
static size_t
frame_header(unsigned char *p, size_t len)
{
	p[0] = 0x81; /* FIN, text */
	if (len < 126) {
		p[1] = (unsigned char)len;
		return 2;
	}
	if (len < 65536) {
		p[1] = 126;
		p[2] = (unsigned char)(len >> 8);
		p[3] = (unsigned char)len;
		return 4;
	}
	p[1] = 127;
	for (int i = 0; i < 8; i++)
		p[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

/* Append one message to the frame buffer. */
static int
queue_msg(ws_logs *l, const void *payload, size_t len)
{
	if (frames_reserve(l, len + 10))
		return -1;
	l->frames_len += frame_header(l->frames + l->frames_len, len);
	memcpy(l->frames + l->frames_len, payload, len);
	l->frames_len += len;
	return 0;
}

/* Append the wire form of a stored event to the frame buffer; returns its
 * length, or -1. */
static long
queue_stored(ws_logs *l, const struct cursor_event *ev)
{
	if (frames_reserve(l, ev->len + WIRE_OVERHEAD + 10))
		return -1;
	/* Write the event after the largest header, then put the real header
	 * right in front of it. */
	unsigned char *at = l->frames + l->frames_len;
	size_t len = wire_write(ev->id, ev->json, ev->len, (char *)at + 10);
	unsigned char head[10];
	size_t hlen = frame_header(head, len);
	memmove(at + hlen, at + 10, len);
	memcpy(at, head, hlen);
	l->frames_len += hlen + len;
	return (long)len;
}

/*
 * A tail subscriber's message for one event (its JSON, with or without
 * "id"): queued when the query keeps it. Returns its size, 0 when the
 * query drops it, -1 on failure.
 */
static long
queue_tail(struct subscriber *sub, const struct cursor_event *ev)
{
	struct logql_labels labels = {0};
	struct buf b = {0};
	char *line = NULL;
	size_t line_len = 0;
	long rc = logql_eval(sub->tail, ev->json, ev->len, &labels, &line, &line_len);

	if (rc == 1) {
		rc = buf_printf(&b, "{\"streams\":[{\"stream\":") ||
				     logql_labels_json(&labels, &b) ||
				     buf_printf(&b, ",\"values\":[[\"%lld000\",",
						(long long)ev->ts_us) ||
				     logql_json_string(&b, line, line_len) ||
				     buf_printf(&b, "]]}],\"dropped_entries\":null}") ||
				     queue_msg(sub->logs, b.data, b.len)
			     ? -1
			     : (long)b.len;
	}
	free(line);
	buf_free(&b);
	logql_labels_free(&labels);
	return rc < 0 ? -1 : rc;
}

/* The cursor's sink: an event as a frame. */
static long
sink_event(void *arg, const struct cursor_event *ev)
{
	struct subscriber *sub = arg;

	if (sub->tail)
		return queue_tail(sub, ev);
	if (!ev->wire)
		return queue_stored(sub->logs, ev);
	return queue_msg(sub->logs, ev->json, ev->len) ? -1 : (long)ev->len;
}

/* The cursor's sink: a control message as a frame. */
static int
sink_control(void *arg, const char *name, const char *json, size_t len)
{
	struct subscriber *sub = arg;

	(void)name;
	return queue_msg(sub->logs, json, len);
}

/* Send the queued frames in one write. */
static int
flush_frames(struct subscriber *sub)
{
	ws_logs *l = sub->logs;
	size_t len = l->frames_len;

	if (!len)
		return 0;
	l->frames_len = 0;
	return lws_write(sub->wsi, l->frames, len, LWS_WRITE_RAW) < (int)len ? -1 : 0;
}

int
ws_logs_writeable(struct subscriber *sub)
{
	const struct cursor_sink sink = {sink_event, sink_control, sub};
	int rc = cursor_fill(sub->cur, &sink, SEND_BUDGET_MSGS, SEND_BUDGET_BYTES);

	if (rc == 0 && cursor_set_stopping(sub->logs->set)) {
		/* Everything committed is queued: close with 1001 after it. */
		lws_close_reason(sub->wsi, LWS_CLOSE_STATUS_GOINGAWAY,
				 (unsigned char *)"server stopping", 15);
		rc = -1;
	} else if (rc < 0) {
		lws_close_reason(sub->wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, NULL, 0);
	}
	/* Send what was queued, also before a close. */
	if (flush_frames(sub) || rc < 0)
		return -1;
	if (rc > 0)
		lws_callback_on_writable(sub->wsi);
	return 0;
}
