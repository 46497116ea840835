/*
 * Subscriber delivery. A WRITEABLE callback sends messages until the socket
 * would block or a per-callback budget is spent, so one fast reader cannot
 * starve the others, and a long replay is interleaved with everything else
 * on the loop; it then asks for another callback. A subscriber with nothing
 * left to send parks (waiting) until ws_logs_wake().
 *
 * Frames are laid out back to back in the endpoint's frame buffer (a header
 * of our own in front of each event's JSON, from the hub's shared copy or
 * read from the journal) and leave in one write per callback: one send()
 * for up to SEND_BUDGET_MSGS events instead of a send() and a poll() for
 * each. lws keeps what the kernel did not take and calls back only when it
 * has drained, so a subscriber never has more than one batch buffered.
 * Frames are unmasked text frames (server to client) and the endpoint
 * negotiates no extension, so the bytes are exactly what lws would write.
 *
 * The cursor (last_id) also advances over events a filter skips, so a
 * filtered subscriber does not re-read them; and over ids that retention
 * removed or an unclean stop lost, which a control=1 subscriber is told
 * about with "gap" (reason "retention" or "lost"). An after_id above every
 * id the journal handed out is not from this store: "reset", as for an
 * epoch that is not the store's.
 */
#include "ws_logs.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "logql.h"
#include "loki.h"
#include "query.h"
#include "request.h"
#include "wire.h"

/* Per WRITEABLE callback: at most this many messages or bytes. */
#define SEND_BUDGET_MSGS  256
#define SEND_BUDGET_BYTES (512 * 1024)
/* Rows read from the journal per query while catching up. */
#define STORE_PAGE_ROWS 128

struct ws_logs {
	journal *journal;
	hub *hub;
	struct subscriber *subscribers; /* started ones */
	unsigned char *frames;          /* frames for one subscriber's write */
	size_t frames_len, frames_cap;
	uint64_t deliveries;  /* event messages sent */
	uint64_t replay_rows; /* events read from the journal */
	int stopping;
};

struct subscriber {
	struct lws *wsi;
	ws_logs *logs;
	struct query q;
	int64_t last_id;        /* the cursor: the last id sent or skipped */
	int64_t replay_until;   /* the since filter applies up to this id */
	uint64_t hint;          /* position in the hub after last_id */
	unsigned waiting : 1;   /* parked until new events are published */
	unsigned hello_due : 1; /* control messages still to send */
	unsigned reset_due : 1;
	unsigned live_due : 1;
	unsigned started : 1;
	int64_t gap_from, gap_to; /* a gap to report before anything else */
	logql *tail;              /* /loki/api/v1/tail: its query */
	struct subscriber *prev, *next;
};

/* Log a failed read of the journal; returns -1. */
static int
read_failed(ws_logs *l)
{
	log_error("reading the journal failed: %s", journal_errmsg(l->journal));
	return -1;
}

/* Where a new subscriber's cursor starts, from its parameters. */
static int
start_cursor(struct subscriber *sub)
{
	ws_logs *l = sub->logs;
	journal *j = l->journal;
	struct query *q = &sub->q;
	int64_t live = hub_last_id(l->hub), start = live, last, first;
	int resume = 0; /* after_id chose the start: report what is missing after it */

	sub->replay_until = live;
	if (q->has_epoch && strcmp(q->epoch, journal_epoch(j))) {
		/* The id came from a store that was re-created since. */
		sub->reset_due = q->control;
		start = 0;
	} else if (q->has_after_id) {
		if (q->after_id > live && journal_last_id(j, &last))
			return read_failed(l);
		if (q->after_id > live && q->after_id > last) {
			/* Above every id this store ever handed out: the id is
			 * not from this store, whatever the client believes. */
			sub->reset_due = q->control;
			start = 0;
		} else {
			start = q->after_id;
			resume = 1;
		}
	}
	if (q->has_since && !sub->reset_due) {
		if (q->since_us != QUERY_SINCE_ALL &&
		    journal_first_id_since(j, q->since_us, &first))
			return read_failed(l);
		int64_t from = q->since_us == QUERY_SINCE_ALL ? 0 : first ? first - 1 : live;
		if (!q->has_after_id || from > start) {
			start = from;
			resume = 0; /* since, not after_id, chose the start */
		}
	}
	if (resume) {
		/* The client may hold events an unclean stop took back: name
		 * their whole range, also the part at or before its id. */
		int64_t lo, hi;
		if (journal_lost(j, start, &lo, &hi))
			return read_failed(l);
		if (hi && lo <= start) {
			sub->gap_from = lo;
			sub->gap_to = hi;
			start = hi;
		}
	}
	/* Retention may have removed the oldest events asked for. */
	if (journal_first_id(j, &first))
		return read_failed(l);
	if (first > start + 1) {
		if (resume) {
			if (!sub->gap_to)
				sub->gap_from = start + 1;
			sub->gap_to = first - 1;
		}
		start = first - 1;
	}
	sub->last_id = start;
	return 0;
}

