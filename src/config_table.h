/*
 * The option table and the settings read from the command line, the
 * environment and a configuration file, shared by the files of the config
 * module (config.c, config_file.c, config_man.c) and by nothing else.
 */
#ifndef SENTINEL_CONFIG_TABLE_H
#define SENTINEL_CONFIG_TABLE_H

#include <stddef.h>

#include "config.h"

/* Applies value (NULL for a switch) to cfg; on refusal says why. */
typedef int (*config_setter)(struct config *cfg, const char *value, char *why);

struct config_option {
	const char *name;  /* the long flag without "--"; NULL: a heading */
	int short_name;    /* or 0 */
	const char *arg;   /* the value's name in --help; NULL: a switch */
	const char *def;   /* the default, applied with set; NULL: none */
	const char *help;  /* lines of --help ('\n'); for a heading, its text */
	config_setter set; /* NULL for --help and --version */
};

/* The table, in --help order. */
extern const struct config_option *const config__options;
extern const size_t config__option_count;

/*
 * 1 when o may be given more than once, its values adding up (--retain,
 * --allow-origin), else 0.
 */
int config__repeatable(const struct config_option *o);

/* Where a setting came from, lowest precedence first. */
enum config_rank {
	CONFIG_FROM_DEFAULT,
	CONFIG_FROM_FILE,
	CONFIG_FROM_ENV,
	CONFIG_FROM_ARGS,
};

/* One value given for an option. */
struct config_setting {
	const struct config_option *opt;
	const char *value; /* NULL: a switch given on the command line */
	enum config_rank rank;
	int line; /* the file's line, for CONFIG_FROM_FILE */
};

/* Every setting read, in the order read. */
struct config_settings {
	struct config_setting *v;
	size_t count, cap;
};

/* Append a setting; returns 0 or ERR_NOMEM. */
int config__add(struct config_settings *set, const struct config_option *opt, const char *value,
		enum config_rank rank, int line);

/*
 * The option a configuration file or variable may set under this name
 * (not help, version or config), or NULL.
 */
const struct config_option *config__settable(const char *name, size_t len);

/* "SENTINEL_" and the name in capitals, '-' as '_' (out: 64 bytes). */
void config__env_name(const struct config_option *o, char *out);

/* Copy len bytes of s into a string that cfg owns until config_free(); NULL if out of memory. */
char *config__keep(struct config *cfg, const char *s, size_t len);

/*
 * config_file.c: collect the settings of the configuration file at path
 * into set. Returns 0, or -1 after printing why (with the line).
 */
int config_file_read(struct config *cfg, const char *path, struct config_settings *set);

#endif
