/*
 * The reader pool: threads that each own a read-only store handle and run
 * jobs on it away from the event loop (an auditor's query, a check of the
 * hash chain), handing the output back to the loop in bounded chunks.
 *
 * A job is a function run on a reader thread with that thread's handle.
 * It writes its output with readpool_write(), which blocks while the job
 * already holds its buffer's worth that the loop has not taken: a client
 * that reads slowly makes its job wait, never the server buffer more. When
 * a job has new output or has finished, the pool calls the notify function
 * it was created with (from the reader thread: write to an eventfd, as the
 * writer does), and the loop then calls readpool_dispatch(), which calls
 * each such job's ready function on the loop.
 *
 * Threading: readpool_submit, readpool_take, readpool_release,
 * readpool_dispatch and readpool_destroy on the loop; readpool_write,
 * readpool_cancelled and readpool_deadline on the job's reader thread.
 */
#ifndef SENTINEL_READPOOL_H
#define SENTINEL_READPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

typedef struct readpool readpool;
typedef struct readpool_job readpool_job;

/* Called from a reader thread when a job has something for the loop. */
typedef void (*readpool_notify_fn)(void *arg);

/*
 * The job's work, on a reader thread with its store handle. Returns 0, or
 * an ERR_* code with the reason in errmsg (ERRMSG_SIZE bytes).
 */
typedef int (*readpool_fn)(store *st, readpool_job *job, void *arg, char *errmsg);

/* On the loop: the job has new output or has finished (see readpool_take). */
typedef void (*readpool_ready_fn)(readpool_job *job, void *arg);

struct readpool_job_options {
	readpool_fn run;
	void *arg;
	void (*free_arg)(void *arg); /* called once the job is over (any thread); may be NULL */
	readpool_ready_fn ready;
	void *ready_arg;
	size_t buffer;         /* output held before readpool_write waits (at least one write) */
	int64_t time_limit_us; /* from the job's start; 0: none (see readpool_deadline) */
};

/*
 * Open threads read-only handles on the store at path and start a thread
 * for each. At most max_queued jobs wait for a thread. Returns NULL with
 * *err set and the reason in errmsg.
 */
readpool *readpool_create(const char *path, int threads, size_t max_queued,
			  readpool_notify_fn notify, void *notify_arg, int *err, char *errmsg);

/*
 * Stop: every job still running is cancelled (its writes fail, its query is
 * interrupted), the threads are joined and the handles closed. Jobs the
 * loop has not released are freed too. NULL is allowed.
 */
void readpool_destroy(readpool *p);

/*
 * Queue a job. Returns it (the loop's until readpool_release), or NULL with
 * *err ERR_BUSY (max_queued jobs already wait), ERR_CLOSED or ERR_NOMEM;
 * o->free_arg is then called on o->arg.
 */
readpool_job *readpool_submit(readpool *p, const struct readpool_job_options *o, int *err);

/*
 * On the loop: move the job's output so far to the end of out (which may
 * be empty), and say whether the job has finished (*done), with its result
 * (*status, and the reason in errmsg when it failed). Returns 0 or
 * ERR_NOMEM (the output then stays with the job).
 */
int readpool_take(readpool_job *job, struct buf *out, int *done, int *status, char *errmsg);

/* On the loop: the output is no longer wanted (also to cancel a job). */
void readpool_release(readpool_job *job);

/* On the loop, after a notify: call the ready function of each job concerned. */
void readpool_dispatch(readpool *p);

/*
 * On the job's thread: add output. Returns 0; ERR_CLOSED when the output
 * is no longer wanted (released, or the pool stops); ERR_TIMEOUT when the
 * job's time limit passed while it waited for the loop; ERR_NOMEM.
 */
int readpool_write(readpool_job *job, const void *data, size_t len);

/* On the job's thread: 1 when the output is no longer wanted, else 0. */
int readpool_cancelled(readpool_job *job);

/* On the job's thread: the end of its time limit (CLOCK_MONOTONIC µs), or 0. */
int64_t readpool_deadline(readpool_job *job);

/* The current CLOCK_MONOTONIC time in µs, the clock of readpool_deadline. */
int64_t readpool_now(void);

#endif
