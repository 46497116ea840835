/*
 * Backup and restore of a whole store, with SQLite's online backup API.
 *
 * A backup reads the store in one read transaction, so it is one
 * consistent state (a prefix of the commits) even while a server writes;
 * the copy is written beside its destination and renamed over it only
 * once it is complete and checked, so the destination never holds half a
 * copy. A restore copies a backup into a store that no process is
 * writing, and gives it a new epoch: the ids after the backup were handed
 * out already and will be handed out again, so clients resuming with the
 * old epoch must start over (reset) rather than skip them. Both take the
 * writer's lock of the store they write.
 */
#ifndef SENTINEL_STORE_BACKUP_H
#define SENTINEL_STORE_BACKUP_H

#include <stdint.h>

#include "store.h"

/* What a backup or restore copied. */
struct store_copy {
	int64_t events;               /* events in the copy */
	int64_t last_id;              /* the highest id ever assigned in it */
	char epoch[STORE_EPOCH_SIZE]; /* its epoch (new, after a restore) */
	int64_t bytes;                /* the size of the copy */
};

/*
 * Copy the store at path to the file to (created with its folders, or
 * replaced). Returns 0 and fills *out, or a project error with a message
 * in errmsg: ERR_BUSY when a writer holds to, ERR_INVAL when to is path.
 */
int store_backup(const char *path, const char *to, struct store_copy *out, char *errmsg);

/*
 * Replace the store at path (created with its folders if missing) with a
 * copy of the store from, under a new epoch. Returns 0 and fills *out, or
 * a project error with a message in errmsg: ERR_BUSY when a writer (a
 * running server) holds path, ERR_INVAL when from is path.
 */
int store_restore(const char *path, const char *from, struct store_copy *out, char *errmsg);

#endif
