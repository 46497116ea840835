/* The two output forms of sentinel-tail (see output.h). */
#include "output.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

int
output_json(FILE *out, const char *text, size_t len)
{
	if (!memchr(text, '\n', len) && !memchr(text, '\r', len)) {
		fwrite(text, 1, len, out);
	} else {
		for (size_t i = 0; i < len; i++)
			putc(text[i] == '\n' || text[i] == '\r' ? ' ' : text[i], out);
	}
	putc('\n', out);
	return ferror(out) ? ERR_IO : 0;
}

/* Print s[0..len) with control characters escaped. */
static void
put_escaped(FILE *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len, *run = p;

	for (; p < end; p++) {
		unsigned char c = *p;
		int c1 = c == 0xc2 && p + 1 < end && p[1] >= 0x80 && p[1] <= 0x9f;
		if ((c >= 0x20 || c == '\t') && c != 0x7f && !c1)
			continue;
		fwrite(run, 1, (size_t)(p - run), out);
		if (c == '\n')
			fputs("\\n", out);
		else if (c == '\r')
			fputs("\\r", out);
		else if (c1)
			fprintf(out, "\\u%04x", *++p);
		else
			fprintf(out, "\\x%02x", c);
		run = p + 1;
	}
	fwrite(run, 1, (size_t)(end - run), out);
}

/* Print a field: a string as its text, anything else as compact JSON. */
static void
put_field(FILE *out, const json_t *v)
{
	if (!v)
		return;
	if (json_is_string(v)) {
		put_escaped(out, json_string_value(v), json_string_length(v));
		return;
	}
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
	if (text) {
		put_escaped(out, text, strlen(text));
		free(text);
	}
}

int
output_human(FILE *out, const json_t *event)
{
	putc('[', out);
	put_field(out, json_object_get(event, "timestamp"));
	fputs("] [", out);
	put_field(out, json_object_get(event, "type"));
	fputs("] ", out);
	put_field(out, json_object_get(event, "message"));
	putc('\n', out);
	return ferror(out) ? ERR_IO : 0;
}
