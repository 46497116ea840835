/*
 * sentinel-mangen: write a manual page from its template (build time only).
 * "@VERSION@" and "@CONFIG_FILE@" are replaced anywhere; a line that is only
 * "@OPTIONS@", "@ENVIRONMENT@" or "@KEYS@" is replaced by that part, made
 * from the option table (config_man_section), so that the pages list the
 * same options as --help.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "version.h"

/* Write line with the @WORD@ values put in. */
static void
substitute(FILE *out, const char *line)
{
	static const struct {
		const char *word, *value;
	} words[] = {
		{"@VERSION@", SENTINEL_VERSION},
		{"@CONFIG_FILE@", CONFIG_DEFAULT_FILE},
	};

	while (*line) {
		size_t i, n = sizeof words / sizeof words[0];
		for (i = 0; i < n; i++)
			if (!strncmp(line, words[i].word, strlen(words[i].word)))
				break;
		if (i < n) {
			/* Hyphens of a value are escaped, as in the rest of the page. */
			for (const char *v = words[i].value; *v; v++) {
				if (*v == '-')
					fputs("\\-", out);
				else
					fputc(*v, out);
			}
			line += strlen(words[i].word);
		} else {
			fputc(*line++, out);
		}
	}
}

int
main(int argc, char **argv)
{
	FILE *in, *out;
	char *line = NULL;
	size_t cap = 0;
	int rc = 1, lineno = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: sentinel-mangen TEMPLATE OUTPUT\n");
		return 2;
	}
	in = fopen(argv[1], "r");
	if (!in) {
		perror(argv[1]);
		return 1;
	}
	out = fopen(argv[2], "w");
	if (!out) {
		perror(argv[2]);
		fclose(in);
		return 1;
	}
	while (getline(&line, &cap, in) != -1) {
		char word[32];
		lineno++;
		if (sscanf(line, "@%30[A-Z]@", word) == 1 && line[strlen(word) + 2] == '\n') {
			if (config_man_section(out, word)) {
				fprintf(stderr, "%s:%d: no part named %s\n", argv[1], lineno, word);
				goto fail;
			}
			continue;
		}
		substitute(out, line);
	}
	if (ferror(in)) {
		perror(argv[1]);
		goto fail;
	}
	rc = 0;
fail:
	free(line);
	fclose(in);
	if (fclose(out) && !rc) {
		perror(argv[2]);
		rc = 1;
	}
	if (rc)
		remove(argv[2]);
	return rc;
}
