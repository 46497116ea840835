/*
 * crashvfs: a test-only SQLite VFS that simulates power loss and I/O errors.
 *
 * It wraps the default VFS and passes every call through, so the files on
 * disk always hold what the operating system's page cache would hold. Beside
 * that it keeps, for every file (by path, shared by all its handles), what a
 * power cut could still take away: the file's size at its last xSync, the
 * original bytes of every block changed or cut off since then, and a copy of
 * each write and truncation since then, in order. A cut rewrites each file as
 * a disk may have left it, then ends the process with _exit(99):
 *
 *   drop     the file as it was at its last sync
 *   torn     plus the unsynced operations in order, the last one kept only up
 *            to a random sector boundary
 *   partial  plus a random subset of the unsynced sectors (a disk that
 *            reorders its writes); sectors past the old end read as zeros
 *   any      one of the three, chosen for each file
 *
 * Not modelled: the -shm file (SQLite rebuilds it when a connection finds no
 * other), folder entries (a file created or deleted stays so), and a write
 * tearing inside a sector (SQLite's unix VFS promises powersafe overwrite).
 *
 * Commands, separated by ';' or new lines:
 *   cut MODE                   cut now
 *   cut-after N MODE           cut right after the Nth write from now
 *   fail OP FILE [N [SKIP]]    let SKIP (0) operations OP on FILE pass, then
 *                              fail N (1; 0 means all) of them with an I/O
 *                              error; OP is write, grow (a write past the end),
 *                              sync, read or truncate; FILE is db, wal or any
 *   heal                       stop failing
 *   nosync                     do not pass xSync on to the disk (the
 *                              simulation alone decides what is durable)
 *   seed N                     seed the random choices of cuts
 *
 * Threading: every operation that changes a file, and every cut, holds one
 * mutex, so a cut waits for the operation under way and none runs after it.
 * What is kept for a file lives as long as the process (reachable from a
 * global, so leak checkers do not count it).
 */
#include "crashvfs.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK  4096 /* unit of the saved original bytes */
#define SECTOR 512  /* unit of what a cut keeps or drops */

enum op { OP_WRITE, OP_GROW, OP_SYNC, OP_READ, OP_TRUNCATE, OP_NONE };
enum kind { KIND_DB = 1, KIND_WAL = 2, KIND_OTHER = 4, KIND_ANY = 7 };
enum mode { CUT_DROP, CUT_TORN, CUT_PARTIAL, CUT_ANY };

/* One write (len >= 0) or truncation to off (len < 0) since the last sync. */
struct change {
	int64_t off, len;
	struct change *next;
	unsigned char data[];
};

/* The original bytes of one block, as they were at the last sync. */
struct saved {
	int64_t block;
	unsigned char *data;
	size_t len;
};

/* What a power cut could take from one file. */
struct shadow {
	char *path;
	int kind;
	int64_t synced_size;
	unsigned char *saved_map; /* one bit per block below synced_size */
	size_t map_bytes;
	struct saved *saved;
	size_t nsaved, cap_saved;
	struct change *changes, **changes_tail;
	struct shadow *next;
};

struct cfile {
	sqlite3_file base;
	struct shadow *sh; /* NULL for files without a name */
	sqlite3_file *real;
};

static struct {
	sqlite3_vfs vfs;
	sqlite3_vfs *real;
	pthread_mutex_t lock;
	struct shadow *shadows;
	/* the armed failure */
	atomic_int fail_op;
	int fail_kinds;
	long fail_skip, fail_count;
	atomic_long faults;
	/* the armed cut */
	long cut_after;
	int cut_mode;
	int nosync;
	uint64_t rng;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .fail_op = OP_NONE};

static const char *const op_names[] = {"write", "grow", "sync", "read", "truncate"};
static const char *const mode_names[] = {"drop", "torn", "partial", "any"};

/* Print a line on stderr without stdio, which a cut must not wait for. */
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
note(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	(void)!write(2, buf, (size_t)n);
}

