/*
 * Names for the server's own threads, as `top -H`, `ps -L` and gdb show
 * them, so that an operator can tell which one is busy.
 */
#ifndef SENTINEL_THREAD_NAME_H
#define SENTINEL_THREAD_NAME_H

/* Name the calling thread (at most 15 bytes are kept); a failure is logged
 * at debug level and changes nothing else. */
void thread_name_set(const char *name);

#endif
