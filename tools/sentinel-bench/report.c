/*
 * Result rows (report.h).
 */
#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
report_init(struct report *r, const char *scenario, const char *label)
{
	memset(r, 0, sizeof *r);
	r->scenario = scenario;
	r->label = label;
	if (label)
		report_str(r, "label", label);
	r->unit = "";
}

void
report_free(struct report *r)
{
	buf_free(&r->params);
	buf_free(&r->notes);
	buf_free(&r->json);
}

/* Print a number the shortest honest way: integers without decimals. */
static int
append_number(struct buf *b, double v)
{
	if (!isfinite(v))
		return buf_printf(b, "null");
	if (v == floor(v) && fabs(v) < 1e15)
		return buf_printf(b, "%.0f", v);
	return buf_printf(b, "%.6g", v);
}

void
report_param(struct report *r, const char *key, double value)
{
	int rc = (r->params.len && buf_append(&r->params, " ", 1)) ||
		 buf_printf(&r->params, "%s=", key) || append_number(&r->params, value);
	rc = rc || buf_printf(&r->json, ",\"%s\":", key) || append_number(&r->json, value);
	r->nomem |= rc;
}

void
report_value(struct report *r, double value, const char *unit)
{
	r->value = value;
	r->unit = unit;
}

void
report_num(struct report *r, const char *key, double value)
{
	r->nomem |= buf_printf(&r->json, ",\"%s\":", key) || append_number(&r->json, value);
}

void
report_str(struct report *r, const char *key, const char *value)
{
	r->nomem |= buf_printf(&r->json, ",\"%s\":", key) || buf_json_string(&r->json, value);
}

void
report_note(struct report *r, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	r->nomem |= (r->notes.len && buf_append(&r->notes, "; ", 2)) ||
		    buf_append(&r->notes, text, strlen(text));
}

/* Write v with thousands separators and the given decimals. */
static void
group_digits(double v, int decimals, char *out, size_t size)
{
	char raw[64], *dot;
	size_t int_len, o = 0;
	int neg = v < 0;

	snprintf(raw, sizeof raw, "%.*f", decimals, fabs(v));
	dot = strchr(raw, '.');
	int_len = dot ? (size_t)(dot - raw) : strlen(raw);
	if (neg && o + 1 < size)
		out[o++] = '-';
	for (size_t i = 0; i < int_len && o + 2 < size; i++) {
		if (i && (int_len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = raw[i];
	}
	for (const char *p = dot; p && *p && o + 1 < size; p++)
		out[o++] = *p;
	out[o] = '\0';
}

void
report_print_header(void)
{
	printf("| scenario | parameters | result | unit | details |\n"
	       "|---|---|---:|---|---|\n");
}

int
report_print(const struct report *r, FILE *f, int json)
{
	char value[64];
	int n;

	if (r->nomem)
		return -1;
	if (json) {
		/* The parameters come first: report_param() wrote them there. */
		n = fprintf(f,
			    "{\"scenario\":\"%s\"%.*s,\"value\":%.6g,\"unit\":\"%s\","
			    "\"complete\":%s}\n",
			    r->scenario, (int)r->json.len, r->json.data ? r->json.data : "",
			    isfinite(r->value) ? r->value : 0.0, r->unit,
			    r->incomplete ? "false" : "true");
	} else {
		group_digits(r->value,
			     fabs(r->value) >= 100  ? 0
			     : fabs(r->value) >= 10 ? 1
						    : 2,
			     value, sizeof value);
		n = fprintf(f, "| %s%s%s%s | %.*s | %s%s | %s | %.*s |\n", r->scenario,
			    r->label ? " (" : "", r->label ? r->label : "", r->label ? ")" : "",
			    (int)r->params.len, r->params.data ? r->params.data : "",
			    r->incomplete ? "(incomplete) " : "", value, r->unit, (int)r->notes.len,
			    r->notes.data ? r->notes.data : "");
	}
	return n < 0 ? -1 : 0;
}

const char *
report_duration(double us, char *out, unsigned size)
{
	if (us < 1000)
		snprintf(out, size, "%.0f µs", us);
	else if (us < 1e6)
		snprintf(out, size, "%.2f ms", us / 1000);
	else
		snprintf(out, size, "%.2f s", us / 1e6);
	return out;
}
