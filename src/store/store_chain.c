/*
 * The hash chain's storage and its check (store_chain.h, and the
 * store_chain__ helpers of store_db.h that store.c and store_export.c use).
 *
 * Invariants the writer keeps, each in the transaction that changes the
 * rows: every stored event has its link in journal.hash; the anchor in
 * meta is the newest chain element below every kept event; for every kept
 * event whose predecessor in the chain was deleted, chain_deleted holds
 * that predecessor's link, and nothing else; the head in meta is the link
 * the writer made last. A walk in id order from the anchor over events and
 * deleted links therefore checks every link still held.
 */
#include "store_chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "store_db.h"
#include "timestamp.h"

/* Events read per transaction by the check and by the upgrade. */
#define VERIFY_PAGE  4096
#define UPGRADE_PAGE 10000

static const unsigned char zero_hash[CHAIN_HASH_SIZE];

/* Read a meta value into out (size bytes); *found is 0 when the key is absent. */
static int
meta_get(sqlite3 *db, const char *key, char *out, size_t size, int *found, char *errmsg)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return store_db_fail(db, rc, errmsg);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	*found = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW)
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(db, rc, errmsg);
	sqlite3_finalize(s);
	return rc;
}

static int
meta_set(sqlite3 *db, const char *key, const char *value, char *errmsg)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
				    -1, &s, NULL);

	if (rc != SQLITE_OK)
		return store_db_fail(db, rc, errmsg);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? 0 : store_db_fail(db, rc, errmsg);
	sqlite3_finalize(s);
	return rc;
}

/*
 * A link kept in meta as "<prefix>_id" and "<prefix>_hash". *found is 0
 * (and the outputs untouched) when it is absent; a malformed one is
 * reported as a corrupt store.
 */
static int
meta_link(sqlite3 *db, const char *prefix, int64_t *id_out, unsigned char *hash_out, int *found,
	  char *errmsg)
{
	char key[64], id_text[32], hex[CHAIN_HEX_SIZE + 8];
	int has_id, has_hash, rc;
	char *end;

	snprintf(key, sizeof key, "%s_id", prefix);
	if ((rc = meta_get(db, key, id_text, sizeof id_text, &has_id, errmsg)))
		return rc;
	snprintf(key, sizeof key, "%s_hash", prefix);
	if ((rc = meta_get(db, key, hex, sizeof hex, &has_hash, errmsg)))
		return rc;
	*found = has_id && has_hash;
	if (!*found)
		return 0;
	long long id = strtoll(id_text, &end, 10);
	unsigned char hash[CHAIN_HASH_SIZE];
	if (*end || end == id_text || id < 0 || chain_unhex(hex, strlen(hex), hash))
		return err_set(errmsg, ERR_CORRUPT, "meta %s_id/%s_hash is not an id and a hash",
			       prefix, prefix);
	*id_out = id;
	memcpy(hash_out, hash, CHAIN_HASH_SIZE);
	return 0;
}

static int
meta_set_link(sqlite3 *db, const char *prefix, int64_t id, const unsigned char *hash, char *errmsg)
{
	char key[64], text[32], hex[CHAIN_HEX_SIZE];
	int rc;

	snprintf(key, sizeof key, "%s_id", prefix);
	snprintf(text, sizeof text, "%lld", (long long)id);
	if ((rc = meta_set(db, key, text, errmsg)))
		return rc;
	snprintf(key, sizeof key, "%s_hash", prefix);
	chain_hex(hash, hex);
	return meta_set(db, key, hex, errmsg);
}

int
store_chain__anchor(sqlite3 *db, int64_t *id_out, unsigned char *hash_out, char *errmsg)
{
	int64_t id = 0;
	unsigned char hash[CHAIN_HASH_SIZE] = {0};
	int found, rc = meta_link(db, "chain_anchor", &id, hash, &found, errmsg);

	if (rc)
		return rc;
	*id_out = id;
	memcpy(hash_out, hash, CHAIN_HASH_SIZE);
	return 0;
}

