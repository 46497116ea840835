/*
 * Keys in flight and answers given (see idem.h). The table of keys in
 * flight is a chained hash of BUCKETS lists; it holds one entry per
 * request being committed, so it is as small as the number of producers
 * waiting. An entry owns its waiters, the first request's included, and
 * the batch's answer reaches each of them in the order they came.
 */
#include "idem.h"

#include <libwebsockets.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "reply.h"
#include "store_keys.h"
#include "timestamp.h"

#define BUCKETS 1024

/* Not in lws 4.1's list of statuses. */
#define STATUS_UNPROCESSABLE 422

struct idem_entry {
	idem *id;
	char *key;
	unsigned char hash[INGEST_KEY_HASH_SIZE];
	int loki;
	struct idem_wait *waiters, **tail; /* the first request first */
	unsigned count;
	struct idem_entry *next; /* in its bucket */
};

struct idem_wait {
	struct idem_entry *e;
	idem_answer_fn fn;
	void *arg;
	int first; /* the request that put the key in flight */
	struct idem_wait *next;
};

struct idem {
	store *reader;
	int64_t window_us;
	struct idem_entry *buckets[BUCKETS];
	struct idem_stats stats;
};

idem *
idem_create(store *reader, int64_t window_us)
{
	idem *id = calloc(1, sizeof *id);

	if (!id)
		return NULL;
	id->reader = reader;
	id->window_us = window_us;
	return id;
}

static void
free_entry(struct idem_entry *e)
{
	for (struct idem_wait *w = e->waiters, *next; w; w = next) {
		next = w->next;
		free(w);
	}
	free(e->key);
	free(e);
}

void
idem_destroy(idem *id)
{
	if (!id)
		return;
	for (size_t i = 0; i < BUCKETS; i++)
		for (struct idem_entry *e = id->buckets[i], *next; e; e = next) {
			next = e->next;
			free_entry(e);
		}
	free(id);
}

int
idem_enabled(const idem *id)
{
	return id->window_us > 0;
}

void
idem_fingerprint(const char *kind, const char *params, const void *body, size_t len,
		 unsigned char out[INGEST_KEY_HASH_SIZE])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	/* Each part ends with a newline, which kind and params never hold. */
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, kind, strlen(kind)) || !EVP_DigestUpdate(ctx, "\n", 1) ||
	    !EVP_DigestUpdate(ctx, params, strlen(params)) || !EVP_DigestUpdate(ctx, "\n", 1) ||
	    !EVP_DigestUpdate(ctx, body, len) || !EVP_DigestFinal_ex(ctx, out, &n) ||
	    n != INGEST_KEY_HASH_SIZE) {
		/* Only memory can fail here: no fingerprint matches a failed one. */
		log_error("cannot compute a request's SHA-256");
		memset(out, 0, INGEST_KEY_HASH_SIZE);
		out[0] = 1;
	}
	EVP_MD_CTX_free(ctx);
}

static size_t
bucket_of(const char *key)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * UINT64_C(1099511628211);
	return (size_t)(h & (BUCKETS - 1));
}