ws_logs *
ws_logs_create(journal *j, hub *h)
{
	ws_logs *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	l->journal = j;
	l->hub = h;
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

int
ws_logs_start(struct subscriber *sub)
{
	ws_logs *l = sub->logs;

	if (l->stopping || start_cursor(sub))
		return -1;
	sub->hello_due = sub->live_due = sub->q.control;
	sub->started = 1;
	sub->next = l->subscribers;
	if (l->subscribers)
		l->subscribers->prev = sub;
	l->subscribers = sub;
	lws_callback_on_writable(sub->wsi);
	return 0;
}

void
ws_logs_close(struct subscriber *sub)
{
	ws_logs *l = sub->logs;

	if (sub->started) {
		if (sub->prev)
			sub->prev->next = sub->next;
		else
			l->subscribers = sub->next;
		if (sub->next)
			sub->next->prev = sub->prev;
	}
	logql_free(sub->tail);
	free(sub);
}

void
ws_logs_wake(ws_logs *l)
{
	for (struct subscriber *s = l->subscribers; s; s = s->next) {
		if (s->waiting) {
			s->waiting = 0;
			lws_callback_on_writable(s->wsi);
		}
	}
}

void
ws_logs_stop(ws_logs *l)
{
	l->stopping = 1;
	for (struct subscriber *s = l->subscribers; s; s = s->next) {
		s->waiting = 0;
		lws_callback_on_writable(s->wsi);
	}
}

void
ws_logs_get_stats(const ws_logs *l, struct ws_logs_stats *out)
{
	out->subscribers = 0;
	for (const struct subscriber *s = l->subscribers; s; s = s->next)
		out->subscribers++;
	out->deliveries = l->deliveries;
	out->replay_rows = l->replay_rows;
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
queue_msg(struct subscriber *sub, const void *payload, size_t len)
{
	ws_logs *l = sub->logs;
	if (frames_reserve(l, len + 10))
		return -1;
	l->frames_len += frame_header(l->frames + l->frames_len, len);
	memcpy(l->frames + l->frames_len, payload, len);
	l->frames_len += len;
	l->deliveries++;
	return 0;
}

/*
 * A tail subscriber's message for one event (its JSON, with or without
 * "id"): queued when the query keeps it. Returns its size, 0 when the
 * query drops it, -1 on failure.
 */
static long
queue_tail(struct subscriber *sub, const char *json, size_t len, int64_t ts_us)
{
	struct logql_labels labels = {0};
	struct buf b = {0};
	char *line = NULL;
	size_t line_len = 0;
	long rc = logql_eval(sub->tail, json, len, &labels, &line, &line_len);

	if (rc == 1) {
		rc = buf_printf(&b, "{\"streams\":[{\"stream\":") ||
				     logql_labels_json(&labels, &b) ||
				     buf_printf(&b, ",\"values\":[[\"%lld000\",",
						(long long)ts_us) ||
				     logql_json_string(&b, line, line_len) ||
				     buf_printf(&b, "]]}],\"dropped_entries\":null}") ||
				     queue_msg(sub, b.data, b.len)
			     ? -1
			     : (long)b.len;
	}
	free(line);
	buf_free(&b);
	logql_labels_free(&labels);
	return rc < 0 ? -1 : rc;
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

/* Queue a control message built from fmt. */
static int send_control(struct subscriber *sub, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
send_control(struct subscriber *sub, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof buf)
		return -1;
	sub->logs->deliveries--; /* control messages are not deliveries */
	return queue_msg(sub, buf, (size_t)n);
}

static int
send_gap(struct subscriber *sub, int64_t from, int64_t to, const char *reason)
{
	return send_control(
		sub, "{\"control\":\"gap\",\"from_id\":%lld,\"to_id\":%lld,\"reason\":\"%s\"}",
		(long long)from, (long long)to, reason);
}

/*
 * Ids from..to were asked for but are not in the journal: say so, and why
 * (control=1). Retention removed them, or an unclean stop lost them; a lost
 * range is named whole, also where it begins at or before from.
 */
static int
report_gap(struct subscriber *sub, int64_t from, int64_t to)
{
	journal *j = sub->logs->journal;

	if (!sub->q.control)
		return 0;
	while (from <= to) {
		int64_t lo, hi;
		if (journal_lost(j, from, &lo, &hi))
			return read_failed(sub->logs);
		if (!hi || lo > to)
			return send_gap(sub, from, to, "retention");
		if (lo > from && send_gap(sub, from, lo - 1, "retention"))
			return -1;
		if (send_gap(sub, lo, hi < to ? hi : to, "lost"))
			return -1;
		from = hi + 1;
	}
	return 0;
}

/* Does the subscriber want this event? */
static int
wanted(const struct subscriber *sub, int64_t id, int64_t ts_us, const char *type)
{
	if (sub->q.has_since && sub->q.since_us != QUERY_SINCE_ALL && id <= sub->replay_until &&
	    ts_us < sub->q.since_us)
		return 0;
	return query_type_matches(&sub->q, type);
}

struct page_state {
	struct subscriber *sub;
	size_t msgs, bytes;
	int failed;
};

/* One row read from the journal: send it if the socket still takes data. */
static int
send_row(const struct store_row *row, void *arg)
{
	struct page_state *ps = arg;
	struct subscriber *sub = ps->sub;
	ws_logs *l = sub->logs;

	l->replay_rows++;
	if (row->id > sub->last_id + 1 && report_gap(sub, sub->last_id + 1, row->id - 1)) {
		ps->failed = 1;
		return 1;
	}
	if (sub->tail && wanted(sub, row->id, row->ts_us, row->type)) {
		long n = queue_tail(sub, row->body, row->body_len, row->ts_us);
		if (n < 0) {
			ps->failed = 1;
			return 1;
		}
		ps->msgs += n > 0;
		ps->bytes += (size_t)n;
	} else if (wanted(sub, row->id, row->ts_us, row->type)) {
		size_t max = row->body_len + WIRE_OVERHEAD;
		if (frames_reserve(l, max + 10)) {
			ps->failed = 1;
			return 1;
		}
		/* Write the event after the largest header, then put the real
		 * header right in front of it. */
		unsigned char *at = l->frames + l->frames_len;
		size_t len = wire_write(row->id, row->body, row->body_len, (char *)at + 10);
		unsigned char head[10];
		size_t hlen = frame_header(head, len);
		memmove(at + hlen, at + 10, len);
		memcpy(at, head, hlen);
		l->frames_len += hlen + len;
		l->deliveries++;
		ps->msgs++;
		ps->bytes += len;
	}
	sub->last_id = row->id;
	return ps->msgs >= SEND_BUDGET_MSGS || ps->bytes >= SEND_BUDGET_BYTES;
}

/* Catch up from the journal; returns -1 on failure, else rows visited. */
static int
send_from_journal(struct subscriber *sub, struct page_state *ps)
{
	journal *j = sub->logs->journal;
	int rows;

	if (journal_read_after(j, sub->last_id, STORE_PAGE_ROWS, send_row, ps, &rows)) {
		log_error("reading the journal for a subscriber failed: %s", journal_errmsg(j));
		return -1;
	}
	return ps->failed ? -1 : rows;
}

/* Control messages due at the start of the stream. */
static int
send_greetings(struct subscriber *sub)
{
	ws_logs *l = sub->logs;

	if (sub->hello_due) {
		int64_t first, last = hub_last_id(l->hub), lo, hi;
		if (journal_first_id(l->journal, &first) ||
		    journal_lost(l->journal, last, &lo, &hi))
			return read_failed(l);
		/* Right after an unclean stop the newest id is the end of a lost
		 * range, which no event has: name the newest event's. */
		if (hi == last)
			last = lo - 1;
		if (send_control(sub,
				 "{\"control\":\"hello\",\"epoch\":\"%s\",\"first_id\":%lld,"
				 "\"last_id\":%lld}",
				 journal_epoch(l->journal), (long long)first, (long long)last))
			return -1;
		sub->hello_due = 0;
	}
	if (sub->reset_due) {
		if (send_control(sub, "{\"control\":\"reset\",\"epoch\":\"%s\"}",
				 journal_epoch(l->journal)))
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
	if (sub->logs->stopping) {
		lws_close_reason(sub->wsi, LWS_CLOSE_STATUS_GOINGAWAY,
				 (unsigned char *)"server stopping", 15);
		return -1;
	}
	sub->waiting = 1;
	return 0;
}

/* Fill the frame buffer from the cursor; returns 1 when more is waiting. */
static int
fill(struct subscriber *sub, int *parked)
{
	ws_logs *l = sub->logs;
	struct page_state ps = {.sub = sub};

	if (send_greetings(sub))
		return -1;
	while (ps.msgs < SEND_BUDGET_MSGS && ps.bytes < SEND_BUDGET_BYTES) {
		const struct wire_msg *m;
		enum hub_next_result r = hub_next(l->hub, sub->last_id, &sub->hint, &m);

		if (r == HUB_NEXT_NONE) {
			*parked = 1;
			return caught_up(sub);
		}
		if (r == HUB_NEXT_BEHIND) {
			int rows = send_from_journal(sub, &ps);
			if (rows < 0)
				return -1;
			if (rows == 0) {
				/* Nothing stored between the cursor and the hub's
				 * window: those events were deleted. */
				int64_t floor = hub_floor_id(l->hub);
				if (report_gap(sub, sub->last_id + 1, floor))
					return -1;
				sub->last_id = floor;
				sub->hint = 0;
			}
		} else {
			/* Ids the hub skips were never stored here (a replicated
			 * journal's stream let them go before this node had them). */
			if (m->id > sub->last_id + 1 &&
			    report_gap(sub, sub->last_id + 1, m->id - 1))
				return -1;
			if (sub->tail && wanted(sub, m->id, m->ts_us, m->type)) {
				long n = queue_tail(sub, m->data, m->len, m->ts_us);
				if (n < 0)
					return -1;
				ps.msgs += n > 0;
				ps.bytes += (size_t)n;
			} else if (wanted(sub, m->id, m->ts_us, m->type)) {
				if (queue_msg(sub, m->data, m->len))
					return -1;
				ps.msgs++;
				ps.bytes += m->len;
			}
			sub->last_id = m->id;
		}
	}
	return 1;
}

int
ws_logs_writeable(struct subscriber *sub)
{
	int parked = 0, rc = fill(sub, &parked);

	if (rc < 0 && !parked)
		lws_close_reason(sub->wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, NULL, 0);
	/* Send what was queued, also before a close (stopping: 1001). */
	if (flush_frames(sub) || rc < 0)
		return -1;
	if (!parked)
		lws_callback_on_writable(sub->wsi);
	return 0;
}
