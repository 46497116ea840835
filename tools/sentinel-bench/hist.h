/*
 * A log-bucket latency histogram in the manner of HdrHistogram: values are
 * counted in buckets whose width grows with the value, so that every
 * recorded value is known to within 1/128 of itself (under 0.8 %) from one
 * microsecond to days, in a fixed 46 KiB array and O(1) per record.
 *
 * Values are unsigned integers in whatever unit the caller picks (the
 * scenarios use microseconds). Not thread-safe: give each thread its own
 * histogram and hist_merge() them at the end.
 */
#ifndef SENTINEL_BENCH_HIST_H
#define SENTINEL_BENCH_HIST_H

#include <stdint.h>

/* Linear sub-buckets per power of two: 2^HIST_SUB_BITS. */
#define HIST_SUB_BITS 7
/* Powers of two covered above the linear range; larger values are clamped. */
#define HIST_OCTAVES 44
#define HIST_BUCKETS (((HIST_OCTAVES) + 2) << (HIST_SUB_BITS))

struct hist {
	uint64_t count;
	uint64_t min, max; /* exact; min is UINT64_MAX while count is 0 */
	double sum;
	uint64_t buckets[HIST_BUCKETS];
};

void hist_init(struct hist *h);

/* Count one value. */
void hist_record(struct hist *h, uint64_t value);

/* Add every count of src to dst. */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * The value at quantile q (0 < q <= 1): the upper end of the bucket that
 * holds the ceil(q * count)-th smallest value, never above the maximum seen.
 * 0 when the histogram is empty.
 */
uint64_t hist_quantile(const struct hist *h, double q);

/* The mean, or 0 when empty. */
double hist_mean(const struct hist *h);

#endif
