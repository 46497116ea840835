/*
 * Ingest requests: one HTTP body or WebSocket message becomes one batch of
 * validated events, appended atomically to the journal (journal.h).
 *
 * A batch is created and parsed on the event loop, owned by the journal
 * while it commits, and handed back to the loop with its result. Its owner
 * (the connection waiting for the answer) is cleared by the loop when that
 * connection closes first; the batch is then freed unanswered.
 */
#ifndef SENTINEL_INGEST_H
#define SENTINEL_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "logevent.h"
#include "mapping.h"
#include "wire.h"

enum ingest_format {
	INGEST_JSON,   /* one object, or an array of objects */
	INGEST_NDJSON, /* one object a line; blank lines are skipped */
	INGEST_TEXT,   /* one event a line of plain text (needs a mapping's type) */
};

/*
 * How a producer asked for its request to be read (query parameters of
 * POST /api/events): every one is opt-in, and none given means the strict
 * default (a bad event refuses the whole request).
 */
struct ingest_options {
	struct mapping map; /* type, message_field, timestamp_field, timestamp_unit */
	int partial;        /* partial=1: keep the good events, report the bad ones */
	int has_format;     /* format=json|ndjson|text: read the body as this */
	enum ingest_format format;
};

/* Reset o to the strict default. */
void ingest_options_init(struct ingest_options *o);

/*
 * Apply one request parameter to o: partial, format, or a mapping
 * parameter (mapping.h). Returns 0, or ERR_INVAL with a message naming the
 * parameter (also for an unknown one) in errmsg.
 */
int ingest_option_set(struct ingest_options *o, const char *name, const char *value, char *errmsg);

/* One event a partial request left out: its 0-based index and why. */
struct ingest_reject {
	size_t index;
	char *msg; /* malloc'd */
};

/* A partial request reports at most this many rejected events one by one. */
#define INGEST_REJECTS_MAX 1000

/* Bytes of a request's fingerprint for its Idempotency-Key (SHA-256). */
#define INGEST_KEY_HASH_SIZE 32

/* Default limits: an event and a whole request body. */
#define INGEST_EVENT_MAX_DEFAULT (256 * 1024)
#define INGEST_BODY_MAX_DEFAULT  (16 * 1024 * 1024)

struct ingest_batch {
	struct logevent *events;
	size_t count;

	/*
	 * Set by a replicated journal for the batches its applier writes: the
	 * events get ids first_id, first_id + 1, ... (the stream's sequence
	 * numbers) instead of the store's next ones.
	 */
	int ids_assigned;

	/* The producer's Idempotency-Key, or NULL: malloc'd, freed with the
	 * batch. A replicated journal names the batch's messages after it, so
	 * that the stream stores a retried request once. */
	char *idem_key;
	/* With idem_key: the request's fingerprint, and the HTTP status of its
	 * answer (200, or 204 for a Loki push). The single-node writer records
	 * them with the answer, in the transaction of the events
	 * (store_keys.h); idem_status 0 records nothing. */
	unsigned char idem_hash[INGEST_KEY_HASH_SIZE];
	int idem_status;

	/* Set by a replicated journal for a producer's batch: its events reach
	 * the live feed through the applier, so there is nothing to publish. */
	int remote;

	/* Filled by the journal. */
	int status;       /* 0, or the ERR_* that made the batch fail */
	int64_t first_id; /* ids of the committed events when status == 0 */
	int64_t last_id;
	/* When the ids are not consecutive (a replicated journal interleaves
	 * batches): each event's id, count entries, malloc'd; else NULL. */
	int64_t *ids;
	char errmsg[ERRMSG_SIZE];

	/* partial=1: the events left out (the first INGEST_REJECTS_MAX of
	 * them in rejects, malloc'd) and how many there were in all. */
	struct ingest_reject *rejects;
	size_t reject_count;

	/* The wire form of each committed event, for the live feed; an entry
	 * is NULL when memory ran out (readers then take it from the store).
	 * NULL as a whole for a batch whose events reach the live feed by
	 * another way (a replicated journal's applier): nothing to publish. */
	struct wire_msg **msgs;

	/* Who waits for the answer, and how to give it: on_done runs on the
	 * loop and frees the batch. owner is NULL when the requester left. */
	void *owner;
	void (*on_done)(struct ingest_batch *batch);
	struct ingest_batch *next;
};

/* The failure of ingest_parse(): what is wrong and with which event. */
struct ingest_error {
	int code;     /* ERR_JSON, ERR_EVENT, ERR_TOOBIG or ERR_NOMEM */
	size_t index; /* 0-based index of the event at fault */
	char msg[ERRMSG_SIZE];
};

/*
 * Parse and validate a request body into a new batch. Every event is
 * checked before anything is stored, so a bad event rejects the whole
 * request. Returns the batch, or NULL with *err filled.
 */
struct ingest_batch *ingest_parse(const char *body, size_t len, enum ingest_format format,
				  size_t event_max, struct ingest_error *err);

/*
 * ingest_parse() as o asks: its mapping applied to every event, its format
 * instead of format when it names one, and with o->partial a bad event is
 * left out and listed in the batch's rejects instead of refusing the
 * request (a body that cannot be split into events still is). o may be
 * NULL (the strict default).
 */
struct ingest_batch *ingest_parse_opts(const char *body, size_t len, enum ingest_format format,
				       size_t event_max, const struct ingest_options *o,
				       struct ingest_error *err);

/* The longest Idempotency-Key accepted. */
#define INGEST_KEY_MAX 128

/*
 * Check an Idempotency-Key header value: 1 to INGEST_KEY_MAX printable
 * ASCII characters, optionally in double quotes (a structured-field
 * string). Returns the key as a new string without the quotes, or NULL
 * with the reason in errmsg.
 */
char *ingest_key_parse(const char *value, char *errmsg);

/*
 * A /ws/ingest message may carry an idempotency key in an envelope,
 * {"idempotency_key":"KEY","events":EVENTS}, where EVENTS is what the
 * message would be without it (an event or an array of events). An object
 * with a "type" member is an event, whatever else it holds. Returns 1 for
 * an envelope, with *key_out (malloc'd, checked as ingest_key_parse()
 * checks the header) and EVENTS' bytes in *events_out and *events_len_out;
 * 0 when msg is no envelope; ERR_INVAL with the reason in errmsg for an
 * envelope that is wrong, or ERR_NOMEM.
 */
int ingest_envelope(const char *msg, size_t len, char **key_out, const char **events_out,
		    size_t *events_len_out, char *errmsg);

/* Free a batch and everything it holds (events and unsent messages). */
void ingest_batch_free(struct ingest_batch *batch);

/*
 * Write the answer for a batch: {"accepted":N,"first_id":A,"last_id":B}
 * (plus "ids":[...] when they are not consecutive, and "rejected":
 * [{"error":"...","index":I},...] and "rejected_count" when a partial
 * request left events out) or
 * {"error":"...","index":I} (no index when index < 0). Each returns a
 * malloc'd NUL-terminated string, or NULL when out of memory.
 */
char *ingest_answer_json(const struct ingest_batch *batch);
char *ingest_error_json(const char *msg, long index);

#endif
