/*
 * A node of a cluster (see cluster.h): the NATS connection, the stream,
 * the store's adoption, and the journal that puts the publisher, the
 * applier and the local store behind the journal seam.
 *
 * A producer's batch is answered once every event is acknowledged by the
 * stream and applied here (read-your-writes: a client that posts and then
 * subscribes on the same node sees its events), or at the latest
 * APPLY_WAIT_US after the acknowledgement, when this node is behind: the
 * events are durable in the stream by then. The loop keeps acknowledged
 * batches in a waiting list until then (loop thread only).
 */
#include "cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "applier.h"
#include "err.h"
#include "log.h"
#include "publisher.h"
#include "stream.h"
#include "timestamp.h"

/* Answer an acknowledged batch by then even if this node has not applied it. */
#define APPLY_WAIT_US 5000000
/* At most this many servers in --jetstream. */
#define MAX_URLS 16

/* An acknowledged batch waiting for this node to apply it. */
struct waiting {
	struct ingest_batch *b;
	int64_t since_us;
	struct waiting *next;
};

struct cluster {
	struct cluster_options o;
	natsOptions *nopts;
	natsConnection *nc;
	jsCtx *js;
	struct stream_facts facts;
	publisher *pub;
	applier *app;
	writer *w;
	journal *local; /* reads: the local store */
	journal *journal;
	void (*notify)(void *arg);
	void *notify_arg;
	atomic_int connected;
	/* Loop thread only. */
	struct waiting *waiting, **waiting_tail;
	int64_t applied_seen; /* the highest id the loop has published */
};

/* The publisher's and applier's wake-up: the loop's, once started. */
static void
wake(void *arg)
{
	cluster *c = arg;
	if (c->notify)
		c->notify(c->notify_arg);
}

static void
on_disconnected(natsConnection *nc, void *arg)
{
	cluster *c = arg;
	(void)nc;
	atomic_store(&c->connected, 0);
	log_warn("cluster: disconnected from NATS; ingest waits (503 after the "
		 "acknowledgement timeout), reads go on");
}

static void
on_reconnected(natsConnection *nc, void *arg)
{
	cluster *c = arg;
	char url[256] = "";
	natsConnection_GetConnectedUrl(nc, url, sizeof url);
	atomic_store(&c->connected, 1);
	log_info("cluster: connected to %s", url);
}

