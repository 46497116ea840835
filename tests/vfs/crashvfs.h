/*
 * crashvfs: a test-only SQLite VFS that simulates power loss and I/O errors
 * (crashvfs.c says how). Never linked into the production binaries.
 */
#ifndef SENTINEL_CRASHVFS_H
#define SENTINEL_CRASHVFS_H

#include <stddef.h>

/* The exit status of a process ended by a simulated power cut. */
#define CRASHVFS_CUT_EXIT 99

/* Register the wrapper as SQLite's default VFS; 0, or an SQLite code. */
int crashvfs_register(void);

/*
 * Run control commands (crashvfs.c lists them). Returns 0, or -1 with a
 * message in errmsg (size bytes). A "cut" does not return.
 */
int crashvfs_run(const char *commands, char *errmsg, size_t size);

/* The number of failures injected so far. */
long crashvfs_faults(void);

#endif
