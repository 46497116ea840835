/*
 * Quantities as people write them on a command line or in a config file:
 * sizes with a binary unit ("64KiB", "16MiB") and plain counts.
 */
#ifndef SENTINEL_UNITS_H
#define SENTINEL_UNITS_H

#include <stddef.h>

/*
 * Parse "1048576", "64KiB", "16MiB", "1GiB" (or K, M, G, k) into bytes.
 * Returns 0, or ERR_INVAL with *out untouched.
 */
int units_parse_size(const char *text, size_t *out);

/*
 * Parse a decimal count from min to max, with no unit. Returns 0, or
 * ERR_INVAL with *out untouched.
 */
int units_parse_count(const char *text, long long min, long long max, long long *out);

#endif
