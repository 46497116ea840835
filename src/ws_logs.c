/*
 * Subscriber delivery. A WRITEABLE callback sends messages until the socket
 * would block or a per-callback budget is spent, so one fast reader cannot
 * starve the others, and a long replay is interleaved with everything else
 * on the loop; it then asks for another callback. A subscriber with nothing
 * left to send parks (waiting) until ws_logs_wake().
 *
 * Messages from the hub are sent from the hub's shared buffer; lws writes
 * the frame header into the headroom in front of it and copies only what
 * the kernel did not take. Messages read from the store are built in the
 * server's scratch buffer, one at a time.
 *
 * The cursor (last_id) also advances over events a filter skips, so a
 * filtered subscriber does not re-read them; and over ids that retention
 * removed, which a control=1 subscriber is told about with "gap".
 */
#include "ws_logs.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http.h"
#include "hub.h"
#include "log.h"
#include "query.h"
#include "server.h"
#include "store.h"
#include "timestamp.h"

_Static_assert(LWS_PRE <= HUB_PRE, "hub headroom must fit a WebSocket frame header");

/* Per WRITEABLE callback: at most this many messages or bytes. */
#define SEND_BUDGET_MSGS 256
#define SEND_BUDGET_BYTES (512 * 1024)
/* Rows read from the store per query while catching up. */
#define STORE_PAGE_ROWS 128

struct subscriber {
	struct lws *wsi;
	struct server *srv;
	struct query q;
	int64_t last_id;      /* the cursor: the last id sent or skipped */
	int64_t replay_until; /* the since filter applies up to this id */
	uint64_t hint;        /* position in the hub after last_id */
	unsigned waiting : 1;   /* parked until new events are published */
	unsigned hello_due : 1; /* control messages still to send */
	unsigned reset_due : 1;
	unsigned live_due : 1;
	int64_t gap_from, gap_to; /* a gap to report before anything else */
	struct subscriber *prev, *next;
};

struct parse_state {
	struct query *q;
	int64_t now;
	char *errmsg;
};

static int
parse_param(const char *name, const char *value, void *arg)
{
	struct parse_state *ps = arg;
	return query_set_subscribe(ps->q, name, value, ps->now, ps->errmsg);
}

int
ws_logs_parse(struct lws *wsi, struct query *q, char *errmsg)
{
	struct parse_state ps = {q, timestamp_now(), errmsg};

	query_init(q);
	return http_query_each(wsi, parse_param, &ps) ? ERR_INVAL : 0;
}

/* Where a new subscriber's cursor starts, from its parameters. */
static int
start_cursor(struct subscriber *sub)
{
	struct server *srv = sub->srv;
	struct query *q = &sub->q;
	int64_t live = hub_last_id(srv->hub), start = live;

	sub->replay_until = live;
	if (q->has_epoch && strcmp(q->epoch, store_epoch(srv->reader))) {
		/* The id came from a store that was re-created since. */
		sub->reset_due = q->control;
		start = 0;
	} else if (q->has_after_id) {
		start = q->after_id;
	}
	if (q->has_since && !sub->reset_due) {
		int64_t first = 0;
		if (q->since_us != QUERY_SINCE_ALL &&
		    store_first_id_since(srv->reader, q->since_us, &first)) {
			log_error("reading the store failed: %s", store_errmsg(srv->reader));
			return -1;
		}
		int64_t from = q->since_us == QUERY_SINCE_ALL ? 0 : first ? first - 1 : live;
		if (!q->has_after_id || from > start)
			start = from;
	}
	/* Retention may have removed the oldest events asked for. */
	int64_t first;
	if (store_first_id(srv->reader, &first)) {
		log_error("reading the store failed: %s", store_errmsg(srv->reader));
		return -1;
	}
	if (first > start + 1) {
		if (q->has_after_id && !sub->reset_due && !q->has_since) {
			sub->gap_from = start + 1;
			sub->gap_to = first - 1;
		}
		start = first - 1;
	}
	sub->last_id = start;
	return 0;
}

