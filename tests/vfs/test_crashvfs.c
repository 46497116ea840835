/*
 * Unit tests of crashvfs, the power-loss simulation the black-box tests
 * rely on. Each case runs its writes in a child process that registers the
 * VFS and ends in a cut; the parent, on SQLite's own VFS, then checks what
 * the cut left: the file at its last sync (drop), that plus a prefix of the
 * later writes cut at a sector boundary (torn), or each sector old or new
 * (partial); failures injected on the chosen operation only. Then SQLite
 * itself on top: after any cut a WAL store passes integrity_check and holds
 * a prefix of its commits, all of them under synchronous=FULL.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "assert.h"
#include "crashvfs.h"

#define SECTOR 512
#define OLD    8192  /* bytes synced before the cut */
#define NEW    12288 /* bytes written after it, 4096 of them past the end */

static char root[64];
static char path[128];

/* Run fn in a child that must end in a cut; returns nothing on success. */
static void
in_child_until_cut(void (*fn)(long), long arg)
{
	pid_t pid = fork();
	int status;

	ASSERT(pid >= 0);
	if (pid == 0) {
		if (crashvfs_register() != SQLITE_OK)
			_exit(3);
		fn(arg);
		_exit(4); /* the cut should have ended the process */
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), CRASHVFS_CUT_EXIT);
}

static void
run(const char *commands)
{
	char errmsg[256];
	if (crashvfs_run(commands, errmsg, sizeof errmsg)) {
		fprintf(stderr, "%s\n", errmsg);
		_exit(5);
	}
}

/* The byte at offset i of the synced content and of the later writes. */
static unsigned char
old_byte(size_t i)
{
	return (unsigned char)('a' + i % 23);
}

static unsigned char
new_byte(size_t i)
{
	return (unsigned char)('A' + i % 19);
}

static sqlite3_file *
open_file(sqlite3_vfs *vfs)
{
	sqlite3_file *f = calloc(1, (size_t)vfs->szOsFile);
	int out;
	if (!f || vfs->xOpen(vfs, path, f,
			     SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE,
			     &out) != SQLITE_OK)
		_exit(6);
	return f;
}

/* Child: OLD bytes synced, then NEW bytes written in 4 writes, then cut. */
static void
write_then_cut(long mode)
{
	static const char *const modes[] = {"drop", "torn", "partial"};
	sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);
	sqlite3_file *f = open_file(vfs);
	unsigned char buf[NEW];
	char cmd[64];

	for (size_t i = 0; i < OLD; i++)
		buf[i] = old_byte(i);
	if (f->pMethods->xWrite(f, buf, OLD, 0) || f->pMethods->xSync(f, SQLITE_SYNC_NORMAL))
		_exit(7);
	for (size_t i = 0; i < NEW; i++)
		buf[i] = new_byte(i);
	/* Unaligned pieces, so that tears fall inside writes. */
	for (size_t at = 0; at < NEW; at += 3000) {
		int n = NEW - at < 3000 ? (int)(NEW - at) : 3000;
		if (f->pMethods->xWrite(f, buf + at, n, (sqlite3_int64)at))
			_exit(8);
	}
	snprintf(cmd, sizeof cmd, "seed %ld; cut %s", mode / 3 + 1, modes[mode % 3]);
	run(cmd);
}

/* The file as the parent sees it: length in *len. */
static unsigned char *
read_file(size_t *len)
{
	struct stat sb;
	int fd = open(path, O_RDONLY);
	ASSERT(fd >= 0);
	ASSERT_OK(fstat(fd, &sb));
	unsigned char *buf = malloc((size_t)sb.st_size + 1);
	ASSERT_NOT_NULL(buf);
	ASSERT_EQ(pread(fd, buf, (size_t)sb.st_size, 0), sb.st_size);
	close(fd);
	*len = (size_t)sb.st_size;
	return buf;
}

static void
reset_file(void)
{
	unlink(path);
}

TEST(drop_leaves_the_last_sync)
{
	size_t len;

	reset_file();
	in_child_until_cut(write_then_cut, 0);
	unsigned char *got = read_file(&len);
	ASSERT_EQ(len, OLD);
	for (size_t i = 0; i < OLD; i++)
		ASSERT_EQ(got[i], old_byte(i));
	free(got);
}

