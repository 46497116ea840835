/*
 * Query parameters of the read endpoints (/ws/logs, GET /api/stream and
 * GET /api/events):
 * parsed from name/value pairs, so that the rules live in one place,
 * independent of libwebsockets, and can be unit-tested and fuzzed. Every
 * refusal names the parameter and says why.
 */
#ifndef SENTINEL_QUERY_H
#define SENTINEL_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "logevent.h"

#define QUERY_MAX_TYPES 32
/* An epoch is at most this many hex digits. */
#define QUERY_EPOCH_MAX 32

/* since=all: every stored event. */
#define QUERY_SINCE_ALL INT64_MIN

/* The framing of GET /api/stream a request asked for by name. */
enum query_format {
	QUERY_FORMAT_ANY,    /* none: the Accept header decides */
	QUERY_FORMAT_SSE,    /* format=sse: Server-Sent Events */
	QUERY_FORMAT_NDJSON, /* format=ndjson: one JSON object a line */
};

struct query {
	int has_after_id;
	int64_t after_id; /* after_id=N: events with id > N */
	int has_since;
	int64_t since_us;  /* since=T: events with timestamp >= T */
	size_t type_count; /* type=a,b: only these types */
	char types[QUERY_MAX_TYPES][LOGEVENT_TYPE_MAX + 1];
	int control; /* control=1: send control messages */
	int has_epoch;
	char epoch[QUERY_EPOCH_MAX + 1]; /* epoch=E: the journal the after_id came from */

	/* GET /api/events only. */
	int has_before_id;
	int64_t before_id; /* before_id=N: events with id < N */
	int has_until;
	int64_t until_us; /* until=T: events with timestamp < T */
	int limit;        /* limit=N, 1..QUERY_LIMIT_MAX */
	int descending;   /* order=desc: newest first */

	/* GET /api/stream only. */
	enum query_format format; /* format=sse|ndjson, or QUERY_FORMAT_ANY */
};

#define QUERY_LIMIT_DEFAULT 100
#define QUERY_LIMIT_MAX     1000

/* Reset q to "no parameters". */
void query_init(struct query *q);

/*
 * Apply one decoded parameter of a /ws/logs request. now_us resolves
 * durations (since=10m). Returns 0, or ERR_INVAL with a message in errmsg
 * naming the parameter.
 */
int query_set_subscribe(struct query *q, const char *name, const char *value, int64_t now_us,
			char *errmsg);

/*
 * Apply one decoded parameter of GET /api/stream: those of /ws/logs and
 * format. Same contract as query_set_subscribe().
 */
int query_set_stream(struct query *q, const char *name, const char *value, int64_t now_us,
		     char *errmsg);

/*
 * Apply one decoded parameter of GET /api/events: after_id, before_id,
 * since, until, type, limit, order. Same contract as query_set_subscribe().
 */
int query_set_list(struct query *q, const char *name, const char *value, int64_t now_us,
		   char *errmsg);

/* Returns 1 when q's type filter lets an event of this type through, else 0. */
int query_type_matches(const struct query *q, const char *type);

#endif
