/*
 * fsync: how long the disk under the store takes to make a small write
 * durable, which bounds group commits under --sync full: at most
 * 1 / latency commits a second.
 *
 * A temporary file in --dir is first written in full and synced, then
 * 4 KiB blocks are rewritten in turn, each followed by fdatasync(): the
 * pattern of a WAL that is reused after checkpoints (appending would add a
 * metadata update to every sync). Stops after --count blocks or --seconds,
 * whichever comes first; the file is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "hist.h"
#include "log.h"

#define BLOCK           4096
#define FILE_BLOCKS     1024 /* a 4 MiB file, the WAL's size target */
#define DEFAULT_COUNT   2000
#define DEFAULT_SECONDS 10.0

/* Write the whole file once and sync it. Returns 0, or -1 with errno set. */
static int
prefill(int fd, const unsigned char *block)
{
	for (unsigned i = 0; i < FILE_BLOCKS; i++)
		if (pwrite(fd, block, BLOCK, (off_t)i * BLOCK) != BLOCK)
			return -1;
	return fsync(fd);
}

int
bench_fsync(const struct bench_opts *o, struct report *r)
{
	const char *dir = o->dir ? o->dir : ".";
	unsigned count = o->count ? o->count : DEFAULT_COUNT;
	double seconds = o->seconds > 0 ? o->seconds : DEFAULT_SECONDS;
	unsigned char block[BLOCK];
	char path[4096], d50[32], d99[32], dmax[32];
	struct hist h;
	int64_t t_end;
	unsigned done = 0;
	int fd, rc = 1;

	report_param(r, "count", count);
	hist_init(&h);
	if (snprintf(path, sizeof path, "%s/sentinel-bench-fsync-XXXXXX", dir) >=
	    (int)sizeof path) {
		log_error("--dir is too long");
		r->incomplete = 1;
		return 1;
	}
	fd = mkstemp(path);
	if (fd < 0) {
		log_error("cannot create a file in %s: %s", dir, strerror(errno));
		report_note(r, "cannot create a file in %s", dir);
		r->incomplete = 1;
		return 1;
	}
	memset(block, 0xa5, sizeof block);
	if (prefill(fd, block)) {
		log_error("cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	t_end = bench_mono_us() + (int64_t)(seconds * 1e6);
	for (; done < count && bench_mono_us() < t_end; done++) {
		int64_t t0 = bench_mono_us();
		block[0] = (unsigned char)done;
		if (pwrite(fd, block, BLOCK, (off_t)(done % FILE_BLOCKS) * BLOCK) != BLOCK ||
		    fdatasync(fd)) {
			log_error("cannot write and sync %s: %s", path, strerror(errno));
			goto out;
		}
		hist_record(&h, (uint64_t)(bench_mono_us() - t0));
	}
	rc = 0;
out:
	if (close(fd) && !rc) {
		log_error("cannot close %s: %s", path, strerror(errno));
		rc = 1;
	}
	if (unlink(path))
		log_warn("cannot remove %s: %s", path, strerror(errno));
	report_value(r, (double)hist_quantile(&h, 0.5), "µs (p50)");
	report_num(r, "p50_us", (double)hist_quantile(&h, 0.5));
	report_num(r, "p99_us", (double)hist_quantile(&h, 0.99));
	report_num(r, "max_us", (double)h.max);
	report_num(r, "mean_us", hist_mean(&h));
	report_num(r, "syncs", (double)done);
	report_str(r, "dir", dir);
	report_note(r, "write+fdatasync of 4 KiB: p50 %s, p99 %s, max %s over %u syncs",
		    report_duration((double)hist_quantile(&h, 0.5), d50, sizeof d50),
		    report_duration((double)hist_quantile(&h, 0.99), d99, sizeof d99),
		    report_duration((double)h.max, dmax, sizeof dmax), done);
	if (rc)
		r->incomplete = 1;
	return rc;
}
