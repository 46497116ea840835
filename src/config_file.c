/*
 * The configuration file: one "key = value" a line, the keys named as the
 * long flags (listen, db, retain...) and the values written as on the
 * command line; a key that may be repeated on the command line may be
 * repeated here. A '#' at the start of a line or after a blank starts a
 * comment; blank lines are ignored, and blanks around keys and values are
 * not part of them. Values are taken as written, without quotes or escapes
 * (so a value cannot hold a blank followed by '#').
 *
 * This file only collects the settings, with their line numbers: an unknown
 * key, a key without a value or a second value for a key that takes one
 * stops the reading here; config.c applies the values and reports a bad
 * one with the same file and line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_table.h"
#include "err.h"

/* Report a fault of line lineno of path; returns -1. */
static int __attribute__((format(printf, 3, 4)))
complain(const char *path, int lineno, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sentinel-logd: %s:%d: ", path, lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* One line (s, len bytes, its newline included). */
static int
parse_line(struct config *cfg, const char *path, int lineno, char *s, size_t len,
	   struct config_settings *set)
{
	char *end = s + len, *eq, *key_end, *val, *copy;
	const struct config_option *o;
	int klen;

	if (memchr(s, '\0', len))
		return complain(path, lineno, "a NUL byte");
	if (lineno == 1 && len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
		s += 3; /* a byte order mark */
	while (s < end && is_blank(*s))
		s++;
	if (s < end && *s == '#')
		return 0;
	for (char *p = s + 1; p < end; p++) {
		if (*p == '#' && is_blank(p[-1])) {
			end = p;
			break;
		}
	}
	while (end > s && is_blank(end[-1]))
		end--;
	if (s == end)
		return 0;
	eq = memchr(s, '=', (size_t)(end - s));
	key_end = eq ? eq : end;
	while (key_end > s && is_blank(key_end[-1]))
		key_end--;
	klen = key_end - s > 64 ? 64 : (int)(key_end - s);
	if (!eq || key_end == s)
		return complain(path, lineno, "expected 'key = value', got '%.*s'",
				end - s > 64 ? 64 : (int)(end - s), s);
	o = config__settable(s, (size_t)(key_end - s));
	if (!o && klen == 6 && !memcmp(s, "config", 6))
		return complain(path, lineno, "'config' cannot be set in a configuration file");
	if (!o)
		return complain(path, lineno, "unknown key '%.*s'", klen, s);
	for (val = eq + 1; val < end && is_blank(*val); val++)
		;
	if (val == end)
		return complain(path, lineno, "'%s' needs a value", o->name);
	if (!(config__repeatable(o))) {
		for (size_t i = 0; i < set->count; i++)
			if (set->v[i].opt == o && set->v[i].rank == CONFIG_FROM_FILE)
				return complain(path, lineno, "'%s' is already set on line %d",
						o->name, set->v[i].line);
	}
	copy = config__keep(cfg, val, (size_t)(end - val));
	if (!copy || config__add(set, o, copy, CONFIG_FROM_FILE, lineno)) {
		fprintf(stderr, "sentinel-logd: out of memory\n");
		return -1;
	}
	return 0;
}

int
config_file_read(struct config *cfg, const char *path, struct config_settings *set)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, rc = -1;

	if (!f) {
		fprintf(stderr, "sentinel-logd: cannot read the configuration file %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	cfg->config_file = config__keep(cfg, path, strlen(path));
	if (!cfg->config_file) {
		fprintf(stderr, "sentinel-logd: out of memory\n");
		goto fail;
	}
	while ((len = getline(&line, &cap, f)) != -1) {
		if (parse_line(cfg, path, ++lineno, line, (size_t)len, set))
			goto fail;
	}
	if (ferror(f)) {
		fprintf(stderr, "sentinel-logd: cannot read the configuration file %s: %s\n", path,
			strerror(errno));
		goto fail;
	}
	rc = 0;
fail:
	free(line);
	fclose(f);
	return rc;
}