static uint64_t
next_random(void)
{
	/* xorshift64 */
	g.rng ^= g.rng << 13;
	g.rng ^= g.rng >> 7;
	g.rng ^= g.rng << 17;
	return g.rng;
}

/* ------------------------------------------------------------ the shadows */

static struct shadow *
shadow_find(const char *path, int kind, sqlite3_file *real)
{
	struct shadow *sh;
	sqlite3_int64 size = 0;

	for (sh = g.shadows; sh; sh = sh->next)
		if (!strcmp(sh->path, path))
			return sh;
	sh = calloc(1, sizeof *sh);
	if (!sh || !(sh->path = strdup(path))) {
		free(sh);
		return NULL;
	}
	/* What was there before this process opened it counts as synced. */
	if (real->pMethods->xFileSize(real, &size) == SQLITE_OK)
		sh->synced_size = size;
	sh->kind = kind;
	sh->changes_tail = &sh->changes;
	sh->next = g.shadows;
	g.shadows = sh;
	return sh;
}

/* Forget everything since the last sync: it is durable now. */
static void
shadow_synced(struct shadow *sh, int64_t size)
{
	struct change *c, *next;

	for (size_t i = 0; i < sh->nsaved; i++)
		free(sh->saved[i].data);
	free(sh->saved);
	free(sh->saved_map);
	for (c = sh->changes; c; c = next) {
		next = c->next;
		free(c);
	}
	sh->saved = NULL;
	sh->nsaved = sh->cap_saved = 0;
	sh->saved_map = NULL;
	sh->map_bytes = 0;
	sh->changes = NULL;
	sh->changes_tail = &sh->changes;
	sh->synced_size = size;
}

/* Keep the synced bytes of the blocks in [from, to) before they change. */
static int
shadow_save(struct shadow *sh, sqlite3_file *real, int64_t from, int64_t to)
{
	if (to > sh->synced_size)
		to = sh->synced_size;
	if (from >= to)
		return SQLITE_OK;
	size_t need = (size_t)((sh->synced_size + BLOCK - 1) / BLOCK + 7) / 8;
	if (sh->map_bytes < need) {
		unsigned char *map = realloc(sh->saved_map, need);
		if (!map)
			return SQLITE_NOMEM;
		memset(map + sh->map_bytes, 0, need - sh->map_bytes);
		sh->saved_map = map;
		sh->map_bytes = need;
	}
	for (int64_t b = from / BLOCK; b * BLOCK < to; b++) {
		if (sh->saved_map[b / 8] & (1u << (b % 8)))
			continue;
		if (sh->nsaved == sh->cap_saved) {
			size_t cap = sh->cap_saved ? 2 * sh->cap_saved : 64;
			struct saved *s = realloc(sh->saved, cap * sizeof *s);
			if (!s)
				return SQLITE_NOMEM;
			sh->saved = s;
			sh->cap_saved = cap;
		}
		int64_t len = sh->synced_size - b * BLOCK;
		struct saved *s = &sh->saved[sh->nsaved];
		s->block = b;
		s->len = (size_t)(len < BLOCK ? len : BLOCK);
		if (!(s->data = malloc(s->len)))
			return SQLITE_NOMEM;
		/* A short read (the file was cut shorter) fills with zeros. */
		int rc = real->pMethods->xRead(real, s->data, (int)s->len, b * BLOCK);
		if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
			free(s->data);
			return rc;
		}
		sh->nsaved++;
		sh->saved_map[b / 8] |= (unsigned char)(1u << (b % 8));
	}
	return SQLITE_OK;
}

static int
shadow_record(struct shadow *sh, const void *data, int64_t off, int64_t len)
{
	struct change *c = malloc(sizeof *c + (size_t)(len > 0 ? len : 0));

	if (!c)
		return SQLITE_NOMEM;
	c->off = off;
	c->len = len;
	c->next = NULL;
	if (len > 0)
		memcpy(c->data, data, (size_t)len);
	*sh->changes_tail = c;
	sh->changes_tail = &c->next;
	return SQLITE_OK;
}

