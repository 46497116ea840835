/*
 * The log event: validation and its stored form.
 *
 * A producer's event is a JSON object with a "type" and a "message", an
 * optional ISO 8601 "timestamp", an optional "data" object and any other
 * fields. The stored form ("body") is the producer's own text with
 * insignificant whitespace removed, so every value reads back byte for byte
 * as it was sent, plus a "timestamp" member appended when the producer gave
 * none. The store assigns "id"; it is never part of the body and is put in
 * front of it when the event is sent (wire.h).
 */
#ifndef SENTINEL_LOGEVENT_H
#define SENTINEL_LOGEVENT_H

#include <stddef.h>
#include <stdint.h>

#define LOGEVENT_TYPE_MAX 64

struct logevent {
	char *body;      /* minified JSON object, NUL-terminated, malloc'd */
	size_t body_len; /* strlen(body) */
	int64_t ts_us;   /* the timestamp, microseconds since the epoch, UTC */
	char type[LOGEVENT_TYPE_MAX + 1];
};

/*
 * Validate one JSON object and build its stored form into *out, using now_us
 * as the timestamp when the event has none. Returns 0, or ERR_JSON,
 * ERR_EVENT or ERR_NOMEM with a reason in errmsg and *out untouched.
 */
int logevent_parse(const char *text, size_t len, int64_t now_us, struct logevent *out,
		   char *errmsg);

/* Free what logevent_parse() allocated in ev. */
void logevent_free(struct logevent *ev);

/* Returns 1 when type is 1-64 characters of A-Za-z0-9_.:-, else 0. */
int logevent_type_valid(const char *type, size_t len);

#endif