/*
 * Run sql (one id parameter, bound when sql has one) returning "id, hash";
 * *found is 0 when it returns no row. A NULL hash reads as zero bytes.
 */
static int
query_link(sqlite3 *db, const char *sql, int64_t param, int64_t *id_out, unsigned char *hash_out,
	   int *found, char *errmsg)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return store_db_fail(db, rc, errmsg);
	if (sqlite3_bind_parameter_count(s))
		sqlite3_bind_int64(s, 1, param);
	rc = sqlite3_step(s);
	*found = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(s, 1);
		*id_out = sqlite3_column_int64(s, 0);
		if (h && sqlite3_column_bytes(s, 1) == CHAIN_HASH_SIZE)
			memcpy(hash_out, h, CHAIN_HASH_SIZE);
		else
			memset(hash_out, 0, CHAIN_HASH_SIZE);
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(db, rc, errmsg);
	sqlite3_finalize(s);
	return rc;
}

int
store_chain__link_at(sqlite3 *db, int64_t upto, int64_t *id_out, unsigned char *hash_out,
		     char *errmsg)
{
	int64_t id, best_id;
	unsigned char hash[CHAIN_HASH_SIZE], best[CHAIN_HASH_SIZE];
	int found, rc;

	if ((rc = store_chain__anchor(db, &best_id, best, errmsg)))
		return rc;
	if ((rc = query_link(db,
			     "SELECT id, hash FROM journal WHERE id <= ? ORDER BY id DESC LIMIT 1",
			     upto, &id, hash, &found, errmsg)))
		return rc;
	if (found && id > best_id) {
		best_id = id;
		memcpy(best, hash, sizeof best);
	}
	if ((rc = query_link(db,
			     "SELECT id, hash FROM chain_deleted WHERE id <= ? ORDER BY id DESC "
			     "LIMIT 1",
			     upto, &id, hash, &found, errmsg)))
		return rc;
	if (found && id > best_id) {
		best_id = id;
		memcpy(best, hash, sizeof best);
	}
	*id_out = best_id;
	memcpy(hash_out, best, CHAIN_HASH_SIZE);
	return 0;
}

int
store_chain__head(sqlite3 *db, int64_t *id_out, unsigned char *hash_out, char *errmsg)
{
	int found, rc = meta_link(db, "chain_head", id_out, hash_out, &found, errmsg);

	if (rc || found)
		return rc;
	return store_chain__link_at(db, INT64_MAX, id_out, hash_out, errmsg);
}

int
store_chain_ends(store *st, struct store_chain_ends *out)
{
	struct store_chain_ends e;
	sqlite3 *db = store__db(st);
	int rc;

	if ((rc = store_chain__anchor(db, &e.anchor_id, e.anchor_hash, store__errmsg(st))) ||
	    (rc = store_chain__head(db, &e.head_id, e.head_hash, store__errmsg(st))))
		return rc;
	*out = e;
	return 0;
}

/* ------------------------------------------------------------ the upgrade */

/*
 * One transaction of the upgrade: link up to UPGRADE_PAGE events after
 * *pos from *prev. The links are computed while reading and written after,
 * so that no row changes under the reading cursor. *done is set when no
 * event is left.
 */
