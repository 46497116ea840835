/*
 * What sentinel-bench reads about processes from /proc: the server's pid
 * (found from its listening port), its resident memory and CPU time, our
 * own CPU time, and our open-file limit.
 */
#ifndef SENTINEL_BENCH_PROC_H
#define SENTINEL_BENCH_PROC_H

#include <sys/types.h>

/*
 * Find the process listening on TCP port (any local address) through
 * /proc/net/tcp{,6} and the /proc/PID/fd links. Returns 0 with *pid set, or
 * ERR_SYS when no such process is visible (*pid untouched).
 */
int proc_find_listener(int port, pid_t *pid);

/* The resident set of pid in KiB (VmRSS). Returns 0, or ERR_SYS. */
int proc_rss_kib(pid_t pid, long *kib);

/* User plus system CPU seconds used so far by pid. Returns 0, or ERR_SYS. */
int proc_cpu_seconds(pid_t pid, double *secs);

/* User plus system CPU seconds used so far by this process (all threads). */
double proc_self_cpu_seconds(void);

/*
 * Raise the soft RLIMIT_NOFILE to at least need (at most the hard limit).
 * Returns 0 when the limit reaches need, or ERR_SYS (the limit is then as
 * high as it could be made).
 */
int proc_raise_nofile(unsigned long need);

#endif
