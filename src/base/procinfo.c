/*
 * Process facts from /proc/self and system calls. The start time is the
 * kernel's (clock ticks after boot in /proc/self/stat) plus the boot time,
 * which is the realtime clock minus the time since boot, in whole seconds
 * as the kernel's own btime, so that it does not move between reads.
 */
#include "procinfo.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

/* Read a small /proc file into buf as a string; returns 0 or ERR_SYS. */
static int
read_small(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return ERR_SYS;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n ? 0 : ERR_SYS;
}

/* Descriptors in /proc/self/fd, without the one that lists them. */
static int
count_fds(int64_t *out)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int64_t n = 0;

	if (!d)
		return ERR_SYS;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			n++;
	closedir(d);
	*out = n;
	return 0;
}

/* The process's start in seconds since 1970. */
static int
start_time(double *out)
{
	char stat[1024];
	const char *p;
	unsigned long long ticks;
	struct timespec now, boot;
	long hz = sysconf(_SC_CLK_TCK);

	if (read_small("/proc/self/stat", stat, sizeof stat) || hz <= 0)
		return ERR_SYS;
	/* "pid (comm) state ...": comm may hold spaces and parentheses. The
	 * start time is the 22nd field, the 20th after the comm. */
	p = strrchr(stat, ')');
	if (!p)
		return ERR_SYS;
	for (int field = 2; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return ERR_SYS;
	}
	if (sscanf(p, " %llu", &ticks) != 1 || clock_gettime(CLOCK_REALTIME, &now) ||
	    clock_gettime(CLOCK_BOOTTIME, &boot))
		return ERR_SYS;
	time_t boot_time = now.tv_sec - boot.tv_sec - (now.tv_nsec < boot.tv_nsec);
	*out = (double)boot_time + (double)ticks / (double)hz;
	return 0;
}

int
procinfo_read(struct procinfo *out)
{
	struct procinfo pi;
	struct rusage ru;
	struct rlimit rl;
	char statm[256];
	unsigned long long size, resident;
	long page = sysconf(_SC_PAGESIZE);

	if (getrusage(RUSAGE_SELF, &ru) || getrlimit(RLIMIT_NOFILE, &rl) || page <= 0 ||
	    read_small("/proc/self/statm", statm, sizeof statm) ||
	    sscanf(statm, "%llu %llu", &size, &resident) != 2 || count_fds(&pi.open_fds) ||
	    start_time(&pi.start_time))
		return ERR_SYS;
	pi.cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	pi.resident_bytes = (int64_t)(resident * (unsigned long long)page);
	pi.virtual_bytes = (int64_t)(size * (unsigned long long)page);
	pi.max_fds = rl.rlim_cur == RLIM_INFINITY ? INT64_MAX : (int64_t)rl.rlim_cur;
	*out = pi;
	return 0;
}

/* Weak: the power-loss simulation's server build gives each process a boot
 * of its own, since its simulated power cuts happen within one real boot. */
__attribute__((weak)) int
procinfo_boot_id(char out[PROCINFO_BOOT_ID_SIZE])
{
	char buf[64];
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	size_t n;

	if (!f)
		return ERR_SYS;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	if (n == 0 || n >= PROCINFO_BOOT_ID_SIZE)
		return ERR_SYS;
	memcpy(out, buf, n);
	out[n] = '\0';
	return 0;
}
