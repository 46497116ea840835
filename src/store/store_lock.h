/*
 * The writer's lock on a store: one process at a time may write a store.
 *
 * The lock is an exclusive flock(2) on a side file, PATH.lock, held by the
 * one handle that writes (the server's writer, compact, migrate, restore,
 * sentinel-import --db) from open to close. Readers never take it, so
 * sqlite3 and sentinel-export may read while a server runs. The kernel
 * releases it when the process ends, however it ends, so a crash leaves no
 * stale lock; the file itself stays. While held, the file names its holder
 * (pid and command line) so that a refused writer can say who holds it.
 *
 * Private to src/store/: nothing outside this folder includes it.
 */
#ifndef SENTINEL_STORE_LOCK_H
#define SENTINEL_STORE_LOCK_H

typedef struct store_lock store_lock;

/*
 * Take the lock of the store at path, creating its folders (0750) and the
 * lock file (0640) as needed, less as the umask says. Returns NULL with *err set and a message
 * naming the store in errmsg: ERR_BUSY when another writer holds it (the message then names the
 * holder when it is known), ERR_SYS when a folder or the lock file cannot be made.
 */
store_lock *store_lock_take(const char *path, int *err, char *errmsg);

/* Release the lock (NULL is allowed). */
void store_lock_release(store_lock *l);

#endif
