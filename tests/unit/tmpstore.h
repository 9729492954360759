/* tmpstore.h - a real state store in a fresh directory under /tmp, for the
 * unit tests that need one (header only: each test is its own program). */
#ifndef DENVERD_TEST_TMPSTORE_H
#define DENVERD_TEST_TMPSTORE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

#include "store/store.h"

struct tmpstore {
	char dir[64], db[96];
	struct store *st;
};

/* 0, or -1 with a message on stderr (a setup failure). */
static inline int tmpstore_open(struct tmpstore *t)
{
	char *err = NULL;
	strcpy(t->dir, "/tmp/denverd-unit-XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->db, sizeof t->db, "%s/state.db", t->dir);
	if (store_open(t->db, &t->st, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	return 0;
}

static inline void tmpstore_close(struct tmpstore *t)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char path[128];
	store_close(t->st);
	t->st = NULL;
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s%s", t->db, suffix[i]);
		unlink(path);
	}
	rmdir(t->dir);
}

/* A cmocka setup and teardown whose state is a new struct tmpstore. */
static inline int tmpstore_setup(void **state)
{
	struct tmpstore *t = calloc(1, sizeof *t);
	if (!t || tmpstore_open(t) < 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static inline int tmpstore_teardown(void **state)
{
	tmpstore_close(*state);
	free(*state);
	return 0;
}

/* Run SQL on a second connection, as another module would write.  0 or -1
 * with the error on stderr. */
static inline int tmpstore_sql(struct tmpstore *t, const char *sql)
{
	sqlite3 *db;
	int rc = -1;
	if (sqlite3_open(t->db, &db) == SQLITE_OK &&
	    sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		rc = 0;
	else
		fprintf(stderr, "sql: %s\n", sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc;
}

#endif
