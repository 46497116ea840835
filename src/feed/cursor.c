/*
 * Cursor placement and delivery (see cursor.h).
 *
 * A turn asks the hub for the next message after the cursor; while the
 * cursor is older than the hub's floor it reads the journal instead, a page
 * of STORE_PAGE_ROWS rows in one short read transaction, so a long replay
 * never pins the WAL and is interleaved with everything else on the loop.
 * When the budget is spent the turn ends; the subscriber asks for another
 * one once its socket has taken what was queued.
 *
 * The cursor also advances over events a filter skips, so a filtered
 * subscriber does not re-read them; and over ids that retention removed or
 * an unclean stop lost, which a control=1 subscriber is told about with
 * "gap" (reason "retention" or "lost"). An after_id above every id the
 * journal handed out is not from this store: "reset", as for an epoch that
 * is not the store's.
 */
#include "cursor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

/* Rows read from the journal per query while catching up. */
#define STORE_PAGE_ROWS 128

struct cursor_set {
	journal *journal;
	hub *hub;
	cursor *cursors; /* started ones */
	uint64_t deliveries;
	uint64_t replay_rows;
	int stopping;
};

struct cursor {
	cursor_set *set;
	struct query q;
	int64_t last_id;      /* the last id sent or skipped */
	int64_t replay_until; /* the since filter applies up to this id */
	uint64_t hint;        /* position in the hub after last_id */
	unsigned waiting : 1; /* parked until new events are published */
	unsigned hello_due : 1;
	unsigned reset_due : 1;
	unsigned live_due : 1;
	unsigned started : 1;
	int64_t gap_from, gap_to; /* a gap to report before anything else */
	void (*wake)(void *arg);
	void *wake_arg;
	cursor *prev, *next;
};

/* What one turn has queued so far. */
struct turn {
	cursor *c;
	const struct cursor_sink *sink;
	size_t msgs, bytes;
	size_t max_msgs, max_bytes;
	int failed;
};

cursor_set *
cursor_set_create(journal *j, hub *h)
{
	cursor_set *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->journal = j;
	s->hub = h;
	return s;
}

void
cursor_set_destroy(cursor_set *s)
{
	free(s);
}

void
cursor_set_wake(cursor_set *s)
{
	for (cursor *c = s->cursors; c; c = c->next) {
		if (c->waiting) {
			c->waiting = 0;
			c->wake(c->wake_arg);
		}
	}
}

void
cursor_set_stop(cursor_set *s)
{
	s->stopping = 1;
	for (cursor *c = s->cursors; c; c = c->next) {
		c->waiting = 0;
		c->wake(c->wake_arg);
	}
}

int
cursor_set_stopping(const cursor_set *s)
{
	return s->stopping;
}

void
cursor_set_get_stats(const cursor_set *s, struct cursor_stats *out)
{
	out->cursors = 0;
	for (const cursor *c = s->cursors; c; c = c->next)
		out->cursors++;
	out->deliveries = s->deliveries;
	out->replay_rows = s->replay_rows;
}

cursor *
cursor_new(cursor_set *s, const struct query *q, void (*wake)(void *arg), void *arg)
{
	cursor *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->set = s;
	c->q = *q;
	c->wake = wake;
	c->wake_arg = arg;
	return c;
}

void
cursor_free(cursor *c)
{
	if (!c)
		return;
	if (c->started) {
		if (c->prev)
			c->prev->next = c->next;
		else
			c->set->cursors = c->next;
		if (c->next)
			c->next->prev = c->prev;
	}
	free(c);
}

int64_t
cursor_last_id(const cursor *c)
{
	return c->last_id;
}

/* Log a failed read of the journal; returns -1. */
static int
read_failed(cursor_set *s)
{
	log_error("reading the journal failed: %s", journal_errmsg(s->journal));
	return -1;
}

