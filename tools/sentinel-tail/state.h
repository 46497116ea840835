/*
 * The state file: where a follow got to, so that the next run resumes
 * there. It holds the store's epoch and the last id dealt with, as one line
 * of JSON: {"epoch":"…","last_id":N}. It is replaced atomically (a
 * temporary file in the same folder, written, synced and renamed over it),
 * so a reader, or a run after a crash, finds the old state or the new one,
 * never a mix or an empty file.
 */
#ifndef SENTINEL_TAIL_STATE_H
#define SENTINEL_TAIL_STATE_H

#include <stdint.h>

#include "store.h"

struct state {
	char epoch[STORE_EPOCH_SIZE]; /* the store's epoch, from its hello */
	int64_t last_id;              /* every event up to it was dealt with */
};

/*
 * Read the state file at path. Sets *found to 0 when there is none (a
 * missing or empty file), else to 1 and fills *out. Returns 0, or ERR_IO or
 * ERR_INVAL (not a state file) with the reason in errmsg (ERRMSG_SIZE
 * bytes) and *out and *found untouched.
 */
int state_load(const char *path, struct state *out, int *found, char *errmsg);

/* Replace the state file at path with st. Returns 0, or ERR_IO with errmsg. */
int state_save(const char *path, const struct state *st, char *errmsg);

/*
 * Check that the state file's folder takes new files, so that a bad path
 * is reported at start and not after the first event. Returns 0, or ERR_IO
 * with errmsg.
 */
int state_check_writable(const char *path, char *errmsg);

#endif