/* ------------------------------------------------------------ the cut */

/* The number of pieces of a change a cut keeps or drops one by one. */
static int64_t
change_units(const struct change *c)
{
	if (c->len <= 0)
		return 1;
	return (c->off + c->len - 1) / SECTOR - c->off / SECTOR + 1;
}

/* Apply unit u of change c to fd. */
static void
apply_unit(int fd, const struct change *c, int64_t u)
{
	if (c->len < 0) {
		(void)!ftruncate(fd, c->off);
		return;
	}
	int64_t start = u == 0 ? c->off : (c->off / SECTOR + u) * SECTOR;
	int64_t end = (c->off / SECTOR + u + 1) * SECTOR;
	if (end > c->off + c->len)
		end = c->off + c->len;
	if (end > start)
		(void)!pwrite(fd, c->data + (start - c->off), (size_t)(end - start), start);
}

/* Leave one file as the disk may have it after the power went. */
static void
cut_file(struct shadow *sh, int mode)
{
	int64_t units = 0, kept = 0, keep_first = 0;
	int fd;

	if (!sh->changes && !sh->nsaved)
		return;
	if (mode == CUT_ANY)
		mode = (int)(next_random() % 3);
	fd = open(sh->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	for (size_t i = 0; i < sh->nsaved; i++)
		(void)!pwrite(fd, sh->saved[i].data, sh->saved[i].len, sh->saved[i].block * BLOCK);
	(void)!ftruncate(fd, sh->synced_size);
	for (const struct change *c = sh->changes; c; c = c->next)
		units += change_units(c);
	if (mode == CUT_TORN)
		keep_first = (int64_t)(next_random() % (uint64_t)(units + 1));
	int64_t n = 0;
	for (const struct change *c = sh->changes; c; c = c->next) {
		for (int64_t u = 0; u < change_units(c); u++, n++) {
			int keep = mode == CUT_TORN      ? n < keep_first
				   : mode == CUT_PARTIAL ? (int)(next_random() & 1)
							 : 0;
			if (keep) {
				apply_unit(fd, c, u);
				kept++;
			}
		}
	}
	close(fd);
	note("crashvfs: power cut (%s): %s back to its last sync (%lld bytes), %lld of %lld "
	     "unsynced sectors kept",
	     mode_names[mode], sh->path, (long long)sh->synced_size, (long long)kept,
	     (long long)units);
}

/* Cut the power: called with the lock held, never returns. */
static void __attribute__((noreturn)) cut(int mode)
{
	note("crashvfs: power cut (%s)", mode_names[mode]);
	for (struct shadow *sh = g.shadows; sh; sh = sh->next)
		cut_file(sh, mode);
	_exit(CRASHVFS_CUT_EXIT);
}

/* ------------------------------------------------------------ failures */

/* Should this operation fail? Called with the lock held. */
static int
fault_due(int op, const struct cfile *f)
{
	if (atomic_load(&g.fail_op) != op || !f->sh || !(g.fail_kinds & f->sh->kind))
		return 0;
	if (g.fail_skip > 0) {
		g.fail_skip--;
		return 0;
	}
	if (g.fail_count > 0 && --g.fail_count == 0)
		atomic_store(&g.fail_op, OP_NONE);
	atomic_fetch_add(&g.faults, 1);
	note("crashvfs: failing %s on %s", op_names[op], f->sh->path);
	return 1;
}

/* ------------------------------------------------------------ file methods */

static int
c_close(sqlite3_file *file)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xClose(f->real);
}