/* Where a new cursor starts, from its parameters. */
static int
place(cursor *c)
{
	journal *j = c->set->journal;
	struct query *q = &c->q;
	int64_t live = hub_last_id(c->set->hub), start = live, last, first;
	int resume = 0; /* after_id chose the start: report what is missing after it */

	c->replay_until = live;
	if (q->has_epoch && strcmp(q->epoch, journal_epoch(j))) {
		/* The id came from a store that was re-created since. */
		c->reset_due = q->control;
		start = 0;
	} else if (q->has_after_id) {
		if (q->after_id > live && journal_last_id(j, &last))
			return read_failed(c->set);
		if (q->after_id > live && q->after_id > last) {
			/* Above every id this store ever handed out: the id is
			 * not from this store, whatever the client believes. */
			c->reset_due = q->control;
			start = 0;
		} else {
			start = q->after_id;
			resume = 1;
		}
	}
	if (q->has_since && !c->reset_due) {
		if (q->since_us != QUERY_SINCE_ALL &&
		    journal_first_id_since(j, q->since_us, &first))
			return read_failed(c->set);
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
			return read_failed(c->set);
		if (hi && lo <= start) {
			c->gap_from = lo;
			c->gap_to = hi;
			start = hi;
		}
	}
	/* Retention may have removed the oldest events asked for. */
	if (journal_first_id(j, &first))
		return read_failed(c->set);
	if (first > start + 1) {
		if (resume) {
			if (!c->gap_to)
				c->gap_from = start + 1;
			c->gap_to = first - 1;
		}
		start = first - 1;
	}
	c->last_id = start;
	return 0;
}

int
cursor_start(cursor *c)
{
	cursor_set *s = c->set;

	if (s->stopping)
		return ERR_CLOSED;
	if (place(c))
		return ERR_IO;
	c->hello_due = c->live_due = c->q.control;
	c->started = 1;
	c->next = s->cursors;
	if (s->cursors)
		s->cursors->prev = c;
	s->cursors = c;
	return 0;
}

/* Queue a control message named name, built from fmt. */
static int send_control(struct turn *t, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
send_control(struct turn *t, const char *name, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof buf)
		return -1;
	return t->sink->control(t->sink->arg, name, buf, (size_t)n);
}

static int
send_gap(struct turn *t, int64_t from, int64_t to, const char *reason)
{
	return send_control(
		t, "gap", "{\"control\":\"gap\",\"from_id\":%lld,\"to_id\":%lld,\"reason\":\"%s\"}",
		(long long)from, (long long)to, reason);
}

/*
 * Ids from..to were asked for but are not in the journal: say so, and why
 * (control=1). Retention removed them, or an unclean stop lost them; a lost
 * range is named whole, also where it begins at or before from.
 */
static int
report_gap(struct turn *t, int64_t from, int64_t to)
{
	journal *j = t->c->set->journal;

	if (!t->c->q.control)
		return 0;
	while (from <= to) {
		int64_t lo, hi;
		if (journal_lost(j, from, &lo, &hi))
			return read_failed(t->c->set);
		if (!hi || lo > to)
			return send_gap(t, from, to, "retention");
		if (lo > from && send_gap(t, from, lo - 1, "retention"))
			return -1;
		if (send_gap(t, lo, hi < to ? hi : to, "lost"))
			return -1;
		from = hi + 1;
	}
	return 0;
}

/* Does the subscriber want this event? */
static int
wanted(const cursor *c, int64_t id, int64_t ts_us, const char *type)
{
	if (c->q.has_since && c->q.since_us != QUERY_SINCE_ALL && id <= c->replay_until &&
	    ts_us < c->q.since_us)
		return 0;
	return query_type_matches(&c->q, type);
}

/* Hand one event to the sink if the cursor's filters let it through, and
 * move the cursor past it. */
static int
deliver(struct turn *t, const struct cursor_event *ev)
{
	cursor *c = t->c;

	if (wanted(c, ev->id, ev->ts_us, ev->type)) {
		long n = t->sink->event(t->sink->arg, ev);
		if (n < 0)
			return -1;
		if (n > 0) {
			t->msgs++;
			t->bytes += (size_t)n;
			c->set->deliveries++;
		}
	}
	c->last_id = ev->id;
	return 0;
}

