/*
 * The journal seam (journal.h): dispatch to an implementation, and the
 * single-node implementation over the writer thread and a store handle.
 */
#include "journal.h"

#include <stdlib.h>

#include "store_ids.h"
#include "writer.h"

struct journal {
	const struct journal_ops *ops;
	void *impl;
};

journal *
journal_new(const struct journal_ops *ops, void *impl)
{
	journal *j = malloc(sizeof *j);

	if (!j)
		return NULL;
	j->ops = ops;
	j->impl = impl;
	return j;
}

void
journal_free(journal *j)
{
	if (!j)
		return;
	if (j->ops->destroy)
		j->ops->destroy(j->impl);
	free(j);
}

int
journal_append(journal *j, struct ingest_batch *batch)
{
	return j->ops->append(j->impl, batch);
}

struct ingest_batch *
journal_take_done(journal *j)
{
	return j->ops->take_done(j->impl);
}

int
journal_read_after(journal *j, int64_t after_id, int limit, store_row_fn fn, void *arg,
		   int *count_out)
{
	return j->ops->read_after(j->impl, after_id, limit, fn, arg, count_out);
}

int
journal_first_id(journal *j, int64_t *id_out)
{
	return j->ops->first_id(j->impl, id_out);
}

int
journal_last_id(journal *j, int64_t *id_out)
{
	return j->ops->last_id(j->impl, id_out);
}

int
journal_lost(journal *j, int64_t id, int64_t *from_out, int64_t *to_out)
{
	return j->ops->lost(j->impl, id, from_out, to_out);
}

int
journal_first_id_since(journal *j, int64_t ts_us, int64_t *id_out)
{
	return j->ops->first_id_since(j->impl, ts_us, id_out);
}

const char *
journal_epoch(journal *j)
{
	return j->ops->epoch(j->impl);
}

const char *
journal_errmsg(journal *j)
{
	return j->ops->errmsg(j->impl);
}

/* ------------------------------------------------------------ single node */

struct local {
	writer *w;
	store *reader;
};

static int
local_append(void *impl, struct ingest_batch *batch)
{
	return writer_submit(((struct local *)impl)->w, batch);
}

static struct ingest_batch *
local_take_done(void *impl)
{
	return writer_take_done(((struct local *)impl)->w);
}

static int
local_read_after(void *impl, int64_t after_id, int limit, store_row_fn fn, void *arg,
		 int *count_out)
{
	return store_read_after(((struct local *)impl)->reader, after_id, limit, fn, arg,
				count_out);
}

static int
local_first_id(void *impl, int64_t *id_out)
{
	return store_first_id(((struct local *)impl)->reader, id_out);
}

static int
local_last_id(void *impl, int64_t *id_out)
{
	return store_last_id(((struct local *)impl)->reader, id_out);
}

static int
local_lost(void *impl, int64_t id, int64_t *from_out, int64_t *to_out)
{
	return store_ids_lost(((struct local *)impl)->reader, id, from_out, to_out);
}

static int
local_first_id_since(void *impl, int64_t ts_us, int64_t *id_out)
{
	return store_first_id_since(((struct local *)impl)->reader, ts_us, id_out);
}

static const char *
local_epoch(void *impl)
{
	return store_epoch(((struct local *)impl)->reader);
}

static const char *
local_errmsg(void *impl)
{
	return store_errmsg(((struct local *)impl)->reader);
}

static const struct journal_ops local_ops = {
	.append = local_append,
	.take_done = local_take_done,
	.read_after = local_read_after,
	.first_id = local_first_id,
	.last_id = local_last_id,
	.lost = local_lost,
	.first_id_since = local_first_id_since,
	.epoch = local_epoch,
	.errmsg = local_errmsg,
	.destroy = free,
};

journal *
journal_local_new(writer *w, store *reader)
{
	struct local *l = malloc(sizeof *l);
	journal *j;

	if (!l)
		return NULL;
	l->w = w;
	l->reader = reader;
	if (!(j = journal_new(&local_ops, l)))
		free(l);
	return j;
}