static int
upgrade_page(sqlite3 *db, chain *c, int64_t *pos, unsigned char *prev, struct store_link *links,
	     int *done, char *errmsg)
{
	sqlite3_stmt *sel = NULL, *upd = NULL;
	unsigned char head[CHAIN_HASH_SIZE];
	int64_t last = *pos;
	int n = 0, rc;

	memcpy(head, prev, sizeof head);
	if ((rc = store_db_exec(db, "BEGIN IMMEDIATE", errmsg)))
		return rc;
	rc = sqlite3_prepare_v2(db, "SELECT id, body FROM journal WHERE id > ? ORDER BY id LIMIT ?",
				-1, &sel, NULL);
	if (rc != SQLITE_OK) {
		rc = store_db_fail(db, rc, errmsg);
		goto fail;
	}
	sqlite3_bind_int64(sel, 1, *pos);
	sqlite3_bind_int(sel, 2, UPGRADE_PAGE);
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		const char *body = sqlite3_column_blob(sel, 1);
		links[n].id = sqlite3_column_int64(sel, 0);
		if (chain_link(c, head, links[n].id, body ? body : "",
			       (size_t)sqlite3_column_bytes(sel, 1), links[n].hash)) {
			rc = err_set(errmsg, ERR_SYS, "SHA-256 failed");
			goto fail;
		}
		memcpy(head, links[n].hash, sizeof head);
		last = links[n].id;
		n++;
	}
	if (rc != SQLITE_DONE) {
		rc = store_db_fail(db, rc, errmsg);
		goto fail;
	}
	sqlite3_finalize(sel);
	sel = NULL;
	rc = sqlite3_prepare_v2(db, "UPDATE journal SET hash = ? WHERE id = ?", -1, &upd, NULL);
	if (rc != SQLITE_OK) {
		rc = store_db_fail(db, rc, errmsg);
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		sqlite3_bind_blob(upd, 1, links[i].hash, CHAIN_HASH_SIZE, SQLITE_STATIC);
		sqlite3_bind_int64(upd, 2, links[i].id);
		rc = sqlite3_step(upd);
		sqlite3_reset(upd);
		if (rc != SQLITE_DONE) {
			rc = store_db_fail(db, rc, errmsg);
			goto fail;
		}
	}
	sqlite3_finalize(upd);
	upd = NULL;
	*done = n < UPGRADE_PAGE;
	if (n) {
		char text[32];
		snprintf(text, sizeof text, "%lld", (long long)last);
		if ((rc = meta_set(db, "chain_upgrade_id", text, errmsg)) ||
		    (rc = meta_set_link(db, "chain_head", last, head, errmsg)))
			goto fail;
	}
	if (*done &&
	    (rc = store_db_exec(db, "DELETE FROM meta WHERE key = 'chain_upgrade_id'", errmsg)))
		goto fail;
	if ((rc = store_db_exec(db, "COMMIT", errmsg)))
		goto fail;
	*pos = last;
	memcpy(prev, head, CHAIN_HASH_SIZE);
	return 0;
fail:
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int
store_chain__upgrade(sqlite3 *db, chain *c, char *errmsg)
{
	struct store_link *links = NULL;
	unsigned char prev[CHAIN_HASH_SIZE];
	char text[32];
	int64_t pos = 0, missing, t0 = timestamp_now(), id;
	int found, done = 0, rc;

	/* Links are made in id order, so when the newest event has one, all
	 * have: only a store older than the chain, or an upgrade that was
	 * interrupted, has work left. */
	if ((rc = store_db_query_int(db,
				     "SELECT hash IS NULL FROM journal ORDER BY id DESC LIMIT 1",
				     &missing, errmsg)))
		return rc;
	if (!missing)
		return 0;
	if ((rc = meta_get(db, "chain_upgrade_id", text, sizeof text, &found, errmsg)))
		return rc;
	if (found) {
		pos = strtoll(text, NULL, 10);
		if ((rc = query_link(db, "SELECT id, hash FROM journal WHERE id = ?", pos, &id,
				     prev, &found, errmsg)))
			return rc;
		if (!found)
			return err_set(errmsg, ERR_CORRUPT,
				       "the chain's upgrade stopped at event %lld, which is gone",
				       (long long)pos);
	} else if ((rc = store_chain__anchor(db, &id, prev, errmsg))) {
		return rc;
	}
	if ((rc = store_db_query_int(db, "SELECT count(*) FROM journal WHERE hash IS NULL",
				     &missing, errmsg)))
		return rc;
	log_info("linking %lld stored events into the hash chain", (long long)missing);
	links = malloc(UPGRADE_PAGE * sizeof *links);
	if (!links)
		return err_set(errmsg, ERR_NOMEM, "out of memory");
	while (!done && !(rc = upgrade_page(db, c, &pos, prev, links, &done, errmsg)))
		;
	free(links);
	if (!rc)
		log_info("linked %lld events into the hash chain in %.1f s", (long long)missing,
			 (double)(timestamp_now() - t0) / 1e6);
	return rc;
}

