/*
 * Cursors: what every subscriber of the feed is, whatever it speaks
 * (WebSocket frames on /ws/logs and /loki/api/v1/tail, Server-Sent Events
 * or NDJSON on /api/stream).
 *
 * A cursor is the id of the last event its subscriber was sent or passed
 * over. It is fed from the hub while it is within the hub's window and from
 * the journal (short keyset pages) when it is older, so replay, live
 * delivery and slow consumers are one mechanism: ids strictly increase,
 * nothing is skipped, nothing is sent twice, and no subscriber makes the
 * server hold more than one write's worth of output for it.
 *
 * The cursor owns the delivery rules: where a subscriber starts (after_id,
 * since, epoch), the control messages ("hello", "live", "gap" with reason
 * "retention" or "lost", "reset"), the since and type filters, and the
 * budget of one turn. It hands what it produces to a sink, which frames it
 * for its protocol and may drop an event by a filter of its own (a LogQL
 * query). Loop thread only.
 */
#ifndef SENTINEL_CURSOR_H
#define SENTINEL_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "hub.h"
#include "journal.h"
#include "query.h"

typedef struct cursor cursor;
typedef struct cursor_set cursor_set;

/* One event on its way to a subscriber. */
struct cursor_event {
	int64_t id;
	int64_t ts_us;
	const char *type;
	/* Its JSON: the wire form ({"id":N,...}) when wire is set, else the
	 * stored body, which wire_write() turns into the wire form. */
	const char *json;
	size_t len;
	int wire;
};

/* Where a cursor's output goes: one endpoint's framing. */
struct cursor_sink {
	/* Queue an event. Returns the bytes queued, 0 when the sink drops the
	 * event (a filter of its own), or -1 on failure. */
	long (*event)(void *arg, const struct cursor_event *ev);
	/* Queue a control message: its name ("hello", "live", "gap", "reset")
	 * and its JSON, {"control":"NAME",...}. Returns 0 or -1. */
	int (*control)(void *arg, const char *name, const char *json, size_t len);
	void *arg;
};

/* The cursors over one journal and hub (which outlive the set). NULL: no memory. */
cursor_set *cursor_set_create(journal *j, hub *h);

/* Free the set; every cursor must have been freed. */
void cursor_set_destroy(cursor_set *s);

/* New events were published to the hub: wake the cursors waiting for them. */
void cursor_set_wake(cursor_set *s);

/* The server is stopping: wake every cursor, so that its subscriber sends
 * what is committed and closes; no cursor starts from now on. */
void cursor_set_stop(cursor_set *s);

/* Returns 1 once cursor_set_stop() was called, else 0. */
int cursor_set_stopping(const cursor_set *s);

struct cursor_stats {
	unsigned cursors;     /* started, not freed */
	uint64_t deliveries;  /* events queued to sinks */
	uint64_t replay_rows; /* events read from the journal for cursors behind */
};

void cursor_set_get_stats(const cursor_set *s, struct cursor_stats *out);

/*
 * A cursor for the parameters q (copied), not placed yet. wake(arg) is
 * called when it waits and there is something new to send (or the set
 * stops); it should ask for the subscriber's next turn. NULL: no memory.
 */
cursor *cursor_new(cursor_set *s, const struct query *q, void (*wake)(void *arg), void *arg);

/*
 * Place the cursor from its parameters, checking the epoch, lost ids and
 * retention, and add it to the set. Returns 0; ERR_CLOSED when the set is
 * stopping; ERR_IO when the journal cannot be read (logged).
 */
int cursor_start(cursor *c);

/*
 * One turn: hand the sink the control messages due and the events after
 * the cursor, until max_msgs events or max_bytes bytes were queued.
 * Returns 1 when more is waiting; 0 when the cursor caught up with the
 * newest event (it then waits for cursor_set_wake()); -1 when the journal
 * could not be read (logged) or the sink failed.
 */
int cursor_fill(cursor *c, const struct cursor_sink *sink, size_t max_msgs, size_t max_bytes);

/* The id of the last event sent or passed over. */
int64_t cursor_last_id(const cursor *c);

/* Forget the cursor, started or not (NULL is allowed). */
void cursor_free(cursor *c);

#endif