static int
c_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off)
{
	struct cfile *f = (struct cfile *)file;

	if (atomic_load(&g.fail_op) == OP_READ) {
		pthread_mutex_lock(&g.lock);
		int fail = fault_due(OP_READ, f);
		pthread_mutex_unlock(&g.lock);
		if (fail)
			return SQLITE_IOERR_READ;
	}
	return f->real->pMethods->xRead(f->real, buf, amt, off);
}

static int
c_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off)
{
	struct cfile *f = (struct cfile *)file;
	sqlite3_file *real = f->real;
	int rc;

	if (!f->sh)
		return real->pMethods->xWrite(real, buf, amt, off);
	pthread_mutex_lock(&g.lock);
	int fail = fault_due(OP_WRITE, f);
	if (!fail && atomic_load(&g.fail_op) == OP_GROW) {
		sqlite3_int64 size = 0;
		if (real->pMethods->xFileSize(real, &size) == SQLITE_OK && off + amt > size)
			fail = fault_due(OP_GROW, f);
	}
	if (fail) {
		pthread_mutex_unlock(&g.lock);
		return SQLITE_IOERR_WRITE;
	}
	rc = shadow_save(f->sh, real, off, off + amt);
	if (rc == SQLITE_OK)
		rc = real->pMethods->xWrite(real, buf, amt, off);
	if (rc == SQLITE_OK)
		rc = shadow_record(f->sh, buf, off, amt);
	if (g.cut_after > 0 && --g.cut_after == 0)
		cut(g.cut_mode);
	pthread_mutex_unlock(&g.lock);
	return rc;
}

static int
c_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct cfile *f = (struct cfile *)file;
	sqlite3_file *real = f->real;
	int rc;

	if (!f->sh)
		return real->pMethods->xTruncate(real, size);
	pthread_mutex_lock(&g.lock);
	if (fault_due(OP_TRUNCATE, f)) {
		pthread_mutex_unlock(&g.lock);
		return SQLITE_IOERR_TRUNCATE;
	}
	rc = shadow_save(f->sh, real, size, f->sh->synced_size);
	if (rc == SQLITE_OK)
		rc = real->pMethods->xTruncate(real, size);
	if (rc == SQLITE_OK)
		rc = shadow_record(f->sh, NULL, size, -1);
	pthread_mutex_unlock(&g.lock);
	return rc;
}

static int
c_sync(sqlite3_file *file, int flags)
{
	struct cfile *f = (struct cfile *)file;
	sqlite3_file *real = f->real;
	sqlite3_int64 size = 0;
	int rc = SQLITE_OK;

	if (!f->sh)
		return real->pMethods->xSync(real, flags);
	pthread_mutex_lock(&g.lock);
	if (fault_due(OP_SYNC, f)) {
		/* What was not synced stays at the mercy of the next cut. */
		pthread_mutex_unlock(&g.lock);
		return SQLITE_IOERR_FSYNC;
	}
	if (!g.nosync)
		rc = real->pMethods->xSync(real, flags);
	if (rc == SQLITE_OK)
		rc = real->pMethods->xFileSize(real, &size);
	if (rc == SQLITE_OK)
		shadow_synced(f->sh, size);
	pthread_mutex_unlock(&g.lock);
	return rc;
}

static int
c_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xFileSize(f->real, size);
}

static int
c_lock(sqlite3_file *file, int level)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xLock(f->real, level);
}

static int
c_unlock(sqlite3_file *file, int level)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xUnlock(f->real, level);
}

static int
c_check_reserved(sqlite3_file *file, int *out)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int
c_file_control(sqlite3_file *file, int op, void *arg)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int
c_sector_size(sqlite3_file *file)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xSectorSize(f->real);
}

static int
c_device_characteristics(sqlite3_file *file)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int
c_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xShmMap(f->real, page, size, extend, out);
}

static int
c_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void
c_shm_barrier(sqlite3_file *file)
{
	struct cfile *f = (struct cfile *)file;
	f->real->pMethods->xShmBarrier(f->real);
}

static int
c_shm_unmap(sqlite3_file *file, int delete_flag)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