/* ------------------------------------------------------------ retention */

static int
link_order(const void *a, const void *b)
{
	int64_t x = ((const struct store_link *)a)->id, y = ((const struct store_link *)b)->id;
	return (x > y) - (x < y);
}

/*
 * The statements one call of store_chain__forget runs, once per run of
 * deleted events: prepared once per call, not once per run.
 */
enum {
	FORGET_NEXT, /* the kept event after an id */
	FORGET_PREV, /* the kept event before an id */
	FORGET_LAST, /* the newest deleted link below an id */
	FORGET_DROP, /* deleted links between two ids but one */
	FORGET_KEEP, /* record a deleted link */
	FORGET_COUNT
};

static const char *const forget_sql[FORGET_COUNT] = {
	"SELECT min(id) FROM journal WHERE id > ?1",
	"SELECT max(id) FROM journal WHERE id < ?1",
	"SELECT id, hash FROM chain_deleted WHERE id < ?1 ORDER BY id DESC LIMIT 1",
	"DELETE FROM chain_deleted WHERE id > ?1 AND id < ?2 AND id <> ?3",
	"INSERT OR REPLACE INTO chain_deleted (id, hash) VALUES (?1, ?2)",
};

struct forget {
	sqlite3 *db;
	sqlite3_stmt *s[FORGET_COUNT];
	char *errmsg;
};

/*
 * Bind the first nids of ids to statement k and step it once; *row says
 * whether it gave a row (NULL: no matter). The caller resets it.
 */
static int
forget_step(struct forget *f, int k, int nids, const int64_t *ids, int *row)
{
	sqlite3_stmt *s = f->s[k];
	int rc;

	for (int i = 0; i < nids; i++)
		sqlite3_bind_int64(s, i + 1, ids[i]);
	rc = sqlite3_step(s);
	if (row)
		*row = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(f->db, rc, f->errmsg);
}

/* The id of the kept event next to id (after it, or before it); 0 if none. */
static int
neighbour(struct forget *f, int64_t id, int after, int64_t *out)
{
	int k = after ? FORGET_NEXT : FORGET_PREV;
	int rc = forget_step(f, k, 1, &id, NULL);

	if (!rc)
		*out = sqlite3_column_int64(f->s[k], 0); /* NULL reads as 0 */
	sqlite3_reset(f->s[k]);
	return rc;
}

/*
 * The deleted events of one run all lie between the kept events below and
 * above (0: none), newest its newest: of them and of the deleted links
 * already there, only the newest is still needed, by the kept event above.
 * Below every kept event it becomes the anchor.
 */
