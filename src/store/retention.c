/*
 * Retention steps. Age is measured on the event's own timestamp (ts_us,
 * indexed), so a step deletes by index range: per-type ages first, then the
 * default age for every other type, then the oldest ids while the count or
 * the size is over its bound. The size bound counts the pages in use plus
 * the WAL, so that deleting returns the store under the bound before the
 * file itself shrinks at the next checkpoint.
 */
#include "retention.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "store_keys.h"
#include "timestamp.h"

int
retention_active(const struct retention_policy *p)
{
	return p->max_age_us || p->max_events || p->max_bytes || p->type_count;
}

int
retention_add_type(struct retention_policy *p, const char *arg, char *errmsg)
{
	const char *eq = strchr(arg, '=');
	int64_t us;

	if (!eq || !logevent_type_valid(arg, (size_t)(eq - arg)))
		return err_set(errmsg, ERR_INVAL,
			       "expected TYPE=DURATION with a valid type, e.g. security=365d");
	if (timestamp_parse_duration(eq + 1, strlen(eq + 1), &us))
		return err_set(errmsg, ERR_INVAL,
			       "'%.40s' is not a duration such as 90s, 10m, 2h or 365d", eq + 1);
	for (size_t i = 0; i < p->type_count; i++) {
		if (!strncmp(p->types[i].type, arg, (size_t)(eq - arg)) &&
		    p->types[i].type[eq - arg] == '\0') {
			p->types[i].max_age_us = us; /* the last one given wins */
			return 0;
		}
	}
	if (p->type_count == RETENTION_MAX_TYPES)
		return err_set(errmsg, ERR_INVAL, "at most %d per-type ages", RETENTION_MAX_TYPES);
	memcpy(p->types[p->type_count].type, arg, (size_t)(eq - arg));
	p->types[p->type_count].type[eq - arg] = '\0';
	p->types[p->type_count].max_age_us = us;
	p->type_count++;
	return 0;
}

/* Bytes of the database file in use (free pages are reused or vacuumed). */
static int
used_bytes(store *st, int64_t *out)
{
	struct store_sizes sz;
	int rc = store_sizes(st, &sz);
	if (rc)
		return rc;
	*out = sz.db_bytes - sz.free_bytes;
	return 0;
}

/*
 * Deleting starts when the pages in use pass 3/4 of max_bytes: the rest is
 * room for free pages not yet vacuumed and for the WAL, which the writer
 * keeps near RETENTION_WAL_TARGET by checkpointing.
 */
static int64_t
bytes_threshold(const struct retention_policy *p)
{
	return p->max_bytes / 4 * 3;
}

int
retention_over_bounds(store *st, const struct retention_policy *p, int64_t count)
{
	int64_t n;

	if (p->max_events && count > p->max_events)
		return 1;
	if (p->max_bytes && !used_bytes(st, &n) && n > bytes_threshold(p))
		return 1;
	return 0;
}

/* Age-based deletions; returns events deleted or a negative error. */
static int64_t
delete_by_age(store *st, const struct retention_policy *p, int64_t now_us, int batch,
	      int64_t *max_id)
{
	int64_t total = 0, n;
	const char *others[RETENTION_MAX_TYPES];
	int rc;

	for (size_t i = 0; i < p->type_count && total < batch; i++) {
		rc = store_delete_older(st, now_us - p->types[i].max_age_us, p->types[i].type, NULL,
					0, batch - (int)total, &n, max_id);
		if (rc)
			return rc;
		total += n;
		others[i] = p->types[i].type;
	}
	if (p->max_age_us && total < batch) {
		rc = store_delete_older(st, now_us - p->max_age_us, NULL, others, p->type_count,
					batch - (int)total, &n, max_id);
		if (rc)
			return rc;
		total += n;
	}
	return total;
}

int
retention_step(store *st, const struct retention_policy *p, int64_t now_us, int batch,
	       int64_t *count, struct retention_result *res)
{
	int64_t n, used, max_id = 0, deleted = 0;
	struct retention_result step = {0};
	int rc, more = 0;

	if ((rc = store_begin(st)))
		return rc;
	n = delete_by_age(st, p, now_us, batch, &max_id);
	if (n < 0) {
		rc = (int)n;
		goto fail;
	}
	step.by_age = n;
	deleted += n;
	more = n >= batch;

	if (!more && p->max_events && *count - deleted > p->max_events) {
		int64_t excess = *count - deleted - p->max_events;
		int limit = excess > batch ? batch : (int)excess;
		if ((rc = store_delete_oldest(st, limit, &n, &max_id)))
			goto fail;
		step.by_count = n;
		deleted += n;
		more = excess > n;
	}
	if (!more && p->max_bytes) {
		if ((rc = used_bytes(st, &used)))
			goto fail;
		if (used > bytes_threshold(p)) {
			if ((rc = store_delete_oldest(st, batch, &n, &max_id)))
				goto fail;
			step.by_bytes = n;
			deleted += n;
			more = n > 0;
		}
	}
	if ((rc = store_commit(st)))
		goto fail;
	/* Only a committed step counts. */
	*count -= deleted;
	res->by_age += step.by_age;
	res->by_count += step.by_count;
	res->by_bytes += step.by_bytes;
	if (max_id > res->max_id)
		res->max_id = max_id;
	return more;
fail:
	store_rollback(st);
	return rc;
}

int
retention_expire_keys(store *st, const struct retention_policy *p, int64_t now_us, int batch,
		      int64_t *deleted_out)
{
	int64_t n = 0;
	int rc = store_keys_expire(st, now_us - p->key_window_us, batch, &n);

	if (rc)
		return rc;
	*deleted_out = n;
	return n >= batch;
}

int
retention_compact(store *st, int max_pages)
{
	int rc = store_incremental_vacuum(st, max_pages);
	if (rc)
		return rc;
	return store_checkpoint(st, 1);
}
