/* Sizes and counts (see units.h). */
#include "units.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int
units_parse_size(const char *text, size_t *out)
{
	char *end;
	unsigned long long n;
	size_t mult = 1;

	if (!text || *text < '0' || *text > '9') /* strtoull would skip spaces and take '-' */
		return ERR_INVAL;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || end == text)
		return ERR_INVAL;
	if (!strcmp(end, "KiB") || !strcmp(end, "K") || !strcmp(end, "k"))
		mult = 1024;
	else if (!strcmp(end, "MiB") || !strcmp(end, "M"))
		mult = 1024 * 1024;
	else if (!strcmp(end, "GiB") || !strcmp(end, "G"))
		mult = 1024 * 1024 * 1024;
	else if (*end)
		return ERR_INVAL;
	if (n > SIZE_MAX / mult)
		return ERR_INVAL;
	*out = (size_t)(n * mult);
	return 0;
}

int
units_parse_count(const char *text, long long min, long long max, long long *out)
{
	char *end;
	long long n;

	if (!text || *text < '0' || *text > '9')
		return ERR_INVAL;
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno || *end || n < min || n > max)
		return ERR_INVAL;
	*out = n;
	return 0;
}
