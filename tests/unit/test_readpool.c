/*
 * Unit tests of readpool.c on a real store: a job's output reaches the loop
 * whole and in order, never more than its buffer at a time (the job waits
 * for the loop: backpressure); a failure comes back with its code and
 * message; releasing a job stops one blocked on its output; a job that
 * waits past its time limit gets ERR_TIMEOUT; at most max_queued jobs
 * wait; jobs read the store on their thread's handle; destroying the pool
 * with a job still running stops it and frees everything (ASan).
 *
 * The test is the loop: the pool's notify writes to an eventfd, which the
 * test polls before it calls readpool_dispatch().
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include <ftw.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert.h"
#include "err.h"
#include "logevent.h"
#include "readpool.h"
#include "store.h"

#define WAIT_MS 20000

static char root[64], path[256];
static int wake_fd;

static int
remove_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
notify(void *arg)
{
	uint64_t one = 1;
	(void)arg;
	(void)!write(wake_fd, &one, sizeof one);
}

/* Wait for a notify (up to ms), then dispatch. Returns 1 if one came. */
static int
loop_once(readpool *p, int ms)
{
	struct pollfd pfd = {.fd = wake_fd, .events = POLLIN};
	uint64_t n;

	if (poll(&pfd, 1, ms) != 1)
		return 0;
	(void)!read(wake_fd, &n, sizeof n);
	readpool_dispatch(p);
	return 1;
}

static readpool *
pool_new(int threads, size_t max_queued)
{
	char errmsg[ERRMSG_SIZE];
	int err = 0;
	readpool *p = readpool_create(path, threads, max_queued, notify, NULL, &err, errmsg);

	if (!p)
		fprintf(stderr, "readpool_create: %s\n", errmsg);
	ASSERT_NOT_NULL(p);
	return p;
}

/* What the loop side saw of a job. */
struct seen {
	readpool_job *job;
	struct buf out;
	size_t largest; /* the most output taken at once */
	int done, status, calls;
	char errmsg[ERRMSG_SIZE];
	int take; /* take output when ready (0: leave it with the job) */
};

static void
on_ready(readpool_job *job, void *arg)
{
	struct seen *s = arg;
	size_t before = s->out.len;

	s->calls++;
	if (!s->take)
		return;
	ASSERT_OK(readpool_take(job, &s->out, &s->done, &s->status, s->errmsg));
	if (s->out.len - before > s->largest)
		s->largest = s->out.len - before;
}

static atomic_int freed;

static void
count_free(void *arg)
{
	(void)arg;
	atomic_fetch_add(&freed, 1);
}

/* Job: 100 pieces of 1000 bytes, piece i filled with 'a' + i % 26. */
static int
write_pieces(store *st, readpool_job *job, void *arg, char *errmsg)
{
	char piece[1000];
	(void)st;
	(void)arg;

	for (int i = 0; i < 100; i++) {
		memset(piece, 'a' + i % 26, sizeof piece);
		int rc = readpool_write(job, piece, sizeof piece);
		if (rc)
			return err_set(errmsg, rc, "write %d failed", i);
	}
	return 0;
}

TEST(output_in_order_with_backpressure)
{
	readpool *p = pool_new(2, 4);
	struct seen s = {.take = 1};
	int err;

	s.job = readpool_submit(
		p,
		&(struct readpool_job_options){
			.run = write_pieces, .ready = on_ready, .ready_arg = &s, .buffer = 4000},
		&err);
	ASSERT_NOT_NULL(s.job);
	while (!s.done)
		ASSERT(loop_once(p, WAIT_MS));
	ASSERT_EQ(s.status, 0);
	ASSERT_EQ(s.out.len, 100000);
	for (int i = 0; i < 100; i++)
		for (int j = 0; j < 1000; j += 250)
			ASSERT_EQ(s.out.data[i * 1000 + j], 'a' + i % 26);
	ASSERT_LE(s.largest, 4000); /* never more than its buffer */
	ASSERT_GE(s.calls, 25);
	readpool_release(s.job);
	buf_free(&s.out);
	readpool_destroy(p);
}

static int
fail_job(store *st, readpool_job *job, void *arg, char *errmsg)
{
	(void)st;
	(void)arg;
	ASSERT_OK(readpool_write(job, "partial", 7));
	return err_set(errmsg, ERR_INVAL, "it went wrong at %d", 42);
}

