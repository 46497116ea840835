/*
 * The applier: a thread that reads the stream in order (an ordered
 * consumer) from the position this node has applied, and hands the events
 * to the writer with their sequence numbers as ids. Private to
 * src/cluster/.
 *
 * One group is in flight at a time: the applier waits until the writer
 * committed it (writer_on_commit) before it submits the next, so a failed
 * commit is retried from the last position committed and ids reach the
 * store, and the hub, only in order. Every few seconds it also reads the
 * stream's facts: a stream re-created (another epoch) or holding less than
 * this node applied makes the node's state unusable (applier_fatal).
 */
#ifndef SENTINEL_APPLIER_H
#define SENTINEL_APPLIER_H

#include <nats/nats.h>
#include <stdint.h>

#include "writer.h"

typedef struct applier applier;

struct applier_stats {
	int64_t applied;      /* the highest sequence committed here */
	uint64_t stream_last; /* the stream's last sequence, as last seen */
	uint64_t lag;         /* events of the stream not applied yet */
};

/*
 * An applier of subject on stream (whose epoch is epoch) into w, from
 * sequence applied + 1 on. notify wakes the loop when the stream turns out
 * unusable. NULL when out of memory.
 */
applier *applier_create(const char *stream, const char *subject, const char *epoch, writer *w,
			int64_t applied, void (*notify)(void *arg), void *arg);

/* Start the thread on js. Returns 0 or ERR_SYS. */
int applier_start(applier *a, jsCtx *js);

void applier_get_stats(applier *a, struct applier_stats *out);

/* Non-zero once the stream was found re-created or truncated. */
int applier_fatal(applier *a);

/* Stop and join the thread (before the writer stops). */
void applier_stop(applier *a);

void applier_destroy(applier *a);

#endif