static int
c_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **out)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xFetch(f->real, off, amt, out);
}

static int
c_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
	struct cfile *f = (struct cfile *)file;
	return f->real->pMethods->xUnfetch(f->real, off, p);
}

static const sqlite3_io_methods c_methods = {
	.iVersion = 3,
	.xClose = c_close,
	.xRead = c_read,
	.xWrite = c_write,
	.xTruncate = c_truncate,
	.xSync = c_sync,
	.xFileSize = c_file_size,
	.xLock = c_lock,
	.xUnlock = c_unlock,
	.xCheckReservedLock = c_check_reserved,
	.xFileControl = c_file_control,
	.xSectorSize = c_sector_size,
	.xDeviceCharacteristics = c_device_characteristics,
	.xShmMap = c_shm_map,
	.xShmLock = c_shm_lock,
	.xShmBarrier = c_shm_barrier,
	.xShmUnmap = c_shm_unmap,
	.xFetch = c_fetch,
	.xUnfetch = c_unfetch,
};

/* ------------------------------------------------------------ VFS methods */

static int
v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
	struct cfile *f = (struct cfile *)file;
	int rc;

	(void)vfs;
	memset(f, 0, sizeof *f);
	f->real = (sqlite3_file *)(f + 1);
	rc = g.real->xOpen(g.real, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK)
		return rc; /* pMethods stays NULL: SQLite will not close it */
	if (name) {
		int kind = flags & SQLITE_OPEN_MAIN_DB ? KIND_DB
			   : flags & SQLITE_OPEN_WAL   ? KIND_WAL
						       : KIND_OTHER;
		pthread_mutex_lock(&g.lock);
		f->sh = shadow_find(name, kind, f->real);
		pthread_mutex_unlock(&g.lock);
		if (!f->sh) {
			f->real->pMethods->xClose(f->real);
			return SQLITE_NOMEM;
		}
	}
	f->base.pMethods = &c_methods;
	return SQLITE_OK;
}

static int
v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	pthread_mutex_lock(&g.lock);
	int rc = g.real->xDelete(g.real, name, sync_dir);
	/* A deleted file is gone for good: a cut leaves it alone. */
	for (struct shadow *sh = g.shadows; rc == SQLITE_OK && sh; sh = sh->next)
		if (!strcmp(sh->path, name))
			shadow_synced(sh, 0);
	pthread_mutex_unlock(&g.lock);
	return rc;
}

static int
v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return g.real->xAccess(g.real, name, flags, out);
}

static int
v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return g.real->xFullPathname(g.real, name, n, out);
}

static void *
v_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return g.real->xDlOpen(g.real, name);
}

static void
v_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	g.real->xDlError(g.real, n, out);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return g.real->xDlSym(g.real, h, sym);
}

static void
v_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	g.real->xDlClose(g.real, h);
}

static int
v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return g.real->xRandomness(g.real, n, out);
}

static int
v_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return g.real->xSleep(g.real, us);
}

static int
v_current_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return g.real->xCurrentTime(g.real, out);
}

static int
v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return g.real->xGetLastError(g.real, n, out);
}

static int
v_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return g.real->xCurrentTimeInt64(g.real, out);
}

int
crashvfs_register(void)
{
	if (g.real)
		return SQLITE_OK;
	g.real = sqlite3_vfs_find(NULL);
	if (!g.real || g.real->iVersion < 2)
		return SQLITE_ERROR;
	g.vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct cfile) + g.real->szOsFile,
		.mxPathname = g.real->mxPathname,
		.zName = "crashvfs",
		.xOpen = v_open,
		.xDelete = v_delete,
		.xAccess = v_access,
		.xFullPathname = v_full_pathname,
		.xDlOpen = v_dlopen,
		.xDlError = v_dlerror,
		.xDlSym = v_dlsym,
		.xDlClose = v_dlclose,
		.xRandomness = v_randomness,
		.xSleep = v_sleep,
		.xCurrentTime = v_current_time,
		.xGetLastError = v_last_error,
		.xCurrentTimeInt64 = v_current_time64,
	};
	if (!g.rng)
		g.rng = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() ^
			0x9e3779b97f4a7c15u;
	return sqlite3_vfs_register(&g.vfs, 1);
}

