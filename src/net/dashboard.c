/*
 * Dashboard files. The table embedded_web holds src/web/ by base name; the
 * URL path "/" means index.html, and "/NAME" means the file NAME, so there
 * are no directories and no way to reach anything but the table. Each file
 * is sent whole with reply_send(); they are a few tens of kilobytes.
 */
#include "dashboard.h"

#include <libwebsockets.h>
#include <string.h>

#include "embedded.h"
#include "err.h"
#include "reply.h"

/* src/net/web/: the dashboard's files (web_data.c, generated). */
extern const struct embedded_file embedded_web[];
extern const size_t embedded_web_count;

static const struct {
	const char *ext;
	const char *type;
} content_types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
	{".ico", "image/x-icon"},
	{".json", "application/json"},
};

/* The content type for a file name, from its extension. */
static const char *
content_type_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot)
		for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++)
			if (!strcmp(dot, content_types[i].ext))
				return content_types[i].type;
	return "application/octet-stream";
}

/* The embedded file that path names, or NULL. */
static const struct embedded_file *
find(const char *path)
{
	const char *name;

	if (path[0] != '/')
		return NULL;
	name = path[1] ? path + 1 : "index.html";
	for (size_t i = 0; i < embedded_web_count; i++)
		if (!strcmp(embedded_web[i].name, name))
			return &embedded_web[i];
	return NULL;
}

int
dashboard_has(const char *path)
{
	return find(path) != NULL;
}

int
dashboard_serve(struct lws *wsi, struct reply *r, const char *path)
{
	const struct embedded_file *f = find(path);

	if (!f)
		return ERR_INVAL;
	if (reply_send(wsi, r, 200, content_type_of(f->name), f->data, f->size))
		lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
	return 0;
}
