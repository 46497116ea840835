/*
 * Backup and restore (see store_backup.h). Both are one call of
 * sqlite3_backup_step() for every page: in steps, a backup whose source
 * changed between two steps starts over, and a busy server could keep it
 * from ever finishing. The copy ends in WAL mode with an empty WAL, like a
 * store a server has closed.
 */
#include "store_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "store_db.h"
#include "store_lock.h"
#include "store_mark.h"

#define PATH_SIZE 4200

/* Do a and b name one existing file? */
static int
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* Open the store at path read-only, checking that it is one we can read. */
static int
open_source(const char *path, sqlite3 **out, char *errmsg)
{
	char detail[ERRMSG_SIZE];
	sqlite3 *db = NULL;
	struct stat sb;
	int rc;

	/* SQLite says only "unable to open database file"; say why. */
	if (stat(path, &sb) != 0)
		return err_set(errmsg, ERR_SYS, "%s: %s", path, strerror(errno));
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK)
		rc = store_db_fail(db, rc, detail);
	else
		rc = store_db_check_version(db, detail);
	if (rc) {
		sqlite3_close(db);
		return err_set(errmsg, rc, "%s: %s", path, detail);
	}
	sqlite3_busy_timeout(db, 5000);
	*out = db;
	return 0;
}

/* Copy every page of src into dst, in one read transaction of src. */
static int
copy_pages(sqlite3 *dst, sqlite3 *src, char *errmsg)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc;

	if (!b)
		return store_db_fail(dst, sqlite3_errcode(dst), errmsg);
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	return rc == SQLITE_DONE ? 0 : store_db_fail(dst, rc, errmsg);
}

/* PRAGMA quick_check must say "ok". */
static int
check_copy(sqlite3 *db, char *errmsg)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return store_db_fail(db, rc, errmsg);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(s, 0), "ok"))
		rc = err_set(errmsg, ERR_CORRUPT, "the copy fails its check: %s",
			     (const char *)sqlite3_column_text(s, 0));
	else
		rc = rc == SQLITE_ROW ? 0 : store_db_fail(db, rc, errmsg);
	sqlite3_finalize(s);
	return rc;
}

