/*
 * The stream as a whole: its identity (the epoch every node shares) and
 * the facts a node checks against it. Private to src/cluster/.
 */
#ifndef SENTINEL_STREAM_H
#define SENTINEL_STREAM_H

#include <nats/nats.h>
#include <stdint.h>

/* Bytes of an epoch string, NUL included. */
#define STREAM_EPOCH_SIZE 17

/* What a node needs to know of the stream. */
struct stream_facts {
	char epoch[STREAM_EPOCH_SIZE];
	uint64_t first_seq, last_seq;
	int64_t max_age_us; /* 0: kept forever (as far as age goes) */
	int64_t max_msgs, max_bytes;
	int replicas;
};

/*
 * The epoch of the stream name created at created_ns: 16 hex digits of a
 * SHA-256 of both. The same on every node; another after a re-creation.
 */
void stream_epoch(const char *name, int64_t created_ns, char out[STREAM_EPOCH_SIZE]);

/*
 * Read the facts of stream name. Returns 0, ERR_INVAL when there is no
 * such stream, or ERR_IO (NATS unreachable, timeout), with the reason in
 * errmsg.
 */
int stream_get(jsCtx *js, const char *name, struct stream_facts *out, char *errmsg);

#endif
