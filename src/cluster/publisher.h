/*
 * The publisher: producers' batches go to the stream, one message per
 * event, from a thread of its own so that the loop never waits on NATS.
 * Private to src/cluster/.
 *
 * Each event is published asynchronously with a message id, so that the
 * stream stores it once however often it is sent again. libnats calls
 * publisher_on_ack() for every acknowledgement or error; an error is
 * retried, after a back-off, until the acknowledgement timeout, and then
 * the event's batch fails. A batch is finished when every event is
 * acknowledged (its ids filled in) or given up on; it then waits in the
 * done list, and notify wakes the loop.
 */
#ifndef SENTINEL_PUBLISHER_H
#define SENTINEL_PUBLISHER_H

#include <nats/nats.h>
#include <stdint.h>

#include "ingest.h"

typedef struct publisher publisher;

struct publisher_stats {
	uint64_t pending;   /* events published, not acknowledged yet */
	uint64_t published; /* events acknowledged */
	uint64_t retried;   /* publishes sent again */
	uint64_t failed;    /* events given up on */
};

/* A publisher to subject of stream, naming its messages after node. */
publisher *publisher_create(const char *stream, const char *subject, const char *node,
			    int64_t ack_timeout_us, void (*notify)(void *arg), void *arg);

/* The libnats acknowledgement handler (jsOptions.PublishAsync.AckHandler,
 * closure: the publisher). */
void publisher_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure);

/* Start the thread on the JetStream context js. Returns 0 or ERR_SYS. */
int publisher_start(publisher *p, jsCtx *js);

/* Queue a batch. Returns 0, or ERR_CLOSED once stopping (caller keeps it). */
int publisher_submit(publisher *p, struct ingest_batch *b);

/* Take the finished batches, in the order they finished (linked by ->next):
 * status 0 with b->ids filled, or the error. */
struct ingest_batch *publisher_take_done(publisher *p);

void publisher_get_stats(publisher *p, struct publisher_stats *out);

/* Refuse new batches, fail what is queued or in flight, join the thread. */
void publisher_stop(publisher *p);

/* Free the publisher and whatever batches it still holds (NULL allowed). */
void publisher_destroy(publisher *p);

#endif
