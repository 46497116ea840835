/*
 * Unit tests of writer.c on real files: group commit under concurrent
 * submitters, failed commits (a full disk, then any other write error),
 * stopping, and retention run by the writer thread.
 *
 * Write errors come from a small SQLite VFS that this test registers as the
 * default before any store is opened: it hands every call to the system's
 * VFS and, while armed, answers each write with the chosen error, as a full
 * disk or a failing device would. A second connection that holds the write
 * lock (BEGIN IMMEDIATE) keeps the writer from committing while batches
 * queue up behind it, which makes grouping deterministic. Batches are taken
 * back the way the server's loop does: after the notify callback fired.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "assert.h"
#include "err.h"
#include "ingest.h"
#include "retention.h"
#include "store.h"
#include "store_keys.h"
#include "timestamp.h"
#include "writer.h"

#define US  INT64_C(1000000)
#define DAY (86400 * US)

/* How long a test waits for the writer before it fails. */
#define WAIT_SECONDS 20

static char root[64];

/* A path under this run's folder. */
static const char *
path_in(char *buf, size_t size, const char *rel)
{
	int n = snprintf(buf, size, "%s/%s", root, rel);
	ASSERT(n > 0 && (size_t)n < size);
	return buf;
}

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ------------------------------------------------------------ the fault VFS */

struct fault_file {
	sqlite3_file base;  /* pMethods is fault_io */
	sqlite3_file *real; /* the system VFS's file, right after this struct */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static atomic_int fault_rc;   /* 0, or what every write answers */
static atomic_int fault_hits; /* writes refused so far */

static sqlite3_file *
real_file(sqlite3_file *f)
{
	return ((struct fault_file *)f)->real;
}

static int
ff_close(sqlite3_file *f)
{
	return real_file(f)->pMethods->xClose(real_file(f));
}

static int
ff_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return real_file(f)->pMethods->xRead(real_file(f), buf, n, off);
}

static int
ff_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	int rc = atomic_load(&fault_rc);

	if (rc) {
		atomic_fetch_add(&fault_hits, 1);
		return rc;
	}
	return real_file(f)->pMethods->xWrite(real_file(f), buf, n, off);
}

static int
ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return real_file(f)->pMethods->xTruncate(real_file(f), size);
}

static int
ff_sync(sqlite3_file *f, int flags)
{
	return real_file(f)->pMethods->xSync(real_file(f), flags);
}

static int
ff_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return real_file(f)->pMethods->xFileSize(real_file(f), size);
}

static int
ff_lock(sqlite3_file *f, int level)
{
	return real_file(f)->pMethods->xLock(real_file(f), level);
}

static int
ff_unlock(sqlite3_file *f, int level)
{
	return real_file(f)->pMethods->xUnlock(real_file(f), level);
}

static int
ff_check_reserved_lock(sqlite3_file *f, int *out)
{
	return real_file(f)->pMethods->xCheckReservedLock(real_file(f), out);
}

static int
ff_file_control(sqlite3_file *f, int op, void *arg)
{
	return real_file(f)->pMethods->xFileControl(real_file(f), op, arg);
}

static int
ff_sector_size(sqlite3_file *f)
{
	return real_file(f)->pMethods->xSectorSize(real_file(f));
}

static int
ff_device_characteristics(sqlite3_file *f)
{
	return real_file(f)->pMethods->xDeviceCharacteristics(real_file(f));
}

static int
ff_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **out)
{
	return real_file(f)->pMethods->xShmMap(real_file(f), region, size, extend, out);
}

static int
ff_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return real_file(f)->pMethods->xShmLock(real_file(f), offset, n, flags);
}

static void
ff_shm_barrier(sqlite3_file *f)
{
	real_file(f)->pMethods->xShmBarrier(real_file(f));
}

static int
ff_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return real_file(f)->pMethods->xShmUnmap(real_file(f), delete_flag);
}

static int
ff_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
	return real_file(f)->pMethods->xFetch(real_file(f), off, n, out);
}

static int
ff_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return real_file(f)->pMethods->xUnfetch(real_file(f), off, p);
}

/* Version 3, as the unix VFS's files are: WAL needs the shared-memory calls. */
static const sqlite3_io_methods fault_io = {
	3,
	ff_close,
	ff_read,
	ff_write,
	ff_truncate,
	ff_sync,
	ff_file_size,
	ff_lock,
	ff_unlock,
	ff_check_reserved_lock,
	ff_file_control,
	ff_sector_size,
	ff_device_characteristics,
	ff_shm_map,
	ff_shm_lock,
	ff_shm_barrier,
	ff_shm_unmap,
	ff_fetch,
	ff_unfetch,
};

static int
fault_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct fault_file *ff = (struct fault_file *)f;
	int rc;

	(void)vfs;
	ff->real = (sqlite3_file *)(ff + 1);
	rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
	/* SQLite closes a file whose methods are set, even after a failed open. */
	f->pMethods = ff->real->pMethods ? &fault_io : NULL;
	return rc;
}

