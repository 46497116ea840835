/*
 * ISO 8601 timestamps and durations.
 *
 * Events keep the producer's timestamp text verbatim; the store also keeps
 * it as microseconds since the Unix epoch (UTC) so that time ranges can be
 * indexed and compared. A timestamp without a zone is UTC.
 */
#ifndef SENTINEL_TIMESTAMP_H
#define SENTINEL_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

/* Bytes needed for timestamp_format(), including the terminating NUL. */
#define TIMESTAMP_FORMAT_SIZE 28

/*
 * Parse "YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM|-HH:MM|+HHMM|+HH]" into
 * microseconds since the epoch, UTC. Fractions beyond microseconds are
 * truncated. Returns 0, or ERR_INVAL with *us_out untouched.
 */
int timestamp_parse(const char *text, size_t len, int64_t *us_out);

/* Write us as "YYYY-MM-DDTHH:MM:SS.ffffffZ" into out (TIMESTAMP_FORMAT_SIZE). */
void timestamp_format(int64_t us, char *out);

/* The current wall-clock time in microseconds since the epoch. */
int64_t timestamp_now(void);

/*
 * Parse a duration such as "90s", "10m", "2h", "7d" (a positive integer
 * and one unit) into microseconds. Returns 0, or ERR_INVAL with *us_out
 * untouched.
 */
int timestamp_parse_duration(const char *text, size_t len, int64_t *us_out);

#endif
