/*
 * Helpers shared by the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * A target is one LLVMFuzzerTestOneInput() that feeds its input to a module
 * of src/ and checks properties of the result, not just "no crash". A failed
 * check prints the file, the line, what failed and why, then aborts, so that
 * libFuzzer records the input as a crash and the corpus replay driver
 * (replay.c) fails its ctest.
 */
#ifndef SENTINEL_FUZZ_H
#define SENTINEL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A fixed "now" (2026-03-09T14:35:00.123456Z), so that every run of an
 * input takes the same path. */
#define FUZZ_NOW_US (INT64_C(1773066900) * 1000000 + 123456)

#define FUZZ_CHECK(cond, ...)                                                                    \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fflush(stdout);                                                          \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                            \
			fputc('\n', stderr);                                                     \
			abort();                                                                 \
		}                                                                                \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when s[0..len) is well-formed UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static inline int
fuzz_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned c = *p++;
		unsigned min;
		int more;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			min = 0x10000;
		} else {
			return 0;
		}
		if (end - p < more)
			return 0;
		unsigned cp = c & (0x3fu >> more);
		for (int i = 0; i < more; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += more;
	}
	return 1;
}

/* A NUL-terminated malloc'd copy of data (the modules take C strings or
 * exact lengths; an exact-size copy lets ASan see any overread). */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL, "out of memory");
	for (size_t i = 0; i < size; i++)
		s[i] = (char)data[i];
	s[size] = '\0';
	return s;
}

#endif
