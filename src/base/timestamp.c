/*
 * ISO 8601 parsing and formatting without the C library's time zone state:
 * timegm() and friends consult TZ and locks, and an ingest path parses one
 * timestamp per event, so the calendar arithmetic is done here directly.
 */
#include "timestamp.h"

#include <stdio.h>
#include <time.h>

#include "err.h"

#define US_PER_SEC INT64_C(1000000)
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in seconds since the epoch. */
#define MIN_SECS INT64_C(-62167219200)
#define MAX_SECS INT64_C(253402300799)

/* Days from 1970-01-01 to year-month-day in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil(). */
static void
civil_from_days(int64_t z, int *y_out, int *m_out, int *d_out)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y_out = (int)(yoe + era * 400 + (m <= 2));
	*m_out = m;
	*d_out = d;
}

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Read exactly n digits at *p into *out, advancing *p. */
static int
read_digits(const char **p, const char *end, int n, int *out)
{
	int v = 0;
	if (end - *p < n)
		return -1;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int
expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return -1;
	(*p)++;
	return 0;
}

int
timestamp_parse(const char *text, size_t len, int64_t *us_out)
{
	const char *p = text, *end = text + len;
	int year, mon, day, hour, min, sec;
	int64_t frac_us = 0;
	int offset_min = 0;

	if (read_digits(&p, end, 4, &year) || expect(&p, end, '-') ||
	    read_digits(&p, end, 2, &mon) || expect(&p, end, '-') || read_digits(&p, end, 2, &day))
		return ERR_INVAL;
	if (p >= end || (*p != 'T' && *p != 't' && *p != ' '))
		return ERR_INVAL;
	p++;
	if (read_digits(&p, end, 2, &hour) || expect(&p, end, ':') ||
	    read_digits(&p, end, 2, &min) || expect(&p, end, ':') || read_digits(&p, end, 2, &sec))
		return ERR_INVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour > 23 ||
	    min > 59 || sec > 59)
		return ERR_INVAL;

	if (p < end && (*p == '.' || *p == ',')) {
		int digits = 0;
		p++;
		while (p < end && *p >= '0' && *p <= '9') {
			if (digits < 6)
				frac_us = frac_us * 10 + (*p - '0');
			digits++;
			p++;
		}
		if (digits == 0 || digits > 9)
			return ERR_INVAL;
		for (int i = digits; i < 6; i++)
			frac_us *= 10;
	}

	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		int sign = *p == '-' ? -1 : 1, oh, om = 0;
		p++;
		if (read_digits(&p, end, 2, &oh))
			return ERR_INVAL;
		if (p < end && *p == ':') {
			p++;
			if (read_digits(&p, end, 2, &om)) /* "+02:" alone is not an offset */
				return ERR_INVAL;
		} else if (p < end && read_digits(&p, end, 2, &om)) {
			return ERR_INVAL;
		}
		if (oh > 23 || om > 59)
			return ERR_INVAL;
		offset_min = sign * (oh * 60 + om);
	}
	if (p != end)
		return ERR_INVAL;

	int64_t secs = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec -
		       (int64_t)offset_min * 60;
	/* An offset may move the instant out of the four-digit years, which
	 * could then not be written back in this form. */
	if (secs < MIN_SECS || secs > MAX_SECS)
		return ERR_INVAL;
	*us_out = secs * US_PER_SEC + frac_us;
	return 0;
}

/* Write v as exactly width decimal digits (v < 10^width); returns the end. */
static char *
put_digits(char *p, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

void
timestamp_format(int64_t us, char *out)
{
	if (us < MIN_SECS * US_PER_SEC) /* clamp to what the form can express */
		us = MIN_SECS * US_PER_SEC;
	if (us > MAX_SECS * US_PER_SEC + US_PER_SEC - 1)
		us = MAX_SECS * US_PER_SEC + US_PER_SEC - 1;
	int64_t secs = us / US_PER_SEC, frac = us % US_PER_SEC;
	if (frac < 0) {
		frac += US_PER_SEC;
		secs--;
	}
	int64_t days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int y, m, d;
	civil_from_days(days, &y, &m, &d);
	/* "%04u-%02u-%02uT%02u:%02u:%02u.%06uZ", without printf: it is written
	 * for every event that comes without a time. */
	char *p = out;
	p = put_digits(p, (unsigned)y % 10000u, 4);
	*p++ = '-';
	p = put_digits(p, (unsigned)m % 100u, 2);
	*p++ = '-';
	p = put_digits(p, (unsigned)d % 100u, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)(rem / 3600) % 100u, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(rem / 60 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(rem % 60), 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)frac % 1000000u, 6);
	*p++ = 'Z';
	*p = '\0';
}

int64_t
timestamp_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
}

int
timestamp_parse_duration(const char *text, size_t len, int64_t *us_out)
{
	int64_t n = 0, unit;
	size_t i = 0;

	while (i < len && text[i] >= '0' && text[i] <= '9') {
		n = n * 10 + (text[i] - '0');
		if (n > INT64_C(100000000))
			return ERR_INVAL; /* keeps n * unit in microseconds within int64 */
		i++;
	}
	if (i == 0 || i + 1 != len || n == 0)
		return ERR_INVAL;
	switch (text[i]) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return ERR_INVAL;
	}
	*us_out = n * unit * US_PER_SEC;
	return 0;
}