TEST(torn_keeps_a_prefix_cut_at_a_sector)
{
	int kept_some = 0;

	for (long seed = 0; seed < 12; seed++) {
		size_t len;
		reset_file();
		in_child_until_cut(write_then_cut, seed * 3 + 1);
		unsigned char *got = read_file(&len);
		/* The writes went in order from offset 0: a prefix of them is
		 * [0, k) new, the rest as synced, k on a sector boundary or at
		 * the end of a write. */
		size_t k = 0;
		while (k < len && got[k] == new_byte(k))
			k++;
		ASSERT(k % SECTOR == 0 || k % 3000 == 0 || k == NEW);
		ASSERT_EQ(len, k > OLD ? k : OLD);
		for (size_t i = k; i < len; i++)
			ASSERT_EQ(got[i], old_byte(i));
		kept_some += k > 0 && k < NEW;
		free(got);
	}
	ASSERT_GT(kept_some, 0);
}

TEST(partial_keeps_each_sector_old_or_new)
{
	int mixed = 0;

	for (long seed = 0; seed < 6; seed++) {
		size_t len, olds = 0, news = 0;
		reset_file();
		in_child_until_cut(write_then_cut, seed * 3 + 2);
		unsigned char *got = read_file(&len);
		ASSERT_GE(len, OLD);
		ASSERT_LE(len, NEW);
		for (size_t s = 0; s < len; s += SECTOR) {
			size_t end = s + SECTOR < len ? s + SECTOR : len;
			int is_new = 1, is_old = 1;
			for (size_t i = s; i < end; i++) {
				/* A sector may hold pieces of two writes. */
				int piece_new = got[i] == new_byte(i);
				int piece_old = i < OLD ? got[i] == old_byte(i) : got[i] == 0;
				ASSERT(piece_new || piece_old);
				is_new &= piece_new;
				is_old &= piece_old;
			}
			news += is_new;
			olds += is_old;
		}
		mixed += news > 0 && olds > 0;
		free(got);
	}
	ASSERT_GT(mixed, 0);
}

/* Child: one synced write, then a cut: the write stays. */
static void
sync_then_cut(long unused)
{
	sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);
	sqlite3_file *f = open_file(vfs);
	(void)unused;
	if (f->pMethods->xWrite(f, "durable", 7, 0) || f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) ||
	    f->pMethods->xTruncate(f, 3))
		_exit(7);
	run("cut drop");
}

TEST(sync_makes_writes_durable)
{
	size_t len;

	reset_file();
	in_child_until_cut(sync_then_cut, 0);
	unsigned char *got = read_file(&len);
	/* The truncation came after the sync: it is undone. */
	ASSERT_EQ(len, 7);
	ASSERT_MEM_EQ(got, "durable", 7);
	free(got);
}

/* Child: inject each kind of failure and check it hits only its target. */
static void
failures(long unused)
{
	sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);
	sqlite3_file *f = open_file(vfs);
	const struct sqlite3_io_methods *m = f->pMethods;
	char buf[16];
	(void)unused;

	/* The second write fails, the others pass. */
	run("fail write db 1 1");
	ASSERT_EQ(m->xWrite(f, "one", 3, 0), SQLITE_OK);
	ASSERT_EQ(m->xWrite(f, "two", 3, 3), SQLITE_IOERR_WRITE);
	ASSERT_EQ(m->xWrite(f, "two", 3, 3), SQLITE_OK);
	ASSERT_EQ(crashvfs_faults(), 1);
	/* Only writes past the end fail as "grow". */
	run("fail grow any 0");
	ASSERT_EQ(m->xWrite(f, "ONE", 3, 0), SQLITE_OK);
	ASSERT_EQ(m->xWrite(f, "three", 5, 6), SQLITE_IOERR_WRITE);
	ASSERT_EQ(m->xWrite(f, "three", 5, 6), SQLITE_IOERR_WRITE);
	run("heal");
	ASSERT_EQ(m->xWrite(f, "three", 5, 6), SQLITE_OK);
	/* Failures aimed at the WAL leave the database file alone. */
	run("fail sync wal 0");
	ASSERT_EQ(m->xSync(f, SQLITE_SYNC_NORMAL), SQLITE_OK);
	run("fail read wal 0");
	ASSERT_EQ(m->xRead(f, buf, 3, 0), SQLITE_OK);
	run("fail sync db");
	ASSERT_EQ(m->xSync(f, SQLITE_SYNC_NORMAL), SQLITE_IOERR_FSYNC);
	ASSERT_EQ(m->xSync(f, SQLITE_SYNC_NORMAL), SQLITE_OK);
	run("fail read any 2");
	ASSERT_EQ(m->xRead(f, buf, 3, 0), SQLITE_IOERR_READ);
	ASSERT_EQ(m->xRead(f, buf, 3, 0), SQLITE_IOERR_READ);
	ASSERT_EQ(m->xRead(f, buf, 3, 0), SQLITE_OK);
	ASSERT_MEM_EQ(buf, "ONE", 3);
	run("fail truncate db");
	ASSERT_EQ(m->xTruncate(f, 2), SQLITE_IOERR_TRUNCATE);
	ASSERT_EQ(crashvfs_faults(), 7);
	/* A failed sync leaves the writes unsynced: a cut takes them. */
	ASSERT_EQ(m->xWrite(f, "lost", 4, 0), SQLITE_OK);
	run("fail sync db");
	ASSERT_EQ(m->xSync(f, SQLITE_SYNC_NORMAL), SQLITE_IOERR_FSYNC);
	run("cut-after 1 drop");
	m->xWrite(f, "X", 1, 0);
	_exit(9); /* not reached: the write above cut */
}

