/*
 * Facts about this process that operators expect on /metrics (CPU time,
 * memory, descriptors, start time). They are read from this process's own
 * /proc entry and from system calls, never from system-wide /proc files,
 * so they can also be read under systemd's ProcSubset=pid.
 */
#ifndef SENTINEL_PROCINFO_H
#define SENTINEL_PROCINFO_H

#include <stdint.h>

struct procinfo {
	double cpu_seconds;     /* user and system CPU time used */
	int64_t resident_bytes; /* resident memory */
	int64_t virtual_bytes;  /* virtual memory */
	int64_t open_fds;       /* descriptors open */
	int64_t max_fds;        /* the soft limit of descriptors */
	double start_time;      /* when the process started, seconds since 1970 */
};

/* Fill *out. Returns 0, or ERR_SYS when /proc cannot be read (*out untouched). */
int procinfo_read(struct procinfo *out);

#endif