/*
 * Make the fault VFS the default. It is a copy of the system VFS with its
 * own xOpen: the unix VFS's other calls use nothing of the sqlite3_vfs they
 * are handed but mxPathname, which the copy keeps.
 */
static void
fault_install(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	ASSERT_NOT_NULL(real_vfs);
	fault_vfs = *real_vfs;
	fault_vfs.pNext = NULL;
	fault_vfs.zName = "sentinel-unit-fault";
	fault_vfs.szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile;
	fault_vfs.xOpen = fault_open;
	ASSERT_EQ(sqlite3_vfs_register(&fault_vfs, 1), SQLITE_OK);
}

/* Answer every write with rc from now on (0: write again). */
static void
fault_arm(int rc)
{
	atomic_store(&fault_rc, rc);
}

/* ------------------------------------------------- notify, like the loop's */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t count;
	int on_main; /* times notify ran on the test's own thread */
} notes = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
static pthread_t main_thread;

static void
on_notify(void *arg)
{
	ASSERT(arg == &notes);
	pthread_mutex_lock(&notes.lock);
	notes.count++;
	if (pthread_equal(pthread_self(), main_thread))
		notes.on_main++;
	pthread_cond_broadcast(&notes.cond);
	pthread_mutex_unlock(&notes.lock);
}

static uint64_t
notify_count(void)
{
	pthread_mutex_lock(&notes.lock);
	uint64_t n = notes.count;
	pthread_mutex_unlock(&notes.lock);
	return n;
}

/* Wait until notify fired since *seen, then remember its count in *seen. */
static void
wait_notified(uint64_t *seen)
{
	struct timespec deadline;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_SECONDS;
	pthread_mutex_lock(&notes.lock);
	while (notes.count == *seen && rc == 0)
		rc = pthread_cond_timedwait(&notes.cond, &notes.lock, &deadline);
	if (notes.count == *seen) {
		pthread_mutex_unlock(&notes.lock);
		ASSERT_FAIL_("no notify within %d s (count %llu)", WAIT_SECONDS,
			     (unsigned long long)*seen);
	}
	*seen = notes.count;
	pthread_mutex_unlock(&notes.lock);
}

/*
 * Take finished batches as the loop does, after each notify, until n have
 * come back; out[] gets them in the order they came. seen is the notify
 * count already acted on.
 */
static void
take_done(writer *w, uint64_t *seen, struct ingest_batch **out, size_t n)
{
	size_t got = 0;

	while (got < n) {
		wait_notified(seen);
		for (struct ingest_batch *b = writer_take_done(w); b; b = b->next) {
			ASSERT_LT(got, n);
			out[got++] = b;
		}
	}
}

/* -------------------------------------------------------------- batches */

/* Who submitted a batch and its place in that submitter's sequence. */
struct tag {
	int submitter, seq;
};

/* A batch of n events of this type, with this timestamp unless ts is NULL. */
static struct ingest_batch *
batch_new(const char *type, const char *ts, int submitter, int seq, int n, struct tag *tag)
{
	char body[8192];
	size_t len = 0;
	struct ingest_error err;

	for (int i = 0; i < n; i++) {
		int k = snprintf(body + len, sizeof body - len,
				 "{\"type\":\"%s\",\"message\":\"s%d b%d e%d\"%s%s%s}\n", type,
				 submitter, seq, i, ts ? ",\"timestamp\":\"" : "", ts ? ts : "",
				 ts ? "\"" : "");
		ASSERT(k > 0 && (size_t)k < sizeof body - len);
		len += (size_t)k;
	}
	struct ingest_batch *b =
		ingest_parse(body, len, INGEST_NDJSON, INGEST_EVENT_MAX_DEFAULT, &err);
	if (!b)
		fprintf(stderr, "ingest_parse: %s\n", err.msg);
	ASSERT_NOT_NULL(b);
	ASSERT_EQ(b->count, n);
	if (tag) {
		tag->submitter = submitter;
		tag->seq = seq;
	}
	b->owner = tag;
	return b;
}

/* A committed batch: ids first_id.. consecutive, and one wire message each. */
static void
check_committed(const struct ingest_batch *b, int64_t first_id)
{
	char prefix[32];

	if (b->status)
		fprintf(stderr, "batch failed: %s\n", b->errmsg);
	ASSERT_OK(b->status);
	ASSERT_EQ(b->first_id, first_id);
	ASSERT_EQ(b->last_id, first_id + (int64_t)b->count - 1);
	ASSERT_NOT_NULL(b->msgs);
	for (size_t i = 0; i < b->count; i++) {
		const struct wire_msg *m = b->msgs[i];
		const struct logevent *ev = &b->events[i];
		int n = snprintf(prefix, sizeof prefix, "{\"id\":%lld,",
				 (long long)(first_id + (int64_t)i));

		ASSERT_NOT_NULL(m);
		ASSERT_EQ(m->id, first_id + (int64_t)i);
		ASSERT_EQ(m->ts_us, ev->ts_us);
		ASSERT_STR_EQ(m->type, ev->type);
		ASSERT_EQ(m->len, (size_t)n + ev->body_len - 1);
		ASSERT_MEM_EQ(m->data, prefix, (size_t)n);
		ASSERT_MEM_EQ(m->data + n, ev->body + 1, ev->body_len - 1);
	}
}

