/*
 * `sentinel-logd compact`: offline compaction of a store no server has
 * open. It counts the events of each type again (which also repairs the
 * counters after rows were changed by hand), applies the retention
 * policies in full, deletes the idempotency keys past their window,
 * rebuilds the file (VACUUM) and truncates the WAL.
 *
 * On a big store this takes minutes, so it says how far it is on stderr
 * every few seconds, and SIGINT or SIGTERM stops it safely: retention runs
 * in steps of one transaction each and stops between two, and the count
 * and the rebuild are one transaction each, which SQLite rolls back when
 * interrupted. The store is whole either way, with what retention had
 * already deleted. A reporter thread prints the progress; it touches no
 * SQLite handle, only the sizes of files.
 */
#include "compact.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "retention.h"
#include "store.h"
#include "thread_name.h"
#include "timestamp.h"

/* Seconds between two progress lines. */
#define REPORT_EVERY 2

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Interrupt the running statement once a signal arrived. */
static int
check_interrupt(void *arg)
{
	(void)arg;
	return interrupted;
}

enum phase { COUNTING, RETENTION, REBUILDING, DONE };

/* What the reporter thread reads; the main thread writes it. */
struct progress {
	const char *db_path;
	atomic_int phase;
	_Atomic int64_t removed; /* events retention deleted so far */
	int64_t expected;        /* bytes the rebuilt file should take */
	int64_t t0_us;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop;
};

/* The size of SQLite's temporary file for VACUUM ("etilqs_*"), or 0. */
static int64_t
vacuum_temp_bytes(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int64_t bytes = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char link[300], target[4096];
		struct stat sb;
		ssize_t n;
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof target - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strstr(target, "etilqs_") && stat(link, &sb) == 0)
			bytes += (int64_t)sb.st_size;
	}
	closedir(d);
	return bytes;
}

static int64_t
file_bytes(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* Print one progress line for the phase p is in. */
static void
report(struct progress *p)
{
	double secs = (double)(timestamp_now() - p->t0_us) / 1e6;
	char wal[4200];

	switch (atomic_load(&p->phase)) {
	case COUNTING:
		fprintf(stderr, "compact: counting the events of each type (%.0f s)\n", secs);
		break;
	case RETENTION:
		fprintf(stderr, "compact: retention removed %lld events so far (%.0f s)\n",
			(long long)atomic_load(&p->removed), secs);
		break;
	case REBUILDING:
		/* VACUUM writes the file once into a temporary file, then once
		 * more into the WAL. */
		snprintf(wal, sizeof wal, "%s-wal", p->db_path);
		int64_t done = vacuum_temp_bytes() + file_bytes(wal);
		double share = p->expected > 0 ? (double)done / (2.0 * (double)p->expected) : 0;
		fprintf(stderr,
			"compact: rebuilding the file: %.0f MB written, about %.0f %% (%.0f s)\n",
			(double)done / 1e6, share > 0.99 ? 99.0 : 100.0 * share, secs);
		break;
	default:
		break;
	}
}

static void *
reporter_main(void *arg)
{
	struct progress *p = arg;
	struct timespec until;

	thread_name_set("progress");
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += REPORT_EVERY;
		if (pthread_cond_timedwait(&p->wake, &p->lock, &until) != 0 && !p->stop)
			report(p);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Apply the policies in steps until nothing is left or a signal came. */
static int
retain(store *st, const struct config *cfg, struct progress *p, struct retention_result *res,
       int64_t *count)
{
	int more = 1;

	atomic_store(&p->phase, RETENTION);
	fprintf(stderr, "compact: applying the retention policies\n");
	while (more > 0 && !interrupted) {
		more = retention_step(st, &cfg->retention, timestamp_now(), RETENTION_BATCH, count,
				      res);
		atomic_store(&p->removed, res->by_age + res->by_count + res->by_bytes);
	}
	return more < 0 ? more : 0;
}

/* Delete the idempotency keys past the window, in steps, until none is left or a signal came. */
static int
expire_keys(store *st, const struct config *cfg, int64_t *keys)
{
	int64_t n;
	int more = 1;

	while (more > 0 && !interrupted) {
		more = retention_expire_keys(st, &cfg->retention, timestamp_now(), RETENTION_BATCH,
					     &n);
		if (more >= 0)
			*keys += n;
	}
	return more < 0 ? more : 0;
}

int
compact_run(const struct config *cfg)
{
	struct progress p = {.db_path = cfg->db_path, .t0_us = timestamp_now()};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	struct retention_result res = {0};
	struct store_sizes before, after, kept;
	char errmsg[ERRMSG_SIZE];
	int64_t count = 0, keys = 0;
	int err, rc = 1, reporting = 0;
	pthread_t reporter;
	store *st = store_open(cfg->db_path, STORE_WRITE, &err, errmsg);

	if (!st) {
		fprintf(stderr, "sentinel-logd: cannot compact: %s\n", errmsg);
		return 1;
	}
	if (store_renewal(st))
		fprintf(stderr, "sentinel-logd: %s has a new epoch %s: %s\n", cfg->db_path,
			store_epoch(st), store_renewal(st));
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	store_progress(st, check_interrupt, NULL);
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.wake, NULL);
	reporting = pthread_create(&reporter, NULL, reporter_main, &p) == 0;

	atomic_store(&p.phase, COUNTING);
	fprintf(stderr, "compact: counting the events of each type\n");
	if (store_sizes(st, &before) || store_begin(st))
		goto fail;
	if (store_recount(st) || store_commit(st)) {
		store_rollback(st);
		goto fail;
	}
	if (store_count(st, &count))
		goto fail;
	if (retention_active(&cfg->retention) && retain(st, cfg, &p, &res, &count))
		goto fail;
	if (!interrupted && expire_keys(st, cfg, &keys))
		goto fail;
	if (interrupted)
		goto fail;
	if (store_sizes(st, &kept))
		goto fail;
	p.expected = kept.db_bytes - kept.free_bytes;
	fprintf(stderr,
		"compact: rebuilding the file (VACUUM): it needs about %lld MB free for a "
		"temporary copy and as much again for the WAL\n",
		(long long)(p.expected / 1000000 + 1));
	atomic_store(&p.phase, REBUILDING);
	if (store_vacuum(st) || store_checkpoint(st, 1) || store_sizes(st, &after))
		goto fail;
	printf("%s: removed %lld events; %lld events kept; file %lld -> %lld bytes\n", cfg->db_path,
	       (long long)(res.by_age + res.by_count + res.by_bytes), (long long)count,
	       (long long)(before.db_bytes + before.wal_bytes),
	       (long long)(after.db_bytes + after.wal_bytes));
	if (keys)
		printf("%s: removed %lld idempotency keys older than --idempotency-window\n",
		       cfg->db_path, (long long)keys);
	rc = 0;
fail:
	atomic_store(&p.phase, DONE);
	if (reporting) {
		pthread_mutex_lock(&p.lock);
		p.stop = 1;
		pthread_cond_signal(&p.wake);
		pthread_mutex_unlock(&p.lock);
		pthread_join(reporter, NULL);
	}
	if (rc && interrupted) {
		fprintf(stderr,
			"sentinel-logd: compact interrupted; the store is whole (retention had "
			"removed %lld events)\n",
			(long long)(res.by_age + res.by_count + res.by_bytes));
		rc = 130;
	} else if (rc) {
		fprintf(stderr, "sentinel-logd: compact failed: %s\n", store_errmsg(st));
	}
	store_progress(st, NULL, NULL);
	store_close(st);
	pthread_cond_destroy(&p.wake);
	pthread_mutex_destroy(&p.lock);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}
