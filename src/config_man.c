/*
 * The parts of the manual pages that come from the option table: the
 * OPTIONS of sentinel-logd(8), its ENVIRONMENT, and the KEYS of
 * sentinel-logd.conf(5). tools/man/ puts them into the pages at build time,
 * so that the pages list exactly the options that --help lists.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "config_table.h"
#include "err.h"

/* Write s as roff text: backslashes and hyphen-minus escaped, a newline
 * (a line break of --help) as a space. */
static void
roff(FILE *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case '\\':
			fputs("\\e", out);
			break;
		case '-':
			fputs("\\-", out);
			break;
		case '\n':
			fputc(' ', out);
			break;
		default:
			fputc(s[i], out);
		}
	}
}

/* A help text as a sentence: capitalised, ending with a full stop. */
static void
sentence(FILE *out, const char *help)
{
	size_t len = strlen(help);

	fputs("\\&", out);
	if (len && islower((unsigned char)help[0])) {
		fputc(toupper((unsigned char)help[0]), out);
		help++;
		len--;
	}
	roff(out, help, len);
	fputs(len && help[len - 1] == '.' ? "\n" : ".\n", out);
}

/* A heading of the table as a subsection, its parenthesis as a paragraph:
 * "Retention (combinable; ...):" gives ".SS Retention". */
static void
heading(FILE *out, const char *text)
{
	const char *paren = strstr(text, " (");
	size_t len = paren ? (size_t)(paren - text) : strcspn(text, ":");

	fputs(".SS ", out);
	if (len)
		roff(out, text, len);
	else
		fputs("Other options", out);
	fputc('\n', out);
	if (paren) {
		const char *end = strrchr(paren, ')');
		fputs(".PP\n\\&", out);
		fputc(toupper((unsigned char)paren[2]), out);
		roff(out, paren + 3, end ? (size_t)(end - paren - 3) : strlen(paren + 3));
		fputs(".\n", out);
	}
}

/* The default and the repetition of an option, after its help. */
static void
notes(FILE *out, const struct config_option *o)
{
	if (o->def) {
		fputs("Default: \\fB", out);
		roff(out, o->def, strlen(o->def));
		fputs("\\fR.\n", out);
	}
	if (config__repeatable(o))
		fputs("May be given more than once; the values add up.\n", out);
}

static void
options_section(FILE *out)
{
	for (size_t i = 0; i < config__option_count; i++) {
		const struct config_option *o = &config__options[i];

		if (!o->name) {
			heading(out, o->help);
			continue;
		}
		fputs(".TP\n", out);
		if (o->short_name)
			fprintf(out, "\\fB\\-%c\\fR, ", o->short_name);
		fputs("\\fB\\-\\-", out);
		roff(out, o->name, strlen(o->name));
		fputs("\\fR", out);
		if (o->arg) {
			fputs(" \\fI", out);
			roff(out, o->arg, strlen(o->arg));
			fputs("\\fR", out);
		}
		fputc('\n', out);
		sentence(out, o->help);
		notes(out, o);
	}
}

static void
environment_section(FILE *out)
{
	char name[64];

	for (size_t i = 0; i < config__option_count; i++) {
		const struct config_option *o = &config__options[i];

		if (!o->name || !o->set)
			continue;
		config__env_name(o, name);
		fprintf(out, ".TP\n.B %s\n", name);
		fputs("As \\fB\\-\\-", out);
		roff(out, o->name, strlen(o->name));
		fputs("\\fR", out);
		if (!config__settable(o->name, strlen(o->name)))
			fputs("; empty, no configuration file is read", out);
		else if (!o->arg)
			fputs(": \\fBtrue\\fR or \\fBfalse\\fR", out);
		else if (config__repeatable(o))
			fputs("; several values are separated by commas", out);
		fputs(".\n", out);
	}
}

static void
keys_section(FILE *out)
{
	char name[64];

	for (size_t i = 0; i < config__option_count; i++) {
		const struct config_option *o = &config__options[i];

		if (!o->name) {
			heading(out, o->help);
			continue;
		}
		if (!config__settable(o->name, strlen(o->name)))
			continue;
		fputs(".TP\n\\fB", out);
		roff(out, o->name, strlen(o->name));
		fputs(" =\\fR ", out);
		if (o->arg) {
			fputs("\\fI", out);
			roff(out, o->arg, strlen(o->arg));
			fputs("\\fR\n", out);
		} else {
			fputs("\\fBtrue\\fR|\\fBfalse\\fR\n", out);
		}
		sentence(out, o->help);
		if (!o->arg && !o->def)
			fputs("Default: \\fBfalse\\fR.\n", out);
		notes(out, o);
		config__env_name(o, name);
		fprintf(out, "Variable: \\fB%s\\fR; flag: \\fB\\-\\-", name);
		roff(out, o->name, strlen(o->name));
		fputs("\\fR.\n", out);
	}
}

int
config_man_section(FILE *out, const char *name)
{
	if (!strcmp(name, "OPTIONS"))
		options_section(out);
	else if (!strcmp(name, "ENVIRONMENT"))
		environment_section(out);
	else if (!strcmp(name, "KEYS"))
		keys_section(out);
	else
		return ERR_INVAL;
	return 0;
}
