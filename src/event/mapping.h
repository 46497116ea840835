/*
 * Mapping a shipper's objects onto events: an opt-in description, per
 * request, of where a producer's object keeps what an event needs. Vector,
 * Fluent Bit and syslog-ng each send their own field names; the mapping
 * fills in the members an event must have from the ones the object has.
 *
 * The mapping only adds members the object lacks ("type", "message",
 * "timestamp"); it never changes or removes a member the producer sent. So
 * the stored body is the producer's object as sent (minified), with the
 * added members appended after its own, and an audit can always tell what
 * came from the producer. A timestamp taken from another field is kept
 * there verbatim (an ISO 8601 string, or epoch seconds, milliseconds,
 * microseconds or nanoseconds as a number) and is added as "timestamp" in
 * ISO 8601 UTC with microseconds, which is also what ts_us holds; an
 * object without that field either gets the ingest time, as any event.
 */
#ifndef SENTINEL_MAPPING_H
#define SENTINEL_MAPPING_H

#include <stddef.h>
#include <stdint.h>

#include "logevent.h"

/* The longest field name a mapping may name. */
#define MAPPING_FIELD_MAX 64

/* How a numeric timestamp counts time since the epoch. */
enum mapping_unit {
	MAPPING_UNIT_AUTO, /* by magnitude: s below 1e11, ms below 1e14, us below 1e17, else ns */
	MAPPING_UNIT_S,
	MAPPING_UNIT_MS,
	MAPPING_UNIT_US,
	MAPPING_UNIT_NS,
};

struct mapping {
	int active;                                  /* a parameter was given */
	char type[LOGEVENT_TYPE_MAX + 1];            /* type=: for objects without one */
	char message_field[MAPPING_FIELD_MAX + 1];   /* message_field=: "message" from it */
	char timestamp_field[MAPPING_FIELD_MAX + 1]; /* timestamp_field=: the time from it */
	enum mapping_unit unit;                      /* timestamp_unit= */
};

/* Reset m to "no mapping": events are taken exactly as they are. */
void mapping_init(struct mapping *m);

/*
 * Apply one request parameter: type, message_field, timestamp_field or
 * timestamp_unit. Returns 0; 1 when name is not a mapping parameter (m is
 * untouched); or ERR_INVAL with a message naming the parameter in errmsg.
 */
int mapping_set(struct mapping *m, const char *name, const char *value, char *errmsg);

/*
 * Build the event for one JSON object text: the object with the members
 * m adds, validated by logevent_parse(). Without an active mapping this is
 * logevent_parse() itself. Same contract as logevent_parse().
 */
int mapping_event(const struct mapping *m, const char *text, size_t len, int64_t now_us,
		  struct logevent *out, char *errmsg);

/*
 * Build the event for one line of plain text: {"message":LINE} with the
 * members m adds; m must name a type. Same contract as logevent_parse().
 */
int mapping_line(const struct mapping *m, const char *line, size_t len, int64_t now_us,
		 struct logevent *out, char *errmsg);

/*
 * Read a JSON number (its text, len bytes) as a time since the epoch in
 * unit, into microseconds, truncating finer digits. Returns 0, or ERR_INVAL
 * (not a number, negative, or outside the years 1970-9999) with *us_out
 * untouched.
 */
int mapping_epoch_us(const char *text, size_t len, enum mapping_unit unit, int64_t *us_out);

#endif