/* A failed batch: its error, a message, and nothing for the live feed. */
static void
check_failed(const struct ingest_batch *b, int code, const char *needle)
{
	if (b->status != code || !strstr(b->errmsg, needle))
		fprintf(stderr, "status %d (%s), errmsg '%s', wanted %s and '%s'\n", b->status,
			err_str(b->status), b->errmsg, err_str(code), needle);
	ASSERT_EQ(b->status, code);
	ASSERT_NOT_NULL(strstr(b->errmsg, needle));
	ASSERT_NULL(b->msgs);
}

static void
free_all(struct ingest_batch **b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ingest_batch_free(b[i]);
}

/* ------------------------------------------------------- stores and locks */

static writer *
writer_on(const char *path, const struct retention_policy *policy)
{
	char errmsg[ERRMSG_SIZE] = "";
	int err = 12345;
	store *st = store_open(path, STORE_WRITE, &err, errmsg);

	if (!st)
		fprintf(stderr, "store_open(%s): %s (%s)\n", path, errmsg, err_str(err));
	ASSERT_NOT_NULL(st);
	writer *w = writer_create(st, policy, on_notify, &notes, &err);
	if (!w)
		fprintf(stderr, "writer_create: %s\n", err_str(err));
	ASSERT_NOT_NULL(w);
	ASSERT_OK(writer_state(w));
	return w;
}

static sqlite3 *
sq_open(const char *path)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK)
		fprintf(stderr, "sqlite3_open_v2(%s): %s\n", path, sqlite3_errmsg(db));
	ASSERT_EQ(rc, SQLITE_OK);
	return db;
}

static void
sq_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "%s: %s\n", sql, msg ? msg : "");
	sqlite3_free(msg);
	ASSERT_EQ(rc, SQLITE_OK);
}

/* Take the store's write lock from another connection. */
static sqlite3 *
lock_store(const char *path)
{
	sqlite3 *db = sq_open(path);
	sq_exec(db, "BEGIN IMMEDIATE");
	return db;
}

static void
unlock_store(sqlite3 *db)
{
	sq_exec(db, "COMMIT");
	ASSERT_EQ(sqlite3_close(db), SQLITE_OK);
}

/* The stored rows, read back through a read-only handle. */
struct stored {
	int64_t n;
	int64_t *id;
	char **body, **type;
};

static int
stored_add(const struct store_row *row, void *arg)
{
	struct stored *s = arg;
	int64_t i = s->n++;

	ASSERT_EQ(row->body_len, strlen(row->body));
	s->id = realloc(s->id, (size_t)s->n * sizeof *s->id);
	s->body = realloc(s->body, (size_t)s->n * sizeof *s->body);
	s->type = realloc(s->type, (size_t)s->n * sizeof *s->type);
	ASSERT(s->id && s->body && s->type);
	s->id[i] = row->id;
	s->body[i] = strdup(row->body);
	s->type[i] = strdup(row->type);
	ASSERT(s->body[i] && s->type[i]);
	return 0;
}

/* Read every stored row, in pages of 100 as a replay would. */
static void
stored_read(const char *path, struct stored *s)
{
	char errmsg[ERRMSG_SIZE] = "";
	int err = 0, count;
	int64_t after = 0;
	store *st = store_open(path, STORE_READONLY, &err, errmsg);

	if (!st)
		fprintf(stderr, "store_open(%s): %s\n", path, errmsg);
	ASSERT_NOT_NULL(st);
	memset(s, 0, sizeof *s);
	do {
		ASSERT_OK(store_read_after(st, after, 100, stored_add, s, &count));
		if (count)
			after = s->id[s->n - 1];
	} while (count == 100);
	store_close(st);
}

static void
stored_free(struct stored *s)
{
	for (int64_t i = 0; i < s->n; i++) {
		free(s->body[i]);
		free(s->type[i]);
	}
	free(s->id);
	free(s->body);
	free(s->type);
	memset(s, 0, sizeof *s);
}

/* The store holds exactly the events of these committed batches, by id. */
static void
check_store_holds(const char *path, struct ingest_batch **b, size_t n)
{
	struct stored s;
	int64_t k = 0;

	stored_read(path, &s);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < b[i]->count; j++, k++) {
			ASSERT_LT(k, s.n);
			ASSERT_EQ(s.id[k], b[i]->first_id + (int64_t)j);
			ASSERT_STR_EQ(s.body[k], b[i]->events[j].body);
			ASSERT_STR_EQ(s.type[k], b[i]->events[j].type);
		}
	}
	ASSERT_EQ(s.n, k);
	stored_free(&s);
}

/* ------------------------------------------------------------ group commit */

#define SUBMITTERS    6
#define PER_SUBMITTER 60
#define BATCHES       (SUBMITTERS * PER_SUBMITTER)

struct submitter {
	writer *w;
	struct ingest_batch **batches; /* PER_SUBMITTER of them, in order */
	pthread_barrier_t *start;      /* all submitters begin together */
};

