/*
 * The live dashboard (GET /): a static page, its script and its style sheet,
 * compiled into the binary from src/net/web/ (web_data.c, generated) and served
 * from memory, so the server needs no files at run time.
 */
#ifndef SENTINEL_DASHBOARD_H
#define SENTINEL_DASHBOARD_H

struct lws;
struct reply;

/* Is path one of the dashboard's files ("/" or "/NAME")? 1 for yes, 0 for no. */
int dashboard_has(const char *path);

/*
 * Answer a GET for one of the dashboard's files: "/" (index.html) or
 * "/NAME" for any embedded file. Returns 0 when the request was answered
 * (or, out of memory, its connection is being closed), or ERR_INVAL when
 * path is not one of the dashboard's files and the caller routes on.
 */
int dashboard_serve(struct lws *wsi, struct reply *r, const char *path);

#endif