/* Leave db in WAL mode with its WAL checkpointed, and say what it holds. */
static int
finish_copy(sqlite3 *db, struct store_copy *out, char *errmsg)
{
	int64_t pages, page_size;
	int rc;

	if ((rc = store_db_exec(db, "PRAGMA journal_mode = WAL", errmsg)) ||
	    (rc = check_copy(db, errmsg)) ||
	    (rc = store_db_query_int(db, "SELECT count(*) FROM journal", &out->events, errmsg)) ||
	    (rc = store_db_query_int(db, "SELECT seq FROM sqlite_sequence WHERE name = 'journal'",
				     &out->last_id, errmsg)) ||
	    (rc = store_db_epoch(db, out->epoch, errmsg)) ||
	    (rc = store_db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", errmsg)) ||
	    (rc = store_db_query_int(db, "PRAGMA page_count", &pages, errmsg)) ||
	    (rc = store_db_query_int(db, "PRAGMA page_size", &page_size, errmsg)))
		return rc;
	out->bytes = pages * page_size;
	return 0;
}

/* fsync a file or folder by name. */
static int
sync_path(const char *path, int flags, char *errmsg)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0) {
		int rc = err_set(errmsg, ERR_SYS, "cannot sync %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

/* Remove path; a missing file is fine. */
static int
remove_file(const char *path, char *errmsg)
{
	if (unlink(path) != 0 && errno != ENOENT)
		return err_set(errmsg, ERR_SYS, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

/*
 * Put the finished copy tmp in place of to: remove the WAL and shared
 * memory files of the store it replaces first (the copy must not be read
 * through them), then rename, then make the rename durable.
 */
static int
replace_file(const char *tmp, const char *to, char *errmsg)
{
	char side[PATH_SIZE], dir[PATH_SIZE];
	int rc;

	if ((rc = sync_path(tmp, O_RDONLY, errmsg)))
		return rc;
	snprintf(side, sizeof side, "%s-wal", to);
	if ((rc = remove_file(side, errmsg)))
		return rc;
	snprintf(side, sizeof side, "%s-shm", to);
	if ((rc = remove_file(side, errmsg)))
		return rc;
	if (rename(tmp, to) != 0)
		return err_set(errmsg, ERR_SYS, "cannot rename %s to %s: %s", tmp, to,
			       strerror(errno));
	snprintf(dir, sizeof dir, "%s", to);
	return sync_path(dirname(dir), O_RDONLY | O_DIRECTORY, errmsg);
}

int
store_backup(const char *path, const char *to, struct store_copy *out, char *errmsg)
{
	char tmp[PATH_SIZE], detail[ERRMSG_SIZE] = "";
	struct store_copy copy = {0};
	sqlite3 *src = NULL, *dst = NULL;
	store_lock *lock = NULL;
	int rc;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", to) >= (int)sizeof tmp)
		return err_set(errmsg, ERR_INVAL, "path too long: %s", to);
	if (same_file(path, to))
		return err_set(errmsg, ERR_INVAL, "%s and %s are the same file", path, to);
	/* No server may be writing the file this replaces. */
	if (!(lock = store_lock_take(to, &rc, errmsg)))
		return rc;
	if ((rc = open_source(path, &src, errmsg)))
		goto out;
	if ((rc = remove_file(tmp, errmsg)) || (rc = store_db_create_file(tmp, errmsg)))
		goto out;
	rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		rc = store_db_fail(dst, rc, detail);
		goto fail_dst;
	}
	if ((rc = copy_pages(dst, src, detail)) || (rc = finish_copy(dst, &copy, detail)))
		goto fail_dst;
	if (sqlite3_close(dst) != SQLITE_OK) {
		rc = store_db_fail(dst, sqlite3_errcode(dst), detail);
		goto fail_dst;
	}
	dst = NULL;
	if ((rc = replace_file(tmp, to, errmsg)))
		goto out;
	*out = copy;
	goto out;
fail_dst:
	err_set(errmsg, rc, "cannot write %s: %s", tmp, detail);
out:
	sqlite3_close(dst);
	sqlite3_close(src);
	if (rc)
		(void)unlink(tmp);
	store_lock_release(lock);
	return rc;
}

int
store_restore(const char *path, const char *from, struct store_copy *out, char *errmsg)
{
	char detail[ERRMSG_SIZE] = "", epoch[STORE_EPOCH_SIZE], old_epoch[STORE_EPOCH_SIZE];
	struct store_copy copy = {0};
	sqlite3 *src = NULL, *dst = NULL;
	store_lock *lock = NULL;
	store_mark *mark = NULL;
	int64_t marked;
	int rc;

	if (same_file(path, from))
		return err_set(errmsg, ERR_INVAL, "%s and %s are the same file", path, from);
	/* No server may be running on the store this replaces. */
	if (!(lock = store_lock_take(path, &rc, errmsg)))
		return rc;
	if ((rc = open_source(from, &src, errmsg)) || (rc = store_db_create_file(path, errmsg)))
		goto out;
	rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		rc = store_db_fail(dst, rc, detail);
		goto fail_dst;
	}
	sqlite3_busy_timeout(dst, 5000);
	if ((rc = copy_pages(dst, src, detail)) ||
	    (rc = store_db_renew_epoch(dst, epoch, detail)) ||
	    (rc = finish_copy(dst, &copy, detail)))
		goto fail_dst;
	if (sqlite3_close(dst) != SQLITE_OK) {
		rc = store_db_fail(dst, sqlite3_errcode(dst), detail);
		goto fail_dst;
	}
	dst = NULL;
	/* The mark follows the new epoch, so that the next writer trusts it. */
	if (!(mark = store_mark_open(path, 1, old_epoch, &marked, &rc, errmsg)) ||
	    (rc = store_mark_set(mark, copy.epoch, copy.last_id, errmsg)))
		goto out;
	*out = copy;
	goto out;
fail_dst:
	err_set(errmsg, rc, "cannot write %s: %s", path, detail);
out:
	store_mark_close(mark);
	sqlite3_close(dst);
	sqlite3_close(src);
	store_lock_release(lock);
	return rc;
}
