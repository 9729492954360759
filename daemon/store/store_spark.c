/*
 * store_spark.c - the process group of the managed Spark Connect server
 * (engine/spark.c): one row while a server runs, so that the next denverd
 * finds and kills a crashed daemon's orphan server (io/procgroup.h).
 */
#include <errno.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"

int store_spark_set(struct store *st, int pgid, uint64_t pid_start, int64_t started)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "spark server", "INSERT OR REPLACE INTO spark_server(id,"
	                     " pgid, pid_start, started) VALUES (1, ?, ?, ?)", &s)) < 0)
		return rc;
	sqlite3_bind_int(s, 1, pgid);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)pid_start);
	sqlite3_bind_int64(s, 3, started);
	return st_step_done(st, "spark server", s, true);
}

int store_spark_clear(struct store *st)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "spark server", "DELETE FROM spark_server", &s)) < 0)
		return rc;
	return st_step_done(st, "spark server", s, false);
}

struct spark_row {
	int pgid;
	uint64_t pid_start;
};

static int spark_row(sqlite3_stmt *s, void *ctx)
{
	struct spark_row *r = ctx;

	r->pgid = sqlite3_column_int(s, 0);
	r->pid_start = (uint64_t)sqlite3_column_int64(s, 1);
	return 0;
}

int store_spark_get(struct store *st, int *pgid, uint64_t *pid_start)
{
	struct spark_row r = { 0 };
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "spark server", "SELECT pgid, pid_start FROM spark_server"
	                     " WHERE id = 1", &s)) < 0)
		return rc;
	if ((rc = st_walk(st, "spark server", s, spark_row, &r, true)) < 0)
		return rc;
	*pgid = r.pgid;
	*pid_start = r.pid_start;
	return 0;
}