TEST(failure_comes_back)
{
	readpool *p = pool_new(1, 4);
	struct seen s = {.take = 1};
	int err;

	atomic_store(&freed, 0);
	s.job = readpool_submit(p,
				&(struct readpool_job_options){.run = fail_job,
							       .free_arg = count_free,
							       .ready = on_ready,
							       .ready_arg = &s,
							       .buffer = 100},
				&err);
	ASSERT_NOT_NULL(s.job);
	while (!s.done)
		ASSERT(loop_once(p, WAIT_MS));
	ASSERT_EQ(s.status, ERR_INVAL);
	ASSERT_STR_EQ(s.errmsg, "it went wrong at 42");
	ASSERT_BUF_STR(s.out.data, s.out.len, "partial");
	ASSERT_EQ(atomic_load(&freed), 0); /* the loop still holds it */
	readpool_release(s.job);
	ASSERT_EQ(atomic_load(&freed), 1);
	buf_free(&s.out);
	readpool_destroy(p);
}

/* Job: write until a write fails; report how it failed. */
static int
write_forever(store *st, readpool_job *job, void *arg, char *errmsg)
{
	atomic_int *result = arg;
	char piece[512] = {0};
	int rc;
	(void)st;
	(void)errmsg;

	while (!(rc = readpool_write(job, piece, sizeof piece)))
		;
	atomic_store(result, rc);
	ASSERT_EQ(readpool_cancelled(job), rc == ERR_CLOSED);
	return rc;
}

TEST(release_stops_a_blocked_job)
{
	readpool *p = pool_new(1, 4);
	struct seen s = {.take = 0};
	atomic_int result = 1;
	int err;

	atomic_store(&freed, 0);
	s.job = readpool_submit(p,
				&(struct readpool_job_options){.run = write_forever,
							       .arg = &result,
							       .free_arg = count_free,
							       .ready = on_ready,
							       .ready_arg = &s,
							       .buffer = 2048},
				&err);
	ASSERT(loop_once(p, WAIT_MS)); /* its first output */
	ASSERT_EQ(s.calls, 1);
	usleep(100 * 1000);
	ASSERT_EQ(atomic_load(&result), 1); /* still waiting for the loop */
	readpool_release(s.job);
	for (int i = 0; i < 2000 && atomic_load(&freed) == 0; i++)
		usleep(10 * 1000);
	ASSERT_EQ(atomic_load(&result), ERR_CLOSED);
	ASSERT_EQ(atomic_load(&freed), 1);
	readpool_destroy(p);
}

TEST(time_limit_while_waiting)
{
	readpool *p = pool_new(1, 4);
	struct seen s = {.take = 0};
	atomic_int result = 1;
	int err;
	int64_t t0 = readpool_now();

	s.job = readpool_submit(p,
				&(struct readpool_job_options){.run = write_forever,
							       .arg = &result,
							       .ready = on_ready,
							       .ready_arg = &s,
							       .buffer = 2048,
							       .time_limit_us = 300000},
				&err);
	while (atomic_load(&result) == 1 && readpool_now() - t0 < WAIT_MS * 1000)
		loop_once(p, 50);
	ASSERT_EQ(atomic_load(&result), ERR_TIMEOUT);
	ASSERT_GE(readpool_now() - t0, 300000);
	/* It finished with that error, and its output is still there. */
	while (!s.done) {
		s.take = 1;
		on_ready(s.job, &s);
	}
	ASSERT_EQ(s.status, ERR_TIMEOUT);
	ASSERT_GE(s.out.len, 2048);
	readpool_release(s.job);
	buf_free(&s.out);
	readpool_destroy(p);
}

TEST(queue_is_bounded)
{
	readpool *p = pool_new(1, 2);
	struct seen s[4] = {{.take = 0}, {.take = 0}, {.take = 0}, {.take = 0}};
	atomic_int result[4] = {1, 1, 1, 1};
	int err = 0;

	atomic_store(&freed, 0);
	for (int i = 0; i < 3; i++) {
		s[i].job = readpool_submit(p,
					   &(struct readpool_job_options){.run = write_forever,
									  .arg = &result[i],
									  .free_arg = count_free,
									  .ready = on_ready,
									  .ready_arg = &s[i],
									  .buffer = 1024},
					   &err);
		ASSERT_NOT_NULL(s[i].job);
		if (i == 0)
			ASSERT(loop_once(p, WAIT_MS)); /* the first one runs */
	}
	s[3].job = readpool_submit(p,
				   &(struct readpool_job_options){.run = write_forever,
								  .arg = &result[3],
								  .free_arg = count_free,
								  .ready = on_ready,
								  .ready_arg = &s[3],
								  .buffer = 1024},
				   &err);
	ASSERT_NULL(s[3].job);
	ASSERT_EQ(err, ERR_BUSY);
	ASSERT_EQ(atomic_load(&freed), 1); /* its argument, at once */
	/* A queued job released never runs. */
	readpool_release(s[2].job);
	ASSERT_EQ(atomic_load(&freed), 2);
	readpool_release(s[0].job);
	ASSERT(loop_once(p, WAIT_MS)); /* the second one runs now */
	ASSERT_EQ(atomic_load(&result[2]), 1);
	readpool_release(s[1].job);
	readpool_destroy(p);
	ASSERT_EQ(atomic_load(&freed), 4);
	ASSERT_EQ(atomic_load(&result[2]), 1);
}