static int
forget_run(struct forget *f, const struct store_link *newest, int64_t below, int64_t above)
{
	struct store_link keep = *newest, old;
	int64_t upper = above ? above : INT64_MAX;
	sqlite3_stmt *last = f->s[FORGET_LAST];
	int rc, row;

	if ((rc = forget_step(f, FORGET_LAST, 1, &upper, &row))) {
		sqlite3_reset(last);
		return rc;
	}
	if (row && sqlite3_column_int64(last, 0) > below &&
	    sqlite3_column_int64(last, 0) > keep.id &&
	    sqlite3_column_bytes(last, 1) == CHAIN_HASH_SIZE) {
		keep.id = sqlite3_column_int64(last, 0);
		memcpy(keep.hash, sqlite3_column_blob(last, 1), CHAIN_HASH_SIZE);
	}
	sqlite3_reset(last);
	if (!below) {
		/* Never move the anchor back (an event below it can only have
		 * been inserted by hand). */
		if ((rc = store_chain__anchor(f->db, &old.id, old.hash, f->errmsg)))
			return rc;
		if (old.id > keep.id)
			keep = old;
		if ((rc = meta_set_link(f->db, "chain_anchor", keep.id, keep.hash, f->errmsg)))
			return rc;
		/* All of them: 0 < id < upper. */
		rc = forget_step(f, FORGET_DROP, 3, (int64_t[]){0, upper, 0}, NULL);
		sqlite3_reset(f->s[FORGET_DROP]);
		return rc;
	}
	rc = forget_step(f, FORGET_DROP, 3, (int64_t[]){below, upper, keep.id}, NULL);
	sqlite3_reset(f->s[FORGET_DROP]);
	if (rc || keep.id != newest->id)
		return rc;
	sqlite3_bind_blob(f->s[FORGET_KEEP], 2, keep.hash, CHAIN_HASH_SIZE, SQLITE_STATIC);
	rc = forget_step(f, FORGET_KEEP, 1, &keep.id, NULL);
	sqlite3_reset(f->s[FORGET_KEEP]);
	return rc;
}

int
store_chain__forget(sqlite3 *db, struct store_link *links, int n, char *errmsg)
{
	struct forget f = {.db = db, .errmsg = errmsg};
	int rc = 0;

	qsort(links, (size_t)n, sizeof *links, link_order);
	for (int k = 0; k < FORGET_COUNT; k++) {
		int prc = sqlite3_prepare_v2(db, forget_sql[k], -1, &f.s[k], NULL);
		if (prc != SQLITE_OK) {
			rc = store_db_fail(db, prc, errmsg);
			goto out;
		}
	}
	for (int i = 0; i < n;) {
		int64_t above, below;
		int j = i;
		if ((rc = neighbour(&f, links[i].id, 1, &above)) ||
		    (rc = neighbour(&f, links[i].id, 0, &below)))
			goto out;
		/* The run: every deleted id below the next kept event. */
		while (j + 1 < n && (!above || links[j + 1].id < above))
			j++;
		if ((rc = forget_run(&f, &links[j], below, above)))
			goto out;
		i = j + 1;
	}
out:
	for (int k = 0; k < FORGET_COUNT; k++)
		sqlite3_finalize(f.s[k]);
	return rc;
}

/* ------------------------------------------------------------ the check */

struct verify_page {
	sqlite3 *db;
	chain *c;
	struct chain_check *k;
	struct store_chain_report *out;
	int64_t pos; /* the highest event id read so far */
	int end;     /* the last page was read */
	char *errmsg;
};

/* Pass the deleted links with ids up to to, in order, to the check. */
static int
verify_links(struct verify_page *p, sqlite3_stmt *links, int64_t to, int64_t *next_link)
{
	int rc = 0;

	while (*next_link && *next_link <= to) {
		const void *h = sqlite3_column_blob(links, 1);
		if (!h || sqlite3_column_bytes(links, 1) != CHAIN_HASH_SIZE)
			h = zero_hash;
		if (chain_check_deleted(p->k, *next_link, h))
			return 1;
		rc = sqlite3_step(links);
		if (rc == SQLITE_ROW) {
			*next_link = sqlite3_column_int64(links, 0);
		} else if (rc == SQLITE_DONE) {
			*next_link = 0;
		} else {
			return store_db_fail(p->db, rc, p->errmsg);
		}
	}
	return 0;
}

