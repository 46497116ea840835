/* The release version, reported by --version and in /api/stats. */
#ifndef SENTINEL_VERSION_H
#define SENTINEL_VERSION_H
#define SENTINEL_VERSION "0.1.0"
#endif