TEST(failures_hit_their_target)
{
	size_t len;

	reset_file();
	in_child_until_cut(failures, 0);
	unsigned char *got = read_file(&len);
	ASSERT_EQ(len, 11);
	ASSERT_MEM_EQ(got, "ONEtwothree", 11);
	free(got);
}

/* Child: 200 commits in WAL mode, no checkpoint, then a cut. */
static void
commits_then_cut(long arg)
{
	static const char *const modes[] = {"drop", "torn", "partial"};
	int full = (int)(arg & 1);
	sqlite3 *db;
	char cmd[64];

	if (sqlite3_open(path, &db) ||
	    sqlite3_exec(db,
			 full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL"
			      : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
			 NULL, NULL, NULL) ||
	    sqlite3_exec(db,
			 "PRAGMA wal_autocheckpoint=0; CREATE TABLE t (id INTEGER PRIMARY KEY, v)",
			 NULL, NULL, NULL))
		_exit(7);
	for (int i = 1; i <= 200; i++) {
		char sql[128];
		snprintf(sql, sizeof sql, "INSERT INTO t VALUES (%d, randomblob(%d))", i,
			 100 + i * 37 % 3000);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL))
			_exit(8);
		if (i == 120 &&
		    sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL))
			_exit(10);
	}
	snprintf(cmd, sizeof cmd, "seed %ld; cut %s", arg, modes[(arg >> 1) % 3]);
	run(cmd);
}

TEST(sqlite_keeps_a_prefix_of_its_commits)
{
	for (long arg = 0; arg < 24; arg++) {
		int full = (int)(arg & 1);
		char wal[160];
		sqlite3 *db;
		sqlite3_stmt *s;

		reset_file();
		snprintf(wal, sizeof wal, "%s-wal", path);
		unlink(wal);
		in_child_until_cut(commits_then_cut, arg);
		ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
		ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL),
			  SQLITE_OK);
		ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
		ASSERT_STR_EQ((const char *)sqlite3_column_text(s, 0), "ok");
		sqlite3_finalize(s);
		ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*), coalesce(max(id), 0) FROM t", -1,
					     &s, NULL),
			  SQLITE_OK);
		ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
		int count = sqlite3_column_int(s, 0), max = sqlite3_column_int(s, 1);
		sqlite3_finalize(s);
		ASSERT_EQ(count, max); /* a prefix: 1..max, no hole */
		/* The checkpoint at 120 synced the WAL: those commits stay. */
		ASSERT_GE(count, 120);
		if (full)
			ASSERT_EQ(count, 200);
		printf("  %s, %s: %d of 200 commits kept\n", full ? "FULL" : "NORMAL",
		       (const char *[]){"drop", "torn", "partial"}[(arg >> 1) % 3], count);
		sqlite3_close(db);
	}
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(drop_leaves_the_last_sync),
		TEST_ENTRY(torn_keeps_a_prefix_cut_at_a_sector),
		TEST_ENTRY(partial_keeps_each_sector_old_or_new),
		TEST_ENTRY(sync_makes_writes_durable),
		TEST_ENTRY(failures_hit_their_target),
		TEST_ENTRY(sqlite_keeps_a_prefix_of_its_commits),
	};
	int rc;

	snprintf(root, sizeof root, "/tmp/sentinel-crashvfs-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof path, "%s/file.db", root);
	rc = test_run(tests, argc, argv);
	char wal[160], shm[160];
	snprintf(wal, sizeof wal, "%s-wal", path);
	snprintf(shm, sizeof shm, "%s-shm", path);
	unlink(path);
	unlink(wal);
	unlink(shm);
	ASSERT_OK(rmdir(root));
	return rc;
}