/* Prepare sql, bind its ids and take the first row's id (0: none). */
static int
open_cursor(struct verify_page *p, const char *sql, int64_t a, int64_t b, sqlite3_stmt **out,
	    int64_t *first_id)
{
	int rc = sqlite3_prepare_v2(p->db, sql, -1, out, NULL);

	if (rc != SQLITE_OK)
		return store_db_fail(p->db, rc, p->errmsg);
	sqlite3_bind_int64(*out, 1, a);
	if (sqlite3_bind_parameter_count(*out) > 1)
		sqlite3_bind_int64(*out, 2, b);
	rc = sqlite3_step(*out);
	*first_id = rc == SQLITE_ROW ? sqlite3_column_int64(*out, 0) : 0;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(p->db, rc, p->errmsg);
}

/* One read transaction of the check. */
static int
verify_page(struct verify_page *p)
{
	sqlite3_stmt *rows = NULL, *links = NULL;
	int64_t anchor_id, row_id, link_id, last_row = 0;
	unsigned char anchor[CHAIN_HASH_SIZE];
	int n = 0, rc;

	if ((rc = store_db_exec(p->db, "BEGIN", p->errmsg)))
		return rc;
	if ((rc = store_chain__anchor(p->db, &anchor_id, anchor, p->errmsg)))
		goto out;
	if (anchor_id > p->k->prev_id) {
		/* Retention deleted past where the walk was: go on from the
		 * anchor it left, as the writer did. */
		p->k->prev_id = p->k->after_id = anchor_id;
		memcpy(p->k->prev, anchor, CHAIN_HASH_SIZE);
		p->out->anchor_id = anchor_id;
		memcpy(p->out->anchor_hash, anchor, CHAIN_HASH_SIZE);
	}
	if ((rc = open_cursor(p,
			      "SELECT id, body, hash FROM journal WHERE id > ? ORDER BY id LIMIT ?",
			      p->pos, VERIFY_PAGE, &rows, &row_id)))
		goto out;
	int64_t from = p->pos > anchor_id ? p->pos : anchor_id;
	if ((rc = open_cursor(p, "SELECT id, hash FROM chain_deleted WHERE id > ? ORDER BY id",
			      from, 0, &links, &link_id)))
		goto out;
	while (row_id) {
		if ((rc = verify_links(p, links, row_id - 1, &link_id)))
			goto out;
		const char *body = sqlite3_column_blob(rows, 1);
		const void *h = sqlite3_column_blob(rows, 2);
		if (h && sqlite3_column_bytes(rows, 2) != CHAIN_HASH_SIZE)
			h = zero_hash; /* the wrong size: it cannot match */
		if (!p->out->first_id)
			p->out->first_id = row_id;
		p->out->last_id = row_id;
		rc = chain_check_event(p->k, p->c, row_id, body ? body : "",
				       (size_t)sqlite3_column_bytes(rows, 1), h);
		if (rc)
			goto out;
		last_row = row_id;
		n++;
		rc = sqlite3_step(rows);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			rc = store_db_fail(p->db, rc, p->errmsg);
			goto out;
		}
		row_id = rc == SQLITE_ROW ? sqlite3_column_int64(rows, 0) : 0;
		rc = 0;
	}
	p->end = n < VERIFY_PAGE;
	if (p->end) {
		/* The newest links (deleted events after the last kept one),
		 * then the head the writer recorded in this same snapshot. */
		if ((rc = verify_links(p, links, INT64_MAX, &link_id)))
			goto out;
	}
	p->pos = last_row ? last_row : p->pos;
out:
	/* The head the writer recorded, in the same snapshot as the rows. */
	if (rc >= 0) {
		int hrc = store_chain__head(p->db, &p->out->head_id, p->out->head_hash, p->errmsg);
		rc = hrc ? hrc : rc;
	}
	sqlite3_finalize(rows);
	sqlite3_finalize(links);
	sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

