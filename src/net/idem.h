/*
 * Idempotency keys on the loop: a producer that retries a request with the
 * same Idempotency-Key (POST /api/events, a Loki push, a /ws/ingest
 * envelope) gets the first request's answer again, and nothing is stored
 * twice.
 *
 * A request is known by its key and its fingerprint (SHA-256 of its kind,
 * its parameters and its body). A key is either in flight (a request with
 * it is being committed: a table here) or answered (a row of the store,
 * written by the writer in the transaction of the events, store_keys.h,
 * looked up on the loop's read-only handle) or unused. The first request
 * with a key goes on and puts the key in flight; while it is, requests
 * with the same key and fingerprint wait for its answer (up to
 * IDEM_MAX_WAITERS, beyond which they get 409), and one with another
 * fingerprint gets 422. Once it is answered, the same request gets the
 * stored answer (marked as a replay) and another one 422, until the key
 * is older than the window. A key stays in flight until its batch comes
 * back from the journal, also when the request that sent it has gone.
 *
 * A replicated journal records no keys: on a cluster node this table
 * still orders the requests of one node, and the stream's duplicate
 * window does the rest (README). Loop thread only.
 */
#ifndef SENTINEL_IDEM_H
#define SENTINEL_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "store.h"

/* Requests that may wait for one key's answer. */
#define IDEM_MAX_WAITERS 16

typedef struct idem idem;
struct idem_wait; /* a request waiting for a key's answer */

/* How a request with a key is answered. */
struct idem_answer {
	int status;         /* 200, 204 (a Loki push), or an error's HTTP status */
	const char *body;   /* a success's body ("" for 204), or NULL */
	const char *errmsg; /* an error's message, or NULL */
	int replayed;       /* the answer of an earlier request */
};

/* Called once with a request's answer; the wait is then over (forget it). */
typedef void (*idem_answer_fn)(void *arg, const struct idem_answer *a);

/*
 * Keys over the loop's read-only handle reader (which outlives the
 * table), kept window_us; 0 turns keys off (idem_enabled() is 0). NULL:
 * out of memory.
 */
idem *idem_create(store *reader, int64_t window_us);

/* Free the table; the requests still waiting are dropped unanswered. */
void idem_destroy(idem *id);

/* Returns 1 when keys are honoured, 0 when --idempotency-window is 0. */
int idem_enabled(const idem *id);

/*
 * The fingerprint of a request: its kind ("events", "loki"), its format
 * and parameters as text, and its body.
 */
void idem_fingerprint(const char *kind, const char *params, const void *body, size_t len,
		      unsigned char out[INGEST_KEY_HASH_SIZE]);

enum idem_verdict {
	IDEM_NEW,      /* the first: append it (idem_attach), or idem_abandon */
	IDEM_ANSWERED, /* fn was called: a replay, a refusal (422, 409) or 503 */
	IDEM_WAITING,  /* the same request is in flight: fn is called with its answer */
};

/*
 * Check a request that carries key, with fingerprint hash, from a Loki
 * push (loki) or not. For IDEM_NEW and IDEM_WAITING, *wait_out is the
 * request's wait, for idem_attach(), idem_abandon() or idem_cancel().
 */
enum idem_verdict idem_check(idem *id, const char *key, const unsigned char *hash, int loki,
			     idem_answer_fn fn, void *arg, struct idem_wait **wait_out);

/*
 * The first request's batch (its idem_key set) goes to the journal: the
 * batch is now answered through the key (its owner and on_done are set),
 * to every request waiting for it, the first included.
 */
void idem_attach(struct idem_wait *w, struct ingest_batch *b);

/*
 * The first request stores nothing after all (refused, or empty): the key
 * is no longer in flight; a request waiting for it is told to retry (409).
 * The first request's fn is not called.
 */
void idem_abandon(struct idem_wait *w);

/* A waiting request's connection closed: it no longer waits (NULL is
 * allowed). The key's batch, if any, is committed all the same. */
void idem_cancel(struct idem_wait *w);

struct idem_stats {
	uint64_t replays;   /* answered with an earlier request's answer */
	uint64_t conflicts; /* 422: the key of another request */
	uint64_t busy;      /* 409: too many waiting for one key */
};

void idem_get_stats(const idem *id, struct idem_stats *out);

#endif
