/*
 * A scenario's result: one Markdown table row for people, or one flat JSON
 * object on one line for scripts (run-suite.sh reads its numbers with a
 * regular expression, so nothing is nested).
 */
#ifndef SENTINEL_BENCH_REPORT_H
#define SENTINEL_BENCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "buf.h"

struct report {
	const char *scenario;
	const char *label; /* the caller's name for the run, or NULL */
	struct buf params; /* "batch=1000 producers=2" */
	double value;      /* the headline figure */
	const char *unit;
	struct buf notes; /* "p99 3.1 ms; 0 errors" */
	struct buf json;  /* ,"key":value members after the fixed ones */
	int incomplete;   /* the run failed or timed out: the figure is partial */
	int nomem;
};

void report_init(struct report *r, const char *scenario, const char *label);
void report_free(struct report *r);

/* A parameter of the run, shown in both forms. */
void report_param(struct report *r, const char *key, double value);

/* The headline figure. */
void report_value(struct report *r, double value, const char *unit);

/* An extra number, in the JSON form only. */
void report_num(struct report *r, const char *key, double value);

/* An extra string, in the JSON form only. */
void report_str(struct report *r, const char *key, const char *value);

/* A note for the Markdown row. */
void report_note(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The Markdown table header matching report_print()'s rows. */
void report_print_header(void);

/* Print r to f as a Markdown row, or as a line of JSON. Returns 0, or -1. */
int report_print(const struct report *r, FILE *f, int json);

/* Write us (a duration in microseconds) as "812 µs" or "3.25 ms" into out. */
const char *report_duration(double us, char *out, unsigned size);

#endif