/* Compare where the walk ended with the head the writer recorded. */
static void
check_head(struct store_chain_report *r)
{
	struct chain_check *k = &r->check;

	if (k->broken || (!r->head_id && !k->prev_id))
		return;
	if (r->head_id > k->prev_id) {
		k->broken = 1;
		k->bad_id = k->row_id = k->prev_id + 1;
		k->after_id = k->prev_id;
		snprintf(k->reason, sizeof k->reason,
			 "the chain ends at id %lld but the writer's last link was id %lld: the "
			 "newest events were deleted",
			 (long long)k->prev_id, (long long)r->head_id);
	} else if (r->head_id < k->prev_id) {
		k->broken = 1;
		k->bad_id = k->row_id = r->head_id + 1;
		k->after_id = r->head_id;
		snprintf(k->reason, sizeof k->reason,
			 "the writer's last link was id %lld but the chain goes on to id %lld: "
			 "events were added after the fact",
			 (long long)r->head_id, (long long)k->prev_id);
	} else if (memcmp(r->head_hash, k->prev, CHAIN_HASH_SIZE)) {
		k->broken = 1;
		k->bad_id = k->row_id = r->head_id;
		k->after_id = r->head_id - 1;
		snprintf(k->reason, sizeof k->reason,
			 "the hash of id %lld is not the one the writer recorded: the chain was "
			 "rebuilt",
			 (long long)r->head_id);
	}
}

int
store_chain_verify(store *st, int (*keep_going)(void *arg), void *arg,
		   struct store_chain_report *out)
{
	struct store_chain_report r = {0};
	struct verify_page p = {
		.db = store__db(st), .k = &r.check, .out = &r, .errmsg = store__errmsg(st)};
	int rc;

	sqlite3_stmt *probe;
	if (sqlite3_prepare_v2(
		    p.db,
		    "SELECT journal.hash, chain_deleted.hash FROM journal, chain_deleted LIMIT 0",
		    -1, &probe, NULL) != SQLITE_OK)
		return err_set(p.errmsg, ERR_SCHEMA,
			       "the store has no hash chain yet: open it once for writing "
			       "(sentinel-logd migrate, or the server) to link its events");
	sqlite3_finalize(probe);
	if (!(p.c = chain_new()))
		return err_set(p.errmsg, ERR_NOMEM, "cannot get a SHA-256 context");
	if ((rc = store_chain__anchor(p.db, &r.anchor_id, r.anchor_hash, p.errmsg)))
		goto out;
	chain_check_start(&r.check, r.anchor_id, r.anchor_hash);
	while (!p.end && !r.check.broken) {
		if (keep_going && !keep_going(arg)) {
			rc = err_set(p.errmsg, ERR_CLOSED, "the check was stopped");
			goto out;
		}
		rc = verify_page(&p);
		if (rc < 0)
			goto out;
	}
	rc = 0;
	check_head(&r);
	*out = r;
out:
	chain_free(p.c);
	return rc;
}

int
store_chain_report_json(const struct store_chain_report *r, struct buf *b)
{
	const struct chain_check *k = &r->check;
	char anchor[CHAIN_HEX_SIZE], head[CHAIN_HEX_SIZE];
	int rc;

	chain_hex(r->anchor_hash, anchor);
	chain_hex(r->head_hash, head);
	rc = buf_printf(b, "{\"intact\":%s", k->broken ? "false" : "true");
	if (!rc && k->broken) {
		rc = buf_printf(b, ",\"bad_id\":%lld,\"row_id\":%lld,\"after_id\":%lld,\"reason\":",
				(long long)k->bad_id, (long long)k->row_id,
				(long long)k->after_id) ||
		     buf_json_string(b, k->reason);
	}
	return rc || buf_printf(b,
				",\"events\":%lld,\"deleted\":%lld,\"first_id\":%lld,"
				"\"last_id\":%lld,\"anchor_id\":%lld,\"anchor_hash\":\"%s\","
				"\"head_id\":%lld,\"head_hash\":\"%s\"}",
				(long long)k->events, (long long)k->deleted, (long long)r->first_id,
				(long long)r->last_id, (long long)r->anchor_id, anchor,
				(long long)r->head_id, head)
		       ? ERR_NOMEM
		       : 0;
}
