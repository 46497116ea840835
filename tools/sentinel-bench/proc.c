/*
 * /proc readers of proc.h. Linux only, like the rest of the project.
 */
#include "proc.h"

#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "err.h"

/* The inode of the socket listening on port in one /proc/net table, or 0. */
static unsigned long
listening_inode(const char *table, int port)
{
	char line[512];
	unsigned long inode = 0;
	FILE *f = fopen(table, "r");

	if (!f)
		return 0;
	if (!fgets(line, sizeof line, f)) { /* the header */
		fclose(f);
		return 0;
	}
	while (!inode && fgets(line, sizeof line, f)) {
		char local[64], remote[64];
		unsigned st, lport;
		unsigned long ino;
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, "%*s %63s %63s %x %*s %*s %*s %*s %*s %lu", local, remote, &st,
			   &ino) != 4)
			continue;
		char *colon = strrchr(local, ':');
		if (!colon || sscanf(colon + 1, "%x", &lport) != 1)
			continue;
		if (st == 0x0A && (int)lport == port)
			inode = ino;
	}
	fclose(f);
	return inode;
}

/* True when one of pid's descriptors is the socket with this inode. */
static int
owns_socket(const char *pid, unsigned long inode)
{
	char dir[64], want[64], link[PATH_MAX], target[64];
	struct dirent *de;
	int found = 0;
	DIR *d;

	snprintf(dir, sizeof dir, "/proc/%s/fd", pid);
	snprintf(want, sizeof want, "socket:[%lu]", inode);
	d = opendir(dir);
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		ssize_t n;
		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof link, "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof target - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = !strcmp(target, want);
	}
	closedir(d);
	return found;
}

int
proc_find_listener(int port, pid_t *pid)
{
	unsigned long inode = listening_inode("/proc/net/tcp", port);
	struct dirent *de;
	DIR *d;

	if (!inode)
		inode = listening_inode("/proc/net/tcp6", port);
	if (!inode)
		return ERR_SYS;
	d = opendir("/proc");
	if (!d)
		return ERR_SYS;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (owns_socket(de->d_name, inode)) {
			*pid = (pid_t)atol(de->d_name);
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return ERR_SYS;
}

int
proc_rss_kib(pid_t pid, long *kib)
{
	char path[64], line[256];
	FILE *f;
	int rc = ERR_SYS;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return ERR_SYS;
	while (fgets(line, sizeof line, f)) {
		long v;
		if (sscanf(line, "VmRSS: %ld kB", &v) == 1) {
			*kib = v;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

int
proc_cpu_seconds(pid_t pid, double *secs)
{
	char path[64], buf[1024];
	unsigned long long utime, stime;
	size_t n;
	FILE *f;
	char *p;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return ERR_SYS;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip to its end. */
	p = strrchr(buf, ')');
	if (!p)
		return ERR_SYS;
	/* After ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime(14) stime(15). */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
		   &stime) != 2)
		return ERR_SYS;
	*secs = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

double
proc_self_cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int
proc_raise_nofile(unsigned long need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return ERR_SYS;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		rl.rlim_cur =
			rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			return ERR_SYS;
	}
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need ? 0 : ERR_SYS;
}
