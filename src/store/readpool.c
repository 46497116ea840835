/*
 * The reader pool (readpool.h). One mutex guards the queue, the ready list
 * and every job's shared state; a condition variable wakes idle threads,
 * and each job has its own for a writer waiting on the loop.
 *
 * A job is reference-counted under the mutex: the loop holds one until it
 * releases the job, the queue or the thread running it holds one, and the
 * ready list holds one while the job is on it. Whoever drops the last frees
 * it, so neither side ever touches a freed job.
 */
#include "readpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "thread_name.h"

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct readpool_job {
	readpool *pool;
	struct readpool_job_options o;
	int refs;
	enum job_state state;
	int released;   /* the loop let go */
	int on_ready;   /* on the ready list */
	struct buf out; /* output not yet taken by the loop */
	int status;
	char errmsg[ERRMSG_SIZE];
	int64_t deadline_us;
	atomic_int cancelled;
	pthread_cond_t space; /* out was taken, or the job was released */
	readpool_job *next;   /* in the queue */
	readpool_job *next_ready;
	readpool_job **prev_live, *next_live; /* every job not yet freed */
};

struct worker {
	readpool *pool;
	pthread_t thread;
	store *st;
	readpool_job *job; /* running */
	int started;
};

struct readpool {
	pthread_mutex_t lock;
	pthread_cond_t work;
	readpool_job *queue, **queue_tail;
	size_t queued, max_queued;
	readpool_job *ready; /* jobs with something for the loop */
	readpool_job *live;  /* every job not yet freed */
	atomic_int stopping;
	readpool_notify_fn notify;
	void *notify_arg;
	struct worker *workers;
	int threads;
};

int64_t
readpool_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* Drop a reference (lock held); frees the job at zero. */
static void
unref(readpool_job *job)
{
	if (--job->refs > 0)
		return;
	*job->prev_live = job->next_live;
	if (job->next_live)
		job->next_live->prev_live = job->prev_live;
	if (job->o.free_arg)
		job->o.free_arg(job->o.arg);
	buf_free(&job->out);
	pthread_cond_destroy(&job->space);
	free(job);
}

/* Put the job on the ready list and wake the loop (lock held). */
static void
make_ready(readpool_job *job)
{
	readpool *p = job->pool;

	if (job->on_ready || job->released)
		return;
	job->on_ready = 1;
	job->refs++;
	job->next_ready = p->ready;
	p->ready = job;
	p->notify(p->notify_arg);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	readpool *p = w->pool;

	thread_name_set("reader");
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->queue && !atomic_load(&p->stopping))
			pthread_cond_wait(&p->work, &p->lock);
		if (atomic_load(&p->stopping))
			break;
		readpool_job *job = p->queue;
		p->queue = job->next;
		if (!p->queue)
			p->queue_tail = &p->queue;
		p->queued--;
		job->state = JOB_RUNNING;
		job->deadline_us = job->o.time_limit_us ? readpool_now() + job->o.time_limit_us : 0;
		w->job = job;
		pthread_mutex_unlock(&p->lock);

		char errmsg[ERRMSG_SIZE] = "";
		int status = job->o.run(w->st, job, job->o.arg, errmsg);

		pthread_mutex_lock(&p->lock);
		w->job = NULL;
		job->state = JOB_DONE;
		job->status = status;
		memcpy(job->errmsg, errmsg, sizeof errmsg);
		make_ready(job);
		unref(job); /* the thread's reference, taken over from the queue */
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

readpool *
readpool_create(const char *path, int threads, size_t max_queued, readpool_notify_fn notify,
		void *notify_arg, int *err, char *errmsg)
{
	readpool *p = calloc(1, sizeof *p);
	int rc = ERR_NOMEM;

	if (!p || !(p->workers = calloc((size_t)threads, sizeof *p->workers))) {
		free(p);
		*err = err_set(errmsg, ERR_NOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	p->queue_tail = &p->queue;
	p->max_queued = max_queued;
	p->notify = notify;
	p->notify_arg = notify_arg;
	p->threads = threads;
	for (int i = 0; i < threads; i++) {
		struct worker *w = &p->workers[i];
		w->pool = p;
		if (!(w->st = store_open(path, STORE_READONLY, &rc, errmsg)))
			goto fail;
	}
	for (int i = 0; i < threads; i++) {
		struct worker *w = &p->workers[i];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			rc = err_set(errmsg, ERR_SYS, "cannot start a reader thread");
			goto fail;
		}
		w->started = 1;
	}
	return p;
fail:
	*err = rc;
	readpool_destroy(p);
	return NULL;
}

void
readpool_destroy(readpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->stopping, 1);
	pthread_cond_broadcast(&p->work);
	for (int i = 0; i < p->threads; i++) {
		readpool_job *job = p->workers[i].job;
		if (job) {
			atomic_store(&job->cancelled, 1);
			pthread_cond_broadcast(&job->space);
		}
	}
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->threads; i++)
		if (p->workers[i].started)
			pthread_join(p->workers[i].thread, NULL);
	/* Nothing runs any more: drop every reference that is left. */
	for (readpool_job *job = p->ready, *next; job; job = next) {
		next = job->next_ready;
		job->on_ready = 0;
		unref(job);
	}
	for (readpool_job *job = p->queue, *next; job; job = next) {
		next = job->next;
		unref(job);
	}
	/* The loop can no longer use the jobs it still holds. */
	for (readpool_job *job = p->live, *next; job; job = next) {
		next = job->next_live;
		if (!job->released) {
			job->released = 1;
			unref(job);
		}
	}
	for (int i = 0; i < p->threads; i++)
		store_close(p->workers[i].st);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->workers);
	free(p);
}

