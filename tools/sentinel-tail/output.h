/*
 * Printing events on standard output, one line each: either exactly the
 * text received (--json), or the seed's human form
 * "[timestamp] [type] message". The human form shows control characters
 * escaped (\n, \r, \x1b, \u009b), so that an event is always one line and a
 * message cannot drive the terminal; everything else, non-ASCII text and
 * emoji included, is printed as sent.
 */
#ifndef SENTINEL_TAIL_OUTPUT_H
#define SENTINEL_TAIL_OUTPUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Print the event's text as received, then a newline. Line breaks can only
 * be whitespace between JSON tokens there, and print as spaces. Returns 0,
 * or ERR_IO when out has failed.
 */
int output_json(FILE *out, const char *text, size_t len);

/* Print "[timestamp] [type] message" for a parsed event. Returns 0 or ERR_IO. */
int output_human(FILE *out, const json_t *event);

#endif