struct subscriber *
ws_logs_open(struct lws *wsi, struct server *srv)
{
	char errmsg[QUERY_ERRMSG_SIZE];
	struct subscriber *sub;

	if (srv->stopping)
		return NULL;
	sub = calloc(1, sizeof *sub);
	if (!sub)
		return NULL;
	sub->wsi = wsi;
	sub->srv = srv;
	/* Checked already before the upgrade; this cannot fail now. */
	if (ws_logs_parse(wsi, &sub->q, errmsg) || start_cursor(sub)) {
		free(sub);
		return NULL;
	}
	sub->hello_due = sub->live_due = sub->q.control;
	sub->next = srv->subscribers;
	if (srv->subscribers)
		srv->subscribers->prev = sub;
	srv->subscribers = sub;
	lws_callback_on_writable(wsi);
	return sub;
}

void
ws_logs_close(struct subscriber *sub)
{
	struct server *srv = sub->srv;

	if (sub->prev)
		sub->prev->next = sub->next;
	else
		srv->subscribers = sub->next;
	if (sub->next)
		sub->next->prev = sub->prev;
	free(sub);
}

void
ws_logs_wake(struct server *srv)
{
	for (struct subscriber *s = srv->subscribers; s; s = s->next) {
		if (s->waiting) {
			s->waiting = 0;
			lws_callback_on_writable(s->wsi);
		}
	}
}

void
ws_logs_stop(struct server *srv)
{
	for (struct subscriber *s = srv->subscribers; s; s = s->next) {
		s->waiting = 0;
		lws_callback_on_writable(s->wsi);
	}
}

unsigned
ws_logs_count(const struct server *srv)
{
	unsigned n = 0;
	for (const struct subscriber *s = srv->subscribers; s; s = s->next)
		n++;
	return n;
}

/* Send one message whose payload has LWS_PRE bytes of headroom. */
static int
send_msg(struct subscriber *sub, unsigned char *payload, size_t len)
{
	int n = lws_write(sub->wsi, payload, len, LWS_WRITE_TEXT);
	if (n < (int)len)
		return -1;
	sub->srv->deliveries++;
	return 0;
}