long
crashvfs_faults(void)
{
	return atomic_load(&g.faults);
}

/* ------------------------------------------------------------ commands */

static int
word_index(const char *word, const char *const *names, int count)
{
	for (int i = 0; word && i < count; i++)
		if (!strcmp(word, names[i]))
			return i;
	return -1;
}

static int
parse_long(const char *word, long *out)
{
	char *end;
	long v;

	if (!word)
		return -1;
	v = strtol(word, &end, 10);
	if (end == word || *end || v < 0)
		return -1;
	*out = v;
	return 0;
}

/* Run one command, its words in w[0..n). Lock held. */
static int
run_one(char **w, int n, char *errmsg, size_t size)
{
	static const char *const kinds[] = {"db", "wal", "any"};
	static const int kind_bits[] = {KIND_DB, KIND_WAL, KIND_ANY};
	long count = 1, skip = 0, v;
	int mode, op, kind;

	if (!strcmp(w[0], "cut") && n == 2 && (mode = word_index(w[1], mode_names, 4)) >= 0)
		cut(mode);
	if (!strcmp(w[0], "cut-after") && n == 3 && !parse_long(w[1], &v) && v > 0 &&
	    (mode = word_index(w[2], mode_names, 4)) >= 0) {
		g.cut_after = v;
		g.cut_mode = mode;
		return 0;
	}
	if (!strcmp(w[0], "fail") && n >= 3 && n <= 5 &&
	    (op = word_index(w[1], op_names, OP_NONE)) >= 0 &&
	    (kind = word_index(w[2], kinds, 3)) >= 0 && (n < 4 || !parse_long(w[3], &count)) &&
	    (n < 5 || !parse_long(w[4], &skip))) {
		g.fail_kinds = kind_bits[kind];
		g.fail_count = count;
		g.fail_skip = skip;
		atomic_store(&g.fail_op, op);
		return 0;
	}
	if (!strcmp(w[0], "heal") && n == 1) {
		atomic_store(&g.fail_op, OP_NONE);
		return 0;
	}
	if (!strcmp(w[0], "nosync") && n == 1) {
		g.nosync = 1;
		return 0;
	}
	if (!strcmp(w[0], "seed") && n == 2 && !parse_long(w[1], &v)) {
		g.rng = (uint64_t)v * 2654435761u + 0x9e3779b97f4a7c15u;
		return 0;
	}
	snprintf(errmsg, size, "crashvfs: bad command '%s'", w[0]);
	return -1;
}

int
crashvfs_run(const char *commands, char *errmsg, size_t size)
{
	char *copy = strdup(commands), *save = NULL, *cmd;
	int rc = 0;

	if (!copy) {
		snprintf(errmsg, size, "crashvfs: out of memory");
		return -1;
	}
	pthread_mutex_lock(&g.lock);
	for (cmd = strtok_r(copy, ";\n", &save); cmd && !rc; cmd = strtok_r(NULL, ";\n", &save)) {
		char *w[5], *wsave = NULL, *word;
		int n = 0;
		for (word = strtok_r(cmd, " \t\r", &wsave); word;
		     word = strtok_r(NULL, " \t\r", &wsave)) {
			if (n == 5) {
				n = 6;
				break;
			}
			w[n++] = word;
		}
		if (n == 6) {
			snprintf(errmsg, size, "crashvfs: too many words in '%s'", w[0]);
			rc = -1;
		} else if (n) {
			rc = run_one(w, n, errmsg, size);
		}
	}
	pthread_mutex_unlock(&g.lock);
	free(copy);
	return rc;
}