static int
count_rows(const struct store_row *row, void *arg)
{
	(void)row;
	(*(int *)arg)++;
	return 0;
}

/* Job: read the store in pages and write how many events it holds. */
static int
read_store(store *st, readpool_job *job, void *arg, char *errmsg)
{
	int total = 0, n;
	int64_t after = 0;
	char text[32];
	(void)arg;

	do {
		int before = total;
		if (store_read_after(st, after, 7, count_rows, &total, &n))
			return err_set(errmsg, ERR_IO, "%s", store_errmsg(st));
		after += total - before;
	} while (n == 7);
	snprintf(text, sizeof text, "%d events", total);
	return readpool_write(job, text, strlen(text));
}

TEST(jobs_read_the_store)
{
	readpool *p = pool_new(2, 8);
	struct seen s[5];
	int err;

	memset(s, 0, sizeof s);
	for (int i = 0; i < 5; i++) {
		s[i].take = 1;
		s[i].job = readpool_submit(p,
					   &(struct readpool_job_options){.run = read_store,
									  .ready = on_ready,
									  .ready_arg = &s[i],
									  .buffer = 100},
					   &err);
		ASSERT_NOT_NULL(s[i].job);
	}
	for (int done = 0; done < 5;) {
		ASSERT(loop_once(p, WAIT_MS));
		done = 0;
		for (int i = 0; i < 5; i++)
			done += s[i].done;
	}
	for (int i = 0; i < 5; i++) {
		ASSERT_EQ(s[i].status, 0);
		ASSERT_BUF_STR(s[i].out.data, s[i].out.len, "30 events");
		readpool_release(s[i].job);
		buf_free(&s[i].out);
	}
	readpool_destroy(p);
}

TEST(destroy_stops_running_jobs)
{
	readpool *p = pool_new(2, 4);
	struct seen s[2] = {{.take = 0}, {.take = 0}};
	atomic_int result[2] = {1, 1};
	int err;

	atomic_store(&freed, 0);
	for (int i = 0; i < 2; i++)
		s[i].job = readpool_submit(p,
					   &(struct readpool_job_options){.run = write_forever,
									  .arg = &result[i],
									  .free_arg = count_free,
									  .ready = on_ready,
									  .ready_arg = &s[i],
									  .buffer = 1024},
					   &err);
	while (s[0].calls + s[1].calls < 2)
		ASSERT(loop_once(p, WAIT_MS));
	readpool_release(s[0].job);
	readpool_destroy(p); /* s[1] still held by the "loop" */
	ASSERT_EQ(atomic_load(&result[0]), ERR_CLOSED);
	ASSERT_EQ(atomic_load(&result[1]), ERR_CLOSED);
	ASSERT_EQ(atomic_load(&freed), 2);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(output_in_order_with_backpressure),
		TEST_ENTRY(failure_comes_back),
		TEST_ENTRY(release_stops_a_blocked_job),
		TEST_ENTRY(time_limit_while_waiting),
		TEST_ENTRY(queue_is_bounded),
		TEST_ENTRY(jobs_read_the_store),
		TEST_ENTRY(destroy_stops_running_jobs),
	};
	char errmsg[ERRMSG_SIZE], json[128];
	int err, rc;

	snprintf(root, sizeof root, "/tmp/sentinel-unit-readpool-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	printf("in %s\n", root);
	snprintf(path, sizeof path, "%s/sentinel.db", root);
	store *st = store_open(path, STORE_WRITE, &err, errmsg);
	ASSERT_NOT_NULL(st);
	ASSERT_OK(store_begin(st));
	for (int i = 0; i < 30; i++) {
		struct logevent ev;
		int64_t id;
		snprintf(json, sizeof json, "{\"type\":\"system\",\"message\":\"%d\"}", i);
		ASSERT_OK(logevent_parse(json, strlen(json), 0, &ev, errmsg));
		ASSERT_OK(store_append(st, &ev, &id));
		logevent_free(&ev);
	}
	ASSERT_OK(store_commit(st));
	store_close(st);
	wake_fd = eventfd(0, EFD_NONBLOCK);
	ASSERT_GE(wake_fd, 0);
	rc = test_run(tests, argc, argv);
	close(wake_fd);
	ASSERT_OK(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS));
	return rc;
}