readpool_job *
readpool_submit(readpool *p, const struct readpool_job_options *o, int *err)
{
	readpool_job *job = NULL;
	pthread_condattr_t attr;

	pthread_mutex_lock(&p->lock);
	if (atomic_load(&p->stopping))
		*err = ERR_CLOSED;
	else if (p->queued >= p->max_queued)
		*err = ERR_BUSY;
	else if (!(job = calloc(1, sizeof *job)))
		*err = ERR_NOMEM;
	if (!job) {
		pthread_mutex_unlock(&p->lock);
		if (o->free_arg)
			o->free_arg(o->arg);
		return NULL;
	}
	job->pool = p;
	job->o = *o;
	job->refs = 2; /* the loop's and the queue's */
	job->state = JOB_QUEUED;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&job->space, &attr);
	pthread_condattr_destroy(&attr);
	*p->queue_tail = job;
	p->queue_tail = &job->next;
	p->queued++;
	job->next_live = p->live;
	if (p->live)
		p->live->prev_live = &job->next_live;
	job->prev_live = &p->live;
	p->live = job;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	return job;
}

int
readpool_take(readpool_job *job, struct buf *out, int *done, int *status, char *errmsg)
{
	readpool *p = job->pool;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (job->out.len) {
		if (!out->len) {
			struct buf t = *out;
			*out = job->out;
			job->out = t;
			job->out.len = 0;
		} else if ((rc = buf_append(out, job->out.data, job->out.len))) {
			goto out;
		} else {
			job->out.len = 0;
		}
		pthread_cond_broadcast(&job->space);
	}
	*done = job->state == JOB_DONE;
	*status = job->status;
	if (*done && job->status)
		memcpy(errmsg, job->errmsg, ERRMSG_SIZE);
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void
readpool_release(readpool_job *job)
{
	readpool *p;

	if (!job)
		return;
	p = job->pool;
	pthread_mutex_lock(&p->lock);
	job->released = 1;
	atomic_store(&job->cancelled, 1);
	pthread_cond_broadcast(&job->space);
	if (job->state == JOB_QUEUED) {
		readpool_job **pp = &p->queue;
		while (*pp != job)
			pp = &(*pp)->next;
		*pp = job->next;
		if (p->queue_tail == &job->next)
			p->queue_tail = pp;
		p->queued--;
		unref(job); /* the queue's */
	}
	unref(job); /* the loop's */
	pthread_mutex_unlock(&p->lock);
}

void
readpool_dispatch(readpool *p)
{
	pthread_mutex_lock(&p->lock);
	readpool_job *job = p->ready;
	p->ready = NULL;
	while (job) {
		/*
		 * Read the link before on_ready drops: from then on a reader
		 * thread may put the job on the new ready list, which rewrites
		 * next_ready. The ready list's reference keeps the job alive
		 * through the call, whatever the callback does with the loop's.
		 */
		readpool_job *next = job->next_ready;
		int wanted = !job->released;
		job->on_ready = 0;
		pthread_mutex_unlock(&p->lock);
		if (wanted)
			job->o.ready(job, job->o.ready_arg);
		pthread_mutex_lock(&p->lock);
		unref(job);
		job = next;
	}
	pthread_mutex_unlock(&p->lock);
}

int
readpool_write(readpool_job *job, const void *data, size_t len)
{
	readpool *p = job->pool;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		if (job->released || atomic_load(&p->stopping)) {
			rc = ERR_CLOSED;
			break;
		}
		/* Always room for one write, however large, in an empty buffer. */
		if (!job->out.len || job->out.len + len <= job->o.buffer) {
			int was_empty = !job->out.len;
			if ((rc = buf_append(&job->out, data, len)))
				break;
			if (was_empty)
				make_ready(job);
			break;
		}
		if (!job->deadline_us) {
			pthread_cond_wait(&job->space, &p->lock);
			continue;
		}
		struct timespec until = {(time_t)(job->deadline_us / 1000000),
					 (long)(job->deadline_us % 1000000) * 1000};
		if (pthread_cond_timedwait(&job->space, &p->lock, &until) == ETIMEDOUT &&
		    job->out.len && job->out.len + len > job->o.buffer) {
			rc = ERR_TIMEOUT;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int
readpool_cancelled(readpool_job *job)
{
	return atomic_load(&job->cancelled) || atomic_load(&job->pool->stopping);
}

int64_t
readpool_deadline(readpool_job *job)
{
	return job->deadline_us;
}