static void *
submit_all(void *arg)
{
	struct submitter *s = arg;

	pthread_barrier_wait(s->start);
	for (int i = 0; i < PER_SUBMITTER; i++) {
		ASSERT_OK(writer_submit(s->w, s->batches[i]));
		if (i % 7 == 0)
			sched_yield();
	}
	return NULL;
}

/*
 * SUBMITTERS threads submit PER_SUBMITTER batches each, at once (behind
 * another connection's write lock when hold_lock). Every batch must come
 * back once, in its submitter's order, committed with ids that continue
 * those of the batch before it, and the store must hold exactly them.
 */
static void
run_submitters(const char *rel, int hold_lock, struct writer_stats *stats)
{
	static struct ingest_batch *mine[SUBMITTERS][PER_SUBMITTER], *done[BATCHES];
	static struct tag tags[SUBMITTERS][PER_SUBMITTER];
	struct submitter sub[SUBMITTERS];
	pthread_t threads[SUBMITTERS];
	pthread_barrier_t start;
	int next_seq[SUBMITTERS] = {0};
	int64_t events = 0, next_id = 1;
	uint64_t seen = notify_count();
	sqlite3 *locker = NULL;
	char path[512];

	path_in(path, sizeof path, rel);
	writer *w = writer_on(path, NULL);
	for (int s = 0; s < SUBMITTERS; s++) {
		for (int i = 0; i < PER_SUBMITTER; i++) {
			mine[s][i] = batch_new("unit", NULL, s, i, 1 + (s + i) % 4, &tags[s][i]);
			events += (int64_t)mine[s][i]->count;
		}
		sub[s] = (struct submitter){w, mine[s], &start};
	}

	if (hold_lock)
		locker = lock_store(path);
	ASSERT_OK(pthread_barrier_init(&start, NULL, SUBMITTERS));
	for (int s = 0; s < SUBMITTERS; s++)
		ASSERT_OK(pthread_create(&threads[s], NULL, submit_all, &sub[s]));
	for (int s = 0; s < SUBMITTERS; s++)
		ASSERT_OK(pthread_join(threads[s], NULL));
	ASSERT_OK(pthread_barrier_destroy(&start));
	if (hold_lock) {
		struct writer_stats before;
		writer_get_stats(w, &before);
		ASSERT_EQ(before.commits, 0); /* the lock held every commit back */
		unlock_store(locker);
	}

	take_done(w, &seen, done, BATCHES);
	ASSERT_NULL(writer_take_done(w)); /* each batch came back once */
	for (size_t i = 0; i < BATCHES; i++) {
		const struct tag *t = done[i]->owner;
		ASSERT_NOT_NULL(t);
		ASSERT_EQ(t->seq, next_seq[t->submitter]); /* in order, none twice */
		next_seq[t->submitter]++;
		check_committed(done[i], next_id); /* gapless across batches */
		next_id = done[i]->last_id + 1;
	}
	for (int s = 0; s < SUBMITTERS; s++)
		ASSERT_EQ(next_seq[s], PER_SUBMITTER);
	ASSERT_EQ(next_id - 1, events);
	check_store_holds(path, done, BATCHES);

	writer_get_stats(w, stats);
	ASSERT_EQ(stats->events, events);
	ASSERT_EQ(stats->failed, 0);
	ASSERT_GE(stats->commits, 1);
	ASSERT_LE(stats->commits, BATCHES);
	ASSERT_EQ(stats->latency_count, stats->commits);
	for (int i = 1; i < WRITER_LATENCY_BUCKETS; i++)
		ASSERT_LE(stats->latency_le[i - 1], stats->latency_le[i]);
	ASSERT_LE(stats->latency_le[WRITER_LATENCY_BUCKETS - 1], stats->latency_count);
	pthread_mutex_lock(&notes.lock);
	ASSERT_EQ(notes.on_main, 0); /* notify runs on the writer thread */
	pthread_mutex_unlock(&notes.lock);
	ASSERT_OK(writer_state(w));

	writer_destroy(w);
	free_all(done, BATCHES);
}

TEST(group_commit_concurrent)
{
	struct writer_stats st;
	uint64_t before = notify_count();

	run_submitters("concurrent/sentinel.db", 0, &st);
	/* However the submissions interleaved with the commits, each commit
	 * notified once. */
	ASSERT_EQ(notify_count() - before, st.commits);
	printf("%d batches in %llu commits\n", BATCHES, (unsigned long long)st.commits);
}

TEST(group_commit_groups_queued_batches)
{
	struct writer_stats st;
	uint64_t before = notify_count();

	/* While another connection holds the write lock, the writer is stuck
	 * in its first commit with what it had taken; everything submitted
	 * meanwhile must then go in one more commit (the group bound is far
	 * above these few kilobytes). */
	run_submitters("grouped/sentinel.db", 1, &st);
	ASSERT_GE(st.commits, 1);
	ASSERT_LE(st.commits, 2);
	ASSERT_EQ(notify_count() - before, st.commits);
}

/* --------------------------------------------------------------- failures */