/* NATS options from ours. Returns 0 or ERR_* with errmsg. */
static int
nats_options(cluster *c, char *errmsg)
{
	const struct cluster_options *o = &c->o;
	const char *servers[MAX_URLS];
	char *urls = strdup(o->urls), *save = NULL;
	int count = 0, rc = 0;
	char name[200];

	if (!urls)
		return err_set(errmsg, ERR_NOMEM, "out of memory");
	for (char *u = strtok_r(urls, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
		if (count == MAX_URLS) {
			free(urls);
			return err_set(errmsg, ERR_INVAL, "--jetstream: at most %d servers",
				       MAX_URLS);
		}
		servers[count++] = u;
	}
	snprintf(name, sizeof name, "sentinel-logd %s", o->node);
	if (!count)
		rc = err_set(errmsg, ERR_INVAL, "--jetstream: no server URL");
	else if (natsOptions_Create(&c->nopts) != NATS_OK ||
		 natsOptions_SetServers(c->nopts, servers, count) != NATS_OK ||
		 natsOptions_SetName(c->nopts, name) != NATS_OK ||
		 natsOptions_SetMaxReconnect(c->nopts, -1) != NATS_OK ||
		 natsOptions_SetReconnectWait(c->nopts, 250) != NATS_OK ||
		 natsOptions_SetTimeout(c->nopts, 2000) != NATS_OK ||
		 natsOptions_SetDisconnectedCB(c->nopts, on_disconnected, c) != NATS_OK ||
		 natsOptions_SetReconnectedCB(c->nopts, on_reconnected, c) != NATS_OK)
		rc = err_set(errmsg, ERR_INVAL, "--jetstream: %s", nats_GetLastError(NULL));
	else if (o->creds &&
		 natsOptions_SetUserCredentialsFromFiles(c->nopts, o->creds, NULL) != NATS_OK)
		rc = err_set(errmsg, ERR_INVAL, "--jetstream-creds %s: %s", o->creds,
			     nats_GetLastError(NULL));
	else if ((o->tls_ca || o->tls_cert) && natsOptions_SetSecure(c->nopts, true) != NATS_OK)
		rc = err_set(errmsg, ERR_INVAL, "TLS to NATS: %s", nats_GetLastError(NULL));
	else if (o->tls_ca && natsOptions_LoadCATrustedCertificates(c->nopts, o->tls_ca) != NATS_OK)
		rc = err_set(errmsg, ERR_INVAL, "--jetstream-tls-ca %s: %s", o->tls_ca,
			     nats_GetLastError(NULL));
	else if (o->tls_cert &&
		 natsOptions_LoadCertificatesChain(c->nopts, o->tls_cert, o->tls_key) != NATS_OK)
		rc = err_set(errmsg, ERR_INVAL, "--jetstream-tls-cert %s: %s", o->tls_cert,
			     nats_GetLastError(NULL));
	free(urls); /* libnats copied the URLs */
	return rc;
}

/* Connect, retrying until the acknowledgement timeout. */
static int
connect_nats(cluster *c, char *errmsg)
{
	int64_t deadline = timestamp_now() + c->o.ack_timeout_us;
	natsStatus s;

	for (;;) {
		s = natsConnection_Connect(&c->nc, c->nopts);
		if (s == NATS_OK)
			break;
		if (timestamp_now() >= deadline)
			return err_set(errmsg, ERR_IO, "cannot connect to NATS at %s: %s",
				       c->o.urls, nats_GetLastError(NULL));
		struct timespec ts = {0, 500 * 1000000};
		nanosleep(&ts, NULL);
	}
	atomic_store(&c->connected, 1);
	return 0;
}

/* Create the stream from the options. */
static int
create_stream(cluster *c, char *errmsg)
{
	const struct cluster_options *o = &c->o;
	const char *subjects[1] = {o->subject};
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;

	jsStreamConfig_Init(&sc);
	sc.Name = o->stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Retention = js_LimitsPolicy;
	sc.Discard = js_DiscardOld;
	sc.Replicas = o->replicas;
	sc.MaxAge = o->max_age_us * 1000;
	sc.MaxBytes = o->max_bytes ? o->max_bytes : -1;
	sc.MaxMsgs = o->max_msgs ? o->max_msgs : -1;
	sc.Duplicates = o->dedupe_us * 1000;
	if (js_AddStream(&si, c->js, &sc, NULL, &jerr) != NATS_OK)
		return err_set(errmsg, ERR_IO, "cannot create the stream '%s': %s", o->stream,
			       nats_GetLastError(NULL));
	jsStreamInfo_Destroy(si);
	log_info("cluster: created the stream '%s' on %s (%d replicas)", o->stream, o->subject,
		 o->replicas);
	return 0;
}

/* The stream must keep events at least as long as this node does. */
static int
check_retention(cluster *c, const struct retention_policy *local, char *errmsg)
{
	int64_t keep = c->facts.max_age_us;

	if (keep) {
		int64_t longest = local->max_age_us;
		for (size_t i = 0; i < local->type_count; i++)
			if (local->types[i].max_age_us > longest)
				longest = local->types[i].max_age_us;
		if (!local->max_age_us || longest > keep)
			return err_set(
				errmsg, ERR_INVAL,
				"the stream '%s' keeps events for %llds but this node keeps "
				"them %s: a node rebuilt from the stream would lack events "
				"the others have. Set --retain-age (and every --retain) to at "
				"most %llds, or raise the stream's max age",
				c->o.stream, (long long)(keep / 1000000),
				local->max_age_us ? "longer" : "forever",
				(long long)(keep / 1000000));
	}
	if (c->facts.max_msgs > 0 || c->facts.max_bytes > 0)
		log_warn("cluster: the stream '%s' is bounded by messages or bytes: a node rebuilt "
			 "from it holds only what it still keeps",
			 c->o.stream);
	return 0;
}

cluster *
cluster_open(const struct cluster_options *o, const struct retention_policy *local, char *errmsg)
{
	cluster *c = calloc(1, sizeof *c);
	jsOptions jo;
	int rc;

	if (!c) {
		err_set(errmsg, ERR_NOMEM, "out of memory");
		return NULL;
	}
	c->o = *o;
	c->waiting_tail = &c->waiting;
	c->pub = publisher_create(o->stream, o->subject, o->node, o->ack_timeout_us, wake, c);
	if (!c->pub) {
		err_set(errmsg, ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (nats_options(c, errmsg) || connect_nats(c, errmsg))
		goto fail;
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	jo.PublishAsync.MaxPending = 4096;
	jo.PublishAsync.AckHandler = publisher_on_ack;
	jo.PublishAsync.AckHandlerClosure = c->pub;
	if (natsConnection_JetStream(&c->js, c->nc, &jo) != NATS_OK) {
		err_set(errmsg, ERR_IO, "JetStream: %s", nats_GetLastError(NULL));
		goto fail;
	}
	rc = stream_get(c->js, o->stream, &c->facts, errmsg);
	if (rc == ERR_INVAL && o->create) {
		if (create_stream(c, errmsg))
			goto fail;
		rc = stream_get(c->js, o->stream, &c->facts, errmsg);
	} else if (rc == ERR_INVAL) {
		size_t n = strlen(errmsg);
		snprintf(errmsg + n, ERRMSG_SIZE - n, "; pass --jetstream-create to create it");
	}
	if (rc || check_retention(c, local, errmsg))
		goto fail;
	log_info("cluster: stream '%s' (epoch %s, %d replicas) at sequence %" PRIu64, o->stream,
		 c->facts.epoch, c->facts.replicas, c->facts.last_seq);
	return c;
fail:
	cluster_close(c);
	return NULL;
}

const char *
cluster_epoch(const cluster *c)
{
	return c->facts.epoch;
}

/* Rename path (and its -wal and -shm) to path.epoch-OLD. */
static int
move_aside(const char *path, const char *old, char *errmsg)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char from[4200], to[4300];

	for (size_t i = 0; i < 3; i++) {
		snprintf(from, sizeof from, "%s%s", path, suffixes[i]);
		snprintf(to, sizeof to, "%s.epoch-%s%s", path, old[0] ? old : "none", suffixes[i]);
		if (rename(from, to) && errno != ENOENT)
			return err_set(errmsg, ERR_SYS, "cannot move %s aside: %s", from,
				       strerror(errno));
	}
	return 0;
}

/* Open the store at path and read what says whose replica it is. */
static store *
open_replica(const char *path, char *epoch, char *stream, int64_t *applied, int64_t *last,
	     char *errmsg)
{
	char text[64];
	int err, found;
	store *st = store_open(path, STORE_WRITE, &err, errmsg);

	if (!st)
		return NULL;
	*applied = 0;
	if (store_meta_get(st, "epoch", epoch, STREAM_EPOCH_SIZE + 16, &found) ||
	    store_meta_get(st, "stream", stream, 256, &found) ||
	    (!found && (stream[0] = '\0', 0)) ||
	    store_meta_get(st, "applied_seq", text, sizeof text, &found) ||
	    store_last_id(st, last)) {
		err_set(errmsg, ERR_IO, "%s: %s", path, store_errmsg(st));
		store_close(st);
		return NULL;
	}
	if (found)
		*applied = strtoll(text, NULL, 10);
	return st;
}

int
cluster_adopt_store(cluster *c, const char *path, char *errmsg)
{
	char epoch[64], stream[256];
	int64_t applied, last;
	int rc = 0;
	store *st = open_replica(path, epoch, stream, &applied, &last, errmsg);

	if (!st)
		return ERR_IO;
	if (!stream[0] && last > 0) {
		store_close(st);
		return err_set(
			errmsg, ERR_INVAL,
			"%s holds %lld events of a single node: a cluster node needs a store "
			"of its own (a new --db), filled from the stream",
			path, (long long)last);
	}
	if (stream[0] && (strcmp(stream, c->o.stream) || strcmp(epoch, c->facts.epoch) ||
			  (uint64_t)applied > c->facts.last_seq)) {
		log_warn("cluster: %s is a replica of stream '%s' epoch %s up to %lld, but the "
			 "stream is '%s' epoch %s up to %" PRIu64 ": moving it aside to "
			 "%s.epoch-%s and rebuilding from the stream",
			 path, stream, epoch, (long long)applied, c->o.stream, c->facts.epoch,
			 c->facts.last_seq, path, epoch);
		store_close(st);
		if ((rc = move_aside(path, epoch, errmsg)))
			return rc;
		if (!(st = open_replica(path, epoch, stream, &applied, &last, errmsg)))
			return ERR_IO;
	}
	if (!stream[0] && ((rc = store_meta_set(st, "epoch", c->facts.epoch)) ||
			   (rc = store_meta_set(st, "stream", c->o.stream))))
		err_set(errmsg, rc, "%s: %s", path, store_errmsg(st));
	store_close(st);
	return rc;
}

/* ------------------------------------------------------------ the journal */

static int
cj_append(void *impl, struct ingest_batch *b)
{
	cluster *c = impl;
	b->remote = 1;
	return publisher_submit(c->pub, b);
}

/* Take the waiting batches this node has applied, or waited long enough for. */
static struct ingest_batch *
take_ready(cluster *c, int64_t now)
{
	struct ingest_batch *ready = NULL, **tail = &ready;
	struct waiting **pw = &c->waiting;

	while (*pw) {
		struct waiting *wt = *pw;
		struct ingest_batch *b = wt->b;
		if (b->status == 0 && b->last_id > c->applied_seen &&
		    now - wt->since_us < APPLY_WAIT_US) {
			pw = &wt->next;
			continue;
		}
		*pw = wt->next;
		free(wt);
		b->next = NULL;
		*tail = b;
		tail = &b->next;
	}
	c->waiting_tail = pw;
	return ready;
}

static struct ingest_batch *
cj_take_done(void *impl)
{
	cluster *c = impl;
	struct ingest_batch *out = writer_take_done(c->w), **tail = &out, *b, *next;
	int64_t now = timestamp_now();

	/* What the applier committed comes first: the loop publishes it. */
	for (; *tail; tail = &(*tail)->next)
		if ((*tail)->status == 0 && (*tail)->last_id > c->applied_seen)
			c->applied_seen = (*tail)->last_id;
	/* Acknowledged batches wait until they are applied here. */
	for (b = publisher_take_done(c->pub); b; b = next) {
		struct waiting *wt = malloc(sizeof *wt);
		next = b->next;
		b->next = NULL;
		if (!wt) { /* cannot wait: answer now, the events are durable */
			*tail = b;
			tail = &b->next;
			continue;
		}
		*wt = (struct waiting){.b = b, .since_us = now};
		*c->waiting_tail = wt;
		c->waiting_tail = &wt->next;
	}
	*tail = take_ready(c, now);
	return out;
}

static int
cj_read_after(void *impl, int64_t after_id, int limit, store_row_fn fn, void *arg, int *count_out)
{
	return journal_read_after(((cluster *)impl)->local, after_id, limit, fn, arg, count_out);
}

static int
cj_first_id(void *impl, int64_t *id_out)
{
	return journal_first_id(((cluster *)impl)->local, id_out);
}

/*
 * Another node may have handed out ids this one has not applied yet: no
 * id is known to be above all of them, so a client's id is never taken for
 * one from another store.
 */
static int
cj_last_id(void *impl, int64_t *id_out)
{
	(void)impl;
	*id_out = INT64_MAX;
	return 0;
}

static int
cj_lost(void *impl, int64_t id, int64_t *from_out, int64_t *to_out)
{
	return journal_lost(((cluster *)impl)->local, id, from_out, to_out);
}

static int
cj_first_id_since(void *impl, int64_t ts_us, int64_t *id_out)
{
	return journal_first_id_since(((cluster *)impl)->local, ts_us, id_out);
}

static const char *
cj_epoch(void *impl)
{
	return ((cluster *)impl)->facts.epoch;
}

static const char *
cj_errmsg(void *impl)
{
	return journal_errmsg(((cluster *)impl)->local);
}

static const struct journal_ops cluster_ops = {
	.append = cj_append,
	.take_done = cj_take_done,
	.read_after = cj_read_after,
	.first_id = cj_first_id,
	.last_id = cj_last_id,
	.lost = cj_lost,
	.first_id_since = cj_first_id_since,
	.epoch = cj_epoch,
	.errmsg = cj_errmsg,
	.destroy = NULL, /* the cluster owns itself */
};

int
cluster_start(cluster *c, writer *w, store *reader, void (*notify)(void *arg), void *arg,
	      char *errmsg)
{
	char text[64];
	int64_t applied = 0, last = 0;
	int found = 0;

	if (store_meta_get(reader, "applied_seq", text, sizeof text, &found) ||
	    store_last_id(reader, &last))
		return err_set(errmsg, ERR_IO, "cannot read the store: %s", store_errmsg(reader));
	if (found)
		applied = strtoll(text, NULL, 10);
	c->w = w;
	c->notify = notify;
	c->notify_arg = arg;
	c->applied_seen = last;
	c->local = journal_local_new(w, reader);
	c->journal = journal_new(&cluster_ops, c);
	c->app = applier_create(c->o.stream, c->o.subject, c->facts.epoch, w, applied, wake, c);
	if (!c->local || !c->journal || !c->app)
		return err_set(errmsg, ERR_NOMEM, "out of memory");
	if (publisher_start(c->pub, c->js) || applier_start(c->app, c->js))
		return err_set(errmsg, ERR_SYS, "cannot start the cluster's threads");
	log_info("cluster: node %s applies '%s' from sequence %lld", c->o.node, c->o.stream,
		 (long long)applied + 1);
	return 0;
}

journal *
cluster_journal(cluster *c)
{
	return c->journal;
}

void
cluster_get_stats(cluster *c, struct cluster_stats *out)
{
	struct publisher_stats ps;
	struct applier_stats as = {0};

	publisher_get_stats(c->pub, &ps);
	if (c->app)
		applier_get_stats(c->app, &as);
	out->connected = atomic_load(&c->connected);
	out->stream_last = as.stream_last;
	out->applied = as.applied;
	out->lag = as.lag;
	out->publish_pending = ps.pending;
	out->published = ps.published;
	out->republished = ps.retried;
	out->publish_failed = ps.failed;
}

int
cluster_metrics(cluster *c, struct buf *b)
{
	static const struct {
		const char *name, *type, *help;
	} families[] = {
		{"sentinel_jetstream_connected", "gauge", "1 while connected to a NATS server."},
		{"sentinel_jetstream_applied_seq", "gauge",
		 "The highest stream sequence applied to this node's store."},
		{"sentinel_jetstream_stream_seq", "gauge",
		 "The stream's last sequence, as last seen."},
		{"sentinel_jetstream_lag", "gauge", "Events of the stream not applied here yet."},
		{"sentinel_jetstream_publish_pending", "gauge",
		 "Events published and not acknowledged yet."},
		{"sentinel_jetstream_published_total", "counter",
		 "Events acknowledged by the stream since start."},
		{"sentinel_jetstream_republished_total", "counter",
		 "Publishes sent again after an error or a lost acknowledgement."},
		{"sentinel_jetstream_publish_failed_total", "counter",
		 "Events given up on after the acknowledgement timeout."},
	};
	struct cluster_stats st;
	double values[8];

	cluster_get_stats(c, &st);
	values[0] = st.connected;
	values[1] = (double)st.applied;
	values[2] = (double)st.stream_last;
	values[3] = (double)st.lag;
	values[4] = (double)st.publish_pending;
	values[5] = (double)st.published;
	values[6] = (double)st.republished;
	values[7] = (double)st.publish_failed;
	for (size_t i = 0; i < 8; i++)
		if (buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", families[i].name,
			       families[i].help, families[i].name, families[i].type,
			       families[i].name, values[i]))
			return ERR_NOMEM;
	return 0;
}

int
cluster_ready(cluster *c, const char **why)
{
	struct cluster_stats st;

	cluster_get_stats(c, &st);
	if (!st.connected) {
		*why = "not connected to NATS";
		return 0;
	}
	if (c->o.max_lag && st.lag > (uint64_t)c->o.max_lag) {
		*why = "this node is behind the stream by more than --jetstream-max-lag";
		return 0;
	}
	return 1;
}

int
cluster_fatal(cluster *c)
{
	return c->app && applier_fatal(c->app);
}

void
cluster_stop(cluster *c)
{
	if (!c)
		return;
	publisher_stop(c->pub);
	if (c->app)
		applier_stop(c->app);
	wake(c);
}

void
cluster_close(cluster *c)
{
	if (!c)
		return;
	/* The connection's threads call into the publisher: close it first. */
	if (c->nc) {
		natsConnection_Close(c->nc);
		natsConnection_Destroy(c->nc);
	}
	jsCtx_Destroy(c->js);
	natsOptions_Destroy(c->nopts);
	nats_CloseAndWait(2000);
	for (struct waiting *wt = c->waiting, *next; wt; wt = next) {
		next = wt->next;
		ingest_batch_free(wt->b);
		free(wt);
	}
	applier_destroy(c->app);
	publisher_destroy(c->pub);
	journal_free(c->journal);
	journal_free(c->local);
	free(c);
}
