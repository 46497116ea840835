/*
 * A Loki push (POST /loki/api/v1/push, JSON) as a batch of events.
 *
 * Each entry of each stream becomes one event: the line is its "message",
 * its time (nanoseconds since the epoch, as a string) its "timestamp" in
 * ISO 8601 UTC with microseconds, the stream's "type" label its "type"
 * (LOKI_PUSH_DEFAULT_TYPE without one), and every other label, with the
 * entry's structured metadata, a member of its "data" object (a label
 * wins over metadata of the same name). Stored as
 * {"type":…,"message":…,"timestamp":…,"data":{…}}, it reads back through
 * the Loki API with the same labels and line.
 */
#ifndef SENTINEL_LOKI_PUSH_H
#define SENTINEL_LOKI_PUSH_H

#include <stddef.h>

#include "ingest.h"

/* The type of entries whose stream has no "type" label. */
#define LOKI_PUSH_DEFAULT_TYPE "loki"

/*
 * Parse a push body into a new batch, every entry checked before anything
 * is kept (one bad entry refuses the push). err->index counts entries
 * across streams. Returns the batch, or NULL with *err filled.
 */
struct ingest_batch *loki_push_parse(const char *body, size_t len, size_t event_max,
				     struct ingest_error *err);

#endif