TEST(disk_full_fails_the_group_and_recovers)
{
	struct ingest_batch *failed[5], *back[5], *ok, *ok_back;
	struct writer_stats st;
	uint64_t seen = notify_count();
	char path[512];

	path_in(path, sizeof path, "full/sentinel.db");
	writer *w = writer_on(path, NULL);

	/* Five batches queue behind the lock, so at most two commits take
	 * them: at least one group of several batches fails as a whole. */
	sqlite3 *locker = lock_store(path);
	fault_arm(SQLITE_FULL);
	atomic_store(&fault_hits, 0);
	for (int i = 0; i < 5; i++)
		ASSERT_OK(writer_submit(w, failed[i] = batch_new("unit", NULL, 0, i, 2, NULL)));
	unlock_store(locker);
	take_done(w, &seen, back, 5);
	for (int i = 0; i < 5; i++) {
		ASSERT(back[i] == failed[i]);
		check_failed(failed[i], ERR_FULL, "the store cannot write: storage full");
	}
	ASSERT_GE(atomic_load(&fault_hits), 1);
	ASSERT_EQ(writer_state(w), ERR_FULL);
	writer_get_stats(w, &st);
	ASSERT_EQ(st.failed, 5);
	ASSERT_EQ(st.commits, 0);
	ASSERT_EQ(st.events, 0);

	/* Space comes back: the next batch commits, with the first ids (the
	 * failed transactions used none). */
	fault_arm(0);
	check_store_holds(path, NULL, 0);
	ASSERT_OK(writer_submit(w, ok = batch_new("unit", NULL, 0, 5, 3, NULL)));
	take_done(w, &seen, &ok_back, 1);
	ASSERT(ok_back == ok);
	check_committed(ok, 1);
	ASSERT_OK(writer_state(w));
	writer_get_stats(w, &st);
	ASSERT_EQ(st.failed, 5);
	ASSERT_EQ(st.commits, 1);
	ASSERT_EQ(st.events, 3);
	check_store_holds(path, &ok, 1);

	writer_destroy(w);
	free_all(failed, 5);
	ingest_batch_free(ok);
}

TEST(write_error_stops_the_writer)
{
	struct ingest_batch *b[6], *back[6];
	struct writer_stats st;
	uint64_t seen = notify_count();
	char path[512];

	path_in(path, sizeof path, "ioerr/sentinel.db");
	writer *w = writer_on(path, NULL);
	ASSERT_OK(writer_submit(w, b[0] = batch_new("unit", NULL, 0, 0, 2, NULL)));
	take_done(w, &seen, back, 1);
	check_committed(b[0], 1);

	/* A write fails for another reason than space: the group fails... */
	sqlite3 *locker = lock_store(path);
	fault_arm(SQLITE_IOERR_WRITE);
	atomic_store(&fault_hits, 0);
	for (int i = 1; i <= 3; i++)
		ASSERT_OK(writer_submit(w, b[i] = batch_new("unit", NULL, 0, i, 2, NULL)));
	unlock_store(locker);
	take_done(w, &seen, back + 1, 3);
	for (int i = 1; i <= 3; i++) {
		ASSERT(back[i] == b[i]);
		check_failed(b[i], ERR_IO, "the store cannot write: ");
	}
	ASSERT_EQ(writer_state(w), ERR_IO);
	int hits = atomic_load(&fault_hits);
	ASSERT_GE(hits, 1);

	/* ...and the writer stops for good: once the disk works again, it
	 * still refuses every batch without trying to write. */
	fault_arm(0);
	for (int i = 4; i <= 5; i++) {
		ASSERT_OK(writer_submit(w, b[i] = batch_new("unit", NULL, 0, i, 1, NULL)));
		take_done(w, &seen, back + i, 1);
		ASSERT(back[i] == b[i]);
		check_failed(b[i], ERR_IO, "the store cannot write: ");
	}
	ASSERT_EQ(atomic_load(&fault_hits), hits);
	ASSERT_EQ(writer_state(w), ERR_IO);
	writer_get_stats(w, &st);
	ASSERT_EQ(st.failed, 5);
	ASSERT_EQ(st.commits, 1);
	ASSERT_EQ(st.events, 2);
	check_store_holds(path, b, 1);

	writer_destroy(w);
	free_all(b, 6);
}

/* Another process holding the write lock past the busy timeout (a sqlite3
 * shell in a long transaction) refuses that group, but is no reason to
 * stop: the next batch commits once the lock is gone. */
TEST(lock_past_the_busy_timeout_is_not_fatal)
{
	struct ingest_batch *b[3], *back[3];
	uint64_t seen = notify_count();
	char path[512];

	path_in(path, sizeof path, "busy/sentinel.db");
	writer *w = writer_on(path, NULL);
	ASSERT_OK(writer_submit(w, b[0] = batch_new("unit", NULL, 0, 0, 2, NULL)));
	take_done(w, &seen, back, 1);
	check_committed(b[0], 1);

	sqlite3 *locker = lock_store(path);
	ASSERT_OK(writer_submit(w, b[1] = batch_new("unit", NULL, 0, 1, 2, NULL)));
	take_done(w, &seen, back + 1, 1); /* after the 5 s busy timeout */
	check_failed(b[1], ERR_BUSY, "the store cannot write: ");
	ASSERT_EQ(writer_state(w), ERR_BUSY);
	unlock_store(locker);

	ASSERT_OK(writer_submit(w, b[2] = batch_new("unit", NULL, 0, 2, 2, NULL)));
	take_done(w, &seen, back + 2, 1);
	check_committed(b[2], 3);
	ASSERT_OK(writer_state(w));
	writer_destroy(w);
	free_all(b, 3);
}