static int
spent(const struct turn *t)
{
	return t->msgs >= t->max_msgs || t->bytes >= t->max_bytes;
}

/* One row read from the journal: deliver it while the budget lasts. */
static int
take_row(const struct store_row *row, void *arg)
{
	struct turn *t = arg;
	cursor *c = t->c;
	struct cursor_event ev = {row->id, row->ts_us, row->type, row->body, row->body_len, 0};

	c->set->replay_rows++;
	if ((row->id > c->last_id + 1 && report_gap(t, c->last_id + 1, row->id - 1)) ||
	    deliver(t, &ev)) {
		t->failed = 1;
		return 1;
	}
	return spent(t);
}

/* Catch up from the journal; returns -1 on failure, else rows visited. */
static int
read_journal(struct turn *t)
{
	journal *j = t->c->set->journal;
	int rows;

	if (journal_read_after(j, t->c->last_id, STORE_PAGE_ROWS, take_row, t, &rows)) {
		log_error("reading the journal for a subscriber failed: %s", journal_errmsg(j));
		return -1;
	}
	return t->failed ? -1 : rows;
}

/* Control messages due at the start of the stream. */
static int
send_greetings(struct turn *t)
{
	cursor *c = t->c;
	journal *j = c->set->journal;

	if (c->hello_due) {
		int64_t first, last = hub_last_id(c->set->hub), lo, hi;
		if (journal_first_id(j, &first) || journal_lost(j, last, &lo, &hi))
			return read_failed(c->set);
		/* Right after an unclean stop the newest id is the end of a lost
		 * range, which no event has: name the newest event's. */
		if (hi && hi == last)
			last = lo - 1;
		if (send_control(t, "hello",
				 "{\"control\":\"hello\",\"epoch\":\"%s\",\"first_id\":%lld,"
				 "\"last_id\":%lld}",
				 journal_epoch(j), (long long)first, (long long)last))
			return -1;
		c->hello_due = 0;
	}
	if (c->reset_due) {
		if (send_control(t, "reset", "{\"control\":\"reset\",\"epoch\":\"%s\"}",
				 journal_epoch(j)))
			return -1;
		c->reset_due = 0;
	}
	if (c->gap_to) {
		if (report_gap(t, c->gap_from, c->gap_to))
			return -1;
		c->gap_to = 0;
	}
	return 0;
}

/* The cursor caught up with the newest event: say so once, then wait. */
static int
caught_up(struct turn *t)
{
	cursor *c = t->c;

	if (c->live_due) {
		if (send_control(t, "live", "{\"control\":\"live\",\"last_id\":%lld}",
				 (long long)c->last_id))
			return -1;
		c->live_due = 0;
	}
	c->waiting = 1;
	return 0;
}

int
cursor_fill(cursor *c, const struct cursor_sink *sink, size_t max_msgs, size_t max_bytes)
{
	hub *h = c->set->hub;
	struct turn t = {.c = c, .sink = sink, .max_msgs = max_msgs, .max_bytes = max_bytes};

	if (send_greetings(&t))
		return -1;
	while (!spent(&t)) {
		const struct wire_msg *m;
		enum hub_next_result r = hub_next(h, c->last_id, &c->hint, &m);

		if (r == HUB_NEXT_NONE)
			return caught_up(&t);
		if (r == HUB_NEXT_BEHIND) {
			int rows = read_journal(&t);
			if (rows < 0)
				return -1;
			if (rows == 0) {
				/* Nothing stored between the cursor and the hub's
				 * window: those events were deleted. */
				int64_t floor = hub_floor_id(h);
				if (report_gap(&t, c->last_id + 1, floor))
					return -1;
				c->last_id = floor;
				c->hint = 0;
			}
		} else {
			/* Ids the hub skips were never stored here (a replicated
			 * journal's stream let them go before this node had them). */
			struct cursor_event ev = {m->id, m->ts_us, m->type, m->data, m->len, 1};
			if ((m->id > c->last_id + 1 && report_gap(&t, c->last_id + 1, m->id - 1)) ||
			    deliver(&t, &ev))
				return -1;
		}
	}
	return 1;
}