static struct idem_entry *
find(idem *id, const char *key)
{
	for (struct idem_entry *e = id->buckets[bucket_of(key)]; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

/* Take e out of the table. */
static void
unlink_entry(struct idem_entry *e)
{
	struct idem_entry **p = &e->id->buckets[bucket_of(e->key)];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
}

/* Add a waiter for e. Returns it, or NULL when out of memory. */
static struct idem_wait *
add_waiter(struct idem_entry *e, idem_answer_fn fn, void *arg, int first)
{
	struct idem_wait *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->e = e;
	w->fn = fn;
	w->arg = arg;
	w->first = first;
	*e->tail = w;
	e->tail = &w->next;
	e->count++;
	return w;
}

static enum idem_verdict
refuse(idem_answer_fn fn, void *arg, int status, const char *msg)
{
	struct idem_answer a = {.status = status, .errmsg = msg};

	fn(arg, &a);
	return IDEM_ANSWERED;
}

enum idem_verdict
idem_check(idem *id, const char *key, const unsigned char *hash, int loki, idem_answer_fn fn,
	   void *arg, struct idem_wait **wait_out)
{
	struct idem_entry *e = find(id, key);
	struct store_key k;
	int rc;

	if (e) {
		if (memcmp(e->hash, hash, INGEST_KEY_HASH_SIZE)) {
			id->stats.conflicts++;
			return refuse(fn, arg, STATUS_UNPROCESSABLE,
				      "this Idempotency-Key was used for another request");
		}
		if (e->count >= IDEM_MAX_WAITERS) {
			id->stats.busy++;
			return refuse(fn, arg, HTTP_STATUS_CONFLICT,
				      "a request with this Idempotency-Key is in progress; retry");
		}
		if (!(*wait_out = add_waiter(e, fn, arg, 0)))
			return refuse(fn, arg, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory");
		return IDEM_WAITING;
	}
	rc = store_keys_get(id->reader, key, &k);
	if (rc < 0) {
		log_error("reading an idempotency key failed: %s", store_errmsg(id->reader));
		return refuse(fn, arg, HTTP_STATUS_SERVICE_UNAVAILABLE, "the store cannot be read");
	}
	/* A key older than the window counts as unused (expiry deletes it). */
	if (rc == 1 && k.created_us >= timestamp_now() - id->window_us) {
		enum idem_verdict v = IDEM_ANSWERED;
		if (memcmp(k.hash, hash, INGEST_KEY_HASH_SIZE)) {
			id->stats.conflicts++;
			refuse(fn, arg, STATUS_UNPROCESSABLE,
			       "this Idempotency-Key was used for another request");
		} else {
			struct idem_answer a = {
				.status = k.status, .body = k.answer, .replayed = 1};
			id->stats.replays++;
			fn(arg, &a);
		}
		free(k.answer);
		return v;
	}
	if (rc == 1)
		free(k.answer);
	if (!(e = calloc(1, sizeof *e)) || !(e->key = strdup(key))) {
		free(e);
		return refuse(fn, arg, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory");
	}
	e->id = id;
	memcpy(e->hash, hash, INGEST_KEY_HASH_SIZE);
	e->loki = loki;
	e->tail = &e->waiters;
	if (!(*wait_out = add_waiter(e, fn, arg, 1))) {
		free_entry(e);
		return refuse(fn, arg, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory");
	}
	size_t i = bucket_of(key);
	e->next = id->buckets[i];
	id->buckets[i] = e;
	return IDEM_NEW;
}

/*
 * Hand a to every waiter of e, in order, then forget e. A success is a
 * replay for all but the request that put the key in flight.
 */
static void
finish(struct idem_entry *e, const struct idem_answer *a)
{
	unlink_entry(e);
	for (struct idem_wait *w = e->waiters, *next; w; w = next) {
		struct idem_answer mine = *a;
		next = w->next;
		e->waiters = next;
		mine.replayed = a->status < 300 && !w->first;
		e->id->stats.replays += (uint64_t)mine.replayed;
		w->fn(w->arg, &mine);
		free(w);
	}
	free_entry(e);
}

/* The journal is done with a key's batch: answer everyone who waits. */
static void
batch_done(struct ingest_batch *b)
{
	struct idem_entry *e = b->owner;
	struct idem_answer a = {0};
	char *json = NULL;

	if (b->status) {
		a.status = reply_status_for(b->status);
		a.errmsg = b->errmsg;
	} else if (e->loki) {
		a.status = HTTP_STATUS_NO_CONTENT;
		a.body = "";
	} else if ((json = ingest_answer_json(b))) {
		a.status = HTTP_STATUS_OK;
		a.body = json;
	} else {
		a.status = HTTP_STATUS_SERVICE_UNAVAILABLE;
		a.errmsg = "out of memory";
	}
	finish(e, &a);
	free(json);
	ingest_batch_free(b);
}

void
idem_attach(struct idem_wait *w, struct ingest_batch *b)
{
	struct idem_entry *e = w->e;

	memcpy(b->idem_hash, e->hash, INGEST_KEY_HASH_SIZE);
	b->idem_status = e->loki ? HTTP_STATUS_NO_CONTENT : HTTP_STATUS_OK;
	b->owner = e;
	b->on_done = batch_done;
}

void
idem_abandon(struct idem_wait *w)
{
	struct idem_entry *e = w->e;
	struct idem_answer a = {
		.status = HTTP_STATUS_CONFLICT,
		.errmsg = "the request with this Idempotency-Key stored nothing; retry"};

	/* The first request is answered by its caller. */
	e->waiters = w->next;
	if (!e->waiters)
		e->tail = &e->waiters;
	free(w);
	finish(e, &a);
}

void
idem_cancel(struct idem_wait *w)
{
	if (!w)
		return;
	struct idem_entry *e = w->e;
	struct idem_wait **p = &e->waiters;

	while (*p != w)
		p = &(*p)->next;
	*p = w->next;
	if (e->tail == &w->next)
		e->tail = p;
	e->count--;
	free(w);
}

void
idem_get_stats(const idem *id, struct idem_stats *out)
{
	*out = id->stats;
}