/* After a write error the file is not trusted: retention deletes nothing. */
TEST(no_retention_after_a_write_error)
{
	struct retention_policy p = {.max_age_us = DAY};
	struct ingest_batch *b[3], *back[3];
	struct writer_stats st;
	uint64_t seen = notify_count();
	char path[512];

	path_in(path, sizeof path, "ioerr-retention/sentinel.db");
	writer *w = writer_on(path, &p);
	ASSERT_OK(
		writer_submit(w, b[0] = batch_new("unit", "2020-01-01T00:00:00Z", 0, 0, 3, NULL)));
	take_done(w, &seen, back, 1);
	check_committed(b[0], 1);

	sqlite3 *locker = lock_store(path);
	fault_arm(SQLITE_IOERR_WRITE);
	ASSERT_OK(writer_submit(w, b[1] = batch_new("unit", NULL, 0, 1, 1, NULL)));
	unlock_store(locker);
	take_done(w, &seen, back + 1, 1);
	check_failed(b[1], ERR_IO, "the store cannot write: ");
	fault_arm(0);

	/* Ask for a pass, then let one more batch through the writer's loop:
	 * by the time it comes back, the pass was decided. */
	writer_request_maintenance(w);
	ASSERT_OK(writer_submit(w, b[2] = batch_new("unit", NULL, 0, 2, 1, NULL)));
	take_done(w, &seen, back + 2, 1);
	check_failed(b[2], ERR_IO, "the store cannot write: ");
	writer_get_stats(w, &st);
	ASSERT_EQ(st.retention_deleted, 0);
	check_store_holds(path, b, 1);
	writer_destroy(w);
	free_all(b, 3);
}

/* --------------------------------------------------------------- stopping */

struct unlocker {
	sqlite3 *db;
	useconds_t delay;
};

static void *
unlock_later(void *arg)
{
	struct unlocker *u = arg;
	usleep(u->delay);
	unlock_store(u->db);
	return NULL;
}

TEST(stop_commits_everything_submitted)
{
	enum { N = 20 };
	struct ingest_batch *b[N], *late, *list;
	struct writer_stats st;
	pthread_t thread;
	char path[512];
	size_t n = 0;

	path_in(path, sizeof path, "stop/sentinel.db");
	writer *w = writer_on(path, NULL);

	/* Stop while every batch still waits behind another writer's lock. */
	struct unlocker u = {lock_store(path), 200 * 1000};
	for (int i = 0; i < N; i++)
		ASSERT_OK(writer_submit(w, b[i] = batch_new("unit", NULL, 0, i, 1 + i % 3, NULL)));
	ASSERT_OK(pthread_create(&thread, NULL, unlock_later, &u));
	writer_get_stats(w, &st);
	ASSERT_EQ(st.commits, 0);
	writer_stop(w);
	ASSERT_OK(pthread_join(thread, NULL));

	/* Everything is committed and waits for the loop. */
	for (list = writer_take_done(w); list; list = list->next) {
		ASSERT_LT(n, N);
		ASSERT(list == b[n]);
		check_committed(list, n ? b[n - 1]->last_id + 1 : 1);
		n++;
	}
	ASSERT_EQ(n, N);
	check_store_holds(path, b, N);

	/* Nothing is accepted after stop; the batch stays the caller's. */
	late = batch_new("unit", NULL, 0, N, 1, NULL);
	ASSERT_EQ(writer_submit(w, late), ERR_CLOSED);
	ASSERT_NULL(writer_take_done(w));
	writer_stop(w); /* a second stop does nothing */
	writer_destroy(w);
	check_store_holds(path, b, N);
	ingest_batch_free(late);
	free_all(b, N);
}

TEST(destroy_commits_and_frees_batches_not_taken)
{
	char path[512];
	struct stored s;

	path_in(path, sizeof path, "destroy/sentinel.db");
	writer *w = writer_on(path, NULL);
	for (int i = 0; i < 3; i++)
		ASSERT_OK(writer_submit(w, batch_new("unit", NULL, 0, i, 2, NULL)));
	/* The finished batches are freed by destroy (ASan sees a leak else). */
	writer_destroy(w);
	stored_read(path, &s);
	ASSERT_EQ(s.n, 6);
	ASSERT_EQ(s.id[0], 1);
	ASSERT_EQ(s.id[5], 6);
	stored_free(&s);
}

/* -------------------------------------------------------------- retention */

