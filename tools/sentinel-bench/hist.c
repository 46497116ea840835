/*
 * The histogram of hist.h. Bucket layout: values below 2^(SUB_BITS+1) each
 * have their own bucket; above that, the octave [2^k, 2^(k+1)) is split into
 * 2^SUB_BITS equal buckets, so a bucket is at most 1/2^SUB_BITS of its
 * values wide. Index of v: with s = max(0, msb(v) - SUB_BITS), the index is
 * s * 2^SUB_BITS + (v >> s), which runs on without holes from one octave to
 * the next.
 */
#include "hist.h"

#include <string.h>

#define SUB_COUNT (1u << HIST_SUB_BITS)

void
hist_init(struct hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

/* The bucket of v, clamped to the last one. */
static unsigned
bucket_of(uint64_t v)
{
	unsigned msb, shift;
	uint64_t index;

	if (v < 2 * SUB_COUNT)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	index = (uint64_t)shift * SUB_COUNT + (v >> shift);
	return index >= HIST_BUCKETS ? HIST_BUCKETS - 1 : (unsigned)index;
}

/* The largest value that falls in bucket i. */
static uint64_t
bucket_top(unsigned i)
{
	unsigned shift;
	uint64_t sub;

	if (i < 2 * SUB_COUNT)
		return i;
	shift = i / SUB_COUNT - 1;
	sub = i - (uint64_t)shift * SUB_COUNT; /* in [SUB_COUNT, 2 * SUB_COUNT) */
	return ((sub + 1) << shift) - 1;
}

void
hist_record(struct hist *h, uint64_t value)
{
	h->buckets[bucket_of(value)]++;
	h->count++;
	h->sum += (double)value;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
	if (!src->count)
		return;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	if (q <= 0)
		return h->min;
	rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++; /* ceil */
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t top = bucket_top(i);
			return top > h->max ? h->max : top;
		}
	}
	return h->max;
}

double
hist_mean(const struct hist *h)
{
	return h->count ? h->sum / (double)h->count : 0.0;
}