/* Send a control message built from fmt. */
static int
send_control(struct subscriber *sub, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
send_control(struct subscriber *sub, const char *fmt, ...)
{
	unsigned char buf[LWS_PRE + 256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)(sizeof buf - LWS_PRE))
		return -1;
	return lws_write(sub->wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n ? -1 : 0;
}

/* Ids from..to were asked for but are gone: say so (control=1). */
static int
report_gap(struct subscriber *sub, int64_t from, int64_t to)
{
	if (!sub->q.control || from > to)
		return 0;
	return send_control(sub, "{\"control\":\"gap\",\"from_id\":%lld,\"to_id\":%lld,"
			    "\"reason\":\"retention\"}",
			    (long long)from, (long long)to);
}

/* Does the subscriber want this event? */
static int
wanted(const struct subscriber *sub, int64_t id, int64_t ts_us, const char *type)
{
	if (sub->q.has_since && sub->q.since_us != QUERY_SINCE_ALL &&
	    id <= sub->replay_until && ts_us < sub->q.since_us)
		return 0;
	return query_type_matches(&sub->q, type);
}

struct page_state {
	struct subscriber *sub;
	size_t msgs, bytes;
	int failed;
};

/* One row read from the store: send it if the socket still takes data. */
static int
send_row(const struct store_row *row, void *arg)
{
	struct page_state *ps = arg;
	struct subscriber *sub = ps->sub;
	struct server *srv = sub->srv;

	srv->replay_rows++;
	if (row->id > sub->last_id + 1 && report_gap(sub, sub->last_id + 1, row->id - 1)) {
		ps->failed = 1;
		return 1;
	}
	if (wanted(sub, row->id, row->ts_us, row->type)) {
		size_t need = LWS_PRE + row->body_len + LOGEVENT_WIRE_OVERHEAD;
		if (need > srv->scratch_size) {
			unsigned char *bigger = realloc(srv->scratch, need);
			if (!bigger) {
				ps->failed = 1;
				return 1;
			}
			srv->scratch = bigger;
			srv->scratch_size = need;
		}
		unsigned char *payload = srv->scratch + LWS_PRE;
		size_t len = logevent_wire_write(row->id, row->body, row->body_len,
						 (char *)payload);
		if (send_msg(sub, payload, len)) {
			ps->failed = 1;
			return 1;
		}
		ps->msgs++;
		ps->bytes += len;
	}
	sub->last_id = row->id;
	return lws_send_pipe_choked(sub->wsi) || ps->msgs >= SEND_BUDGET_MSGS ||
	       ps->bytes >= SEND_BUDGET_BYTES;
}

/* Catch up from the store; returns -1 on failure, else rows visited. */
static int
send_from_store(struct subscriber *sub, struct page_state *ps)
{
	int rows;

	if (store_read_after(sub->srv->reader, sub->last_id, STORE_PAGE_ROWS, send_row,
			     ps, &rows)) {
		log_error("reading the store for a subscriber failed: %s",
			  store_errmsg(sub->srv->reader));
		return -1;
	}
	return ps->failed ? -1 : rows;
}

/* Control messages due at the start of the stream. */
static int
send_greetings(struct subscriber *sub)
{
	struct server *srv = sub->srv;

	if (sub->hello_due) {
		int64_t first;
		if (store_first_id(srv->reader, &first))
			return -1;
		if (send_control(sub, "{\"control\":\"hello\",\"epoch\":\"%s\",\"first_id\":%lld,"
				 "\"last_id\":%lld}",
				 store_epoch(srv->reader), (long long)first,
				 (long long)hub_last_id(srv->hub)))
			return -1;
		sub->hello_due = 0;
	}
	if (sub->reset_due) {
		if (send_control(sub, "{\"control\":\"reset\",\"epoch\":\"%s\"}",
				 store_epoch(srv->reader)))
			return -1;
		sub->reset_due = 0;
	}
	if (sub->gap_to) {
		if (report_gap(sub, sub->gap_from, sub->gap_to))
			return -1;
		sub->gap_to = 0;
	}
	return 0;
}

/* The cursor caught up with the newest event: park, or close if stopping. */
static int
caught_up(struct subscriber *sub)
{
	if (sub->live_due) {
		if (send_control(sub, "{\"control\":\"live\",\"last_id\":%lld}",
				 (long long)sub->last_id))
			return -1;
		sub->live_due = 0;
	}
	if (sub->srv->stopping) {
		lws_close_reason(sub->wsi, LWS_CLOSE_STATUS_GOINGAWAY,
				 (unsigned char *)"server stopping", 15);
		return -1;
	}
	sub->waiting = 1;
	return 0;
}

int
ws_logs_writeable(struct subscriber *sub)
{
	struct server *srv = sub->srv;
	struct page_state ps = {.sub = sub};

	if (send_greetings(sub))
		return -1;
	while (ps.msgs < SEND_BUDGET_MSGS && ps.bytes < SEND_BUDGET_BYTES) {
		const struct hub_msg *m;
		enum hub_next_result r = hub_next(srv->hub, sub->last_id, &sub->hint, &m);

		if (r == HUB_NEXT_NONE)
			return caught_up(sub);
		if (r == HUB_NEXT_BEHIND) {
			int rows = send_from_store(sub, &ps);
			if (rows < 0) {
				lws_close_reason(sub->wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
						 NULL, 0);
				return -1;
			}
			if (rows == 0) {
				/* Nothing stored between the cursor and the hub's
				 * window: those events were deleted. */
				int64_t floor = hub_floor_id(srv->hub);
				if (report_gap(sub, sub->last_id + 1, floor))
					return -1;
				sub->last_id = floor;
				sub->hint = 0;
			}
		} else {
			if (wanted(sub, m->id, m->ts_us, m->type)) {
				if (send_msg(sub, (unsigned char *)HUB_MSG_PAYLOAD(m), m->len))
					return -1;
				ps.msgs++;
				ps.bytes += m->len;
			}
			sub->last_id = m->id;
		}
		if (lws_send_pipe_choked(sub->wsi))
			break;
	}
	lws_callback_on_writable(sub->wsi);
	return 0;
}