/* Wait until the writer finished at least passes retention passes. */
static void
wait_passes(writer *w, uint64_t passes, struct writer_stats *st)
{
	for (int i = 0; i < WAIT_SECONDS * 100; i++) {
		writer_get_stats(w, st);
		if (st->retention_passes >= passes)
			return;
		usleep(10 * 1000);
	}
	ASSERT_GE(st->retention_passes, passes);
}

TEST(retention_on_request)
{
	struct retention_policy p = {0};
	struct ingest_batch *b[3], *back[3], *late;
	struct writer_stats st;
	struct stored s;
	uint64_t start = notify_count(), seen = start;
	char path[512], errmsg[ERRMSG_SIZE];

	/* Events older than a day go, but audit events are kept ten years. */
	p.max_age_us = DAY;
	ASSERT_OK(retention_add_type(&p, "audit=3650d", errmsg));
	path_in(path, sizeof path, "retention-age/sentinel.db");
	writer *w = writer_on(path, &p);

	const char *old = "2020-01-01T00:00:00Z";
	ASSERT_OK(writer_submit(w, b[0] = batch_new("unit", old, 0, 0, 4, NULL)));  /* 1-4 */
	ASSERT_OK(writer_submit(w, b[1] = batch_new("audit", old, 0, 1, 1, NULL))); /* 5 */
	ASSERT_OK(writer_submit(w, b[2] = batch_new("unit", NULL, 0, 2, 3, NULL))); /* 6-8 */
	take_done(w, &seen, back, 3);
	check_committed(b[0], 1);
	check_committed(b[1], 5);
	check_committed(b[2], 6);

	/* Age is not a bound that commits check: nothing goes until asked. */
	writer_get_stats(w, &st);
	ASSERT_EQ(st.retention_passes, 0);
	ASSERT_EQ(writer_retention_max_id(w), 0);
	check_store_holds(path, b, 3);

	writer_request_maintenance(w);
	wait_passes(w, 1, &st);
	ASSERT_EQ(st.retention_deleted, 4);
	ASSERT_EQ(writer_retention_max_id(w), 4);
	check_store_holds(path, b + 1, 2);

	/* Another old event: kept until the next pass, which removes it. */
	ASSERT_OK(writer_submit(w, late = batch_new("unit", old, 0, 3, 1, NULL)));
	take_done(w, &seen, back, 1);
	check_committed(late, 9);
	writer_request_maintenance(w);
	wait_passes(w, 2, &st);
	ASSERT_EQ(st.retention_deleted, 5);
	ASSERT_EQ(writer_retention_max_id(w), 9);
	stored_read(path, &s);
	ASSERT_EQ(s.n, 4);
	ASSERT_EQ(s.id[0], 5);
	ASSERT_EQ(s.id[3], 8);
	stored_free(&s);

	/* The loop was woken by every commit and by both passes (which
	 * removed events it may still hold). */
	writer_get_stats(w, &st);
	writer_destroy(w);
	ASSERT_EQ(notify_count() - start, st.commits + 2);
	free_all(b, 3);
	ingest_batch_free(late);
}

TEST(retention_by_count_after_commits)
{
	struct retention_policy p = {.max_events = 10};
	struct ingest_batch *b[2], *back[2];
	struct writer_stats st;
	struct stored s;
	uint64_t seen;
	char path[512], errmsg[ERRMSG_SIZE];
	int err = 0;

	/* Six events are there before the writer starts: it counts them. */
	path_in(path, sizeof path, "retention-count/sentinel.db");
	store *pre = store_open(path, STORE_WRITE, &err, errmsg);
	ASSERT_NOT_NULL(pre);
	ASSERT_OK(store_begin(pre));
	struct ingest_batch *six = batch_new("unit", NULL, 9, 0, 6, NULL);
	for (size_t i = 0; i < six->count; i++) {
		int64_t id;
		ASSERT_OK(store_append(pre, &six->events[i], &id));
		ASSERT_EQ(id, (int64_t)i + 1);
	}
	ASSERT_OK(store_commit(pre));
	store_close(pre);
	ingest_batch_free(six);

	writer *w = writer_on(path, &p);
	seen = notify_count();
	/* 6 + 4 is within the bound; 6 + 4 + 4 is not, and the commit that
	 * crosses it starts a pass by itself. */
	ASSERT_OK(writer_submit(w, b[0] = batch_new("unit", NULL, 0, 0, 4, NULL)));
	take_done(w, &seen, back, 1);
	check_committed(b[0], 7);
	writer_get_stats(w, &st);
	ASSERT_EQ(st.retention_deleted, 0);
	ASSERT_OK(writer_submit(w, b[1] = batch_new("unit", NULL, 0, 1, 4, NULL)));
	take_done(w, &seen, back + 1, 1);
	check_committed(b[1], 11);
	wait_passes(w, 1, &st);
	ASSERT_EQ(st.retention_deleted, 4);
	ASSERT_EQ(writer_retention_max_id(w), 4);
	stored_read(path, &s);
	ASSERT_EQ(s.n, 10);
	ASSERT_EQ(s.id[0], 5);
	ASSERT_EQ(s.id[9], 14);
	stored_free(&s);

	writer_destroy(w);
	free_all(b, 2);
}

