/*
 * Facts about this process that operators expect on /metrics (CPU time,
 * memory, descriptors, start time). They are read from this process's own
 * /proc entry and from system calls, never from system-wide /proc files.
 * And the id of the machine's boot, which the store uses to tell a crash of
 * the process from a restart of the machine.
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

/* Bytes of a boot id, NUL included ("1c7a6f2e-...", 36 characters). */
#define PROCINFO_BOOT_ID_SIZE 37

/*
 * The kernel's id of this boot (/proc/sys/kernel/random/boot_id): the same
 * for every process until the machine restarts. Returns 0, or ERR_SYS when
 * it cannot be read (out untouched). A test build may replace it.
 */
int procinfo_boot_id(char out[PROCINFO_BOOT_ID_SIZE]);

#endif