/* A batch with an idempotency key; its fingerprint is made of fill. */
static struct ingest_batch *
keyed_batch(const char *key, int n, int fill)
{
	struct ingest_batch *b = batch_new("unit", NULL, 0, 0, n, NULL);

	b->idem_key = strdup(key);
	ASSERT_NOT_NULL(b->idem_key);
	memset(b->idem_hash, fill, sizeof b->idem_hash);
	b->idem_status = 200;
	return b;
}

/* The key as a read-only handle finds it: 1 with *k filled, or 0. */
static int
key_in_store(const char *path, const char *key, struct store_key *k)
{
	char errmsg[ERRMSG_SIZE];
	int err;
	store *ro = store_open(path, STORE_READONLY, &err, errmsg);

	ASSERT_NOT_NULL(ro);
	int rc = store_keys_get(ro, key, k);
	ASSERT_GE(rc, 0);
	store_close(ro);
	return rc;
}

TEST(keys_are_recorded_with_their_events_and_expire)
{
	struct retention_policy p = {.key_window_us = 3600 * US};
	struct ingest_batch *b[3], *back[3], *failed, *failed_back;
	struct writer_stats st;
	struct store_key k;
	uint64_t seen = notify_count();
	char path[512], want[128];

	path_in(path, sizeof path, "keys/sentinel.db");
	writer *w = writer_on(path, &p);
	ASSERT_OK(writer_submit(w, b[0] = keyed_batch("order-1", 3, 0x11)));
	ASSERT_OK(writer_submit(w, b[1] = batch_new("unit", NULL, 0, 1, 2, NULL)));
	ASSERT_OK(writer_submit(w, b[2] = keyed_batch("order-2", 1, 0x22)));
	take_done(w, &seen, back, 3);
	check_committed(b[0], 1);
	check_committed(b[1], 4);
	check_committed(b[2], 6);

	ASSERT_EQ(key_in_store(path, "order-1", &k), 1);
	ASSERT_EQ(k.status, 200);
	ASSERT_EQ(k.first_id, 1);
	ASSERT_EQ(k.last_id, 3);
	ASSERT_EQ(k.hash[0], 0x11);
	ASSERT_EQ(k.hash[31], 0x11);
	ASSERT_LE(timestamp_now() - k.created_us, 60 * US);
	ASSERT_STR_EQ(k.answer, "{\"accepted\":3,\"first_id\":1,\"last_id\":3}");
	free(k.answer);
	ASSERT_EQ(key_in_store(path, "order-2", &k), 1);
	snprintf(want, sizeof want, "{\"accepted\":1,\"first_id\":6,\"last_id\":6}");
	ASSERT_STR_EQ(k.answer, want);
	free(k.answer);
	ASSERT_EQ(key_in_store(path, "order-3", &k), 0);

	/* A commit that fails records its key no more than its events. */
	fault_arm(SQLITE_FULL);
	ASSERT_OK(writer_submit(w, failed = keyed_batch("order-3", 2, 0x33)));
	take_done(w, &seen, &failed_back, 1);
	fault_arm(0);
	check_failed(failed, ERR_FULL, "storage full");
	ASSERT_EQ(key_in_store(path, "order-3", &k), 0);

	/* Within the window a pass keeps the keys. */
	writer_request_maintenance(w);
	wait_passes(w, 1, &st);
	ASSERT_EQ(st.keys_expired, 0);
	ASSERT_EQ(key_in_store(path, "order-1", &k), 1);
	free(k.answer);
	writer_destroy(w);

	/* With a window of nothing, the next pass removes them all. */
	p.key_window_us = 0;
	w = writer_on(path, &p);
	writer_request_maintenance(w);
	wait_passes(w, 1, &st);
	ASSERT_EQ(st.keys_expired, 2);
	ASSERT_EQ(key_in_store(path, "order-1", &k), 0);
	ASSERT_EQ(key_in_store(path, "order-2", &k), 0);
	check_store_holds(path, b, 3);
	writer_destroy(w);
	free_all(b, 3);
	ingest_batch_free(failed);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(group_commit_concurrent),
		TEST_ENTRY(group_commit_groups_queued_batches),
		TEST_ENTRY(disk_full_fails_the_group_and_recovers),
		TEST_ENTRY(write_error_stops_the_writer),
		TEST_ENTRY(lock_past_the_busy_timeout_is_not_fatal),
		TEST_ENTRY(no_retention_after_a_write_error),
		TEST_ENTRY(stop_commits_everything_submitted),
		TEST_ENTRY(destroy_commits_and_frees_batches_not_taken),
		TEST_ENTRY(retention_on_request),
		TEST_ENTRY(retention_by_count_after_commits),
		TEST_ENTRY(keys_are_recorded_with_their_events_and_expire),
	};
	int rc;

	main_thread = pthread_self();
	fault_install();
	snprintf(root, sizeof root, "/tmp/sentinel-unit-writer-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	printf("in %s\n", root);
	rc = test_run(tests, argc, argv);
	ASSERT_OK(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS));
	return rc;
}
