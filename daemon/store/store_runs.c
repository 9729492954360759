/*
 * store_runs.c - the engine's rows: events (the audit trail that `watch`
 * and `show` read), datasets, runs, tasks and attempts.
 *
 * Reads hand each row to the caller's callback (store.h); writes are one
 * statement each, inside the caller's transaction when it has one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"

/* ---- events ---- */

int64_t store_event_add(struct store *st, int64_t ts, const char *level,
                        const char *type, const char *dataset, int64_t run_id,
                        const char *task, const char *message)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "event", "INSERT INTO events(ts, level, type, dataset,"
	                     " run_id, task, message) VALUES (?,?,?,?,?,?,?)", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, ts);
	st_bind_text(s, 2, level);
	st_bind_text(s, 3, type);
	st_bind_text(s, 4, dataset);
	if (run_id > 0)
		sqlite3_bind_int64(s, 5, run_id);
	st_bind_text(s, 6, task);
	st_bind_text(s, 7, message);
	if ((rc = st_step_done(st, "event", s, false)) < 0)
		return rc;
	return sqlite3_last_insert_rowid(st->db);
}

struct event_walk { store_event_fn fn; void *arg; };

static int event_row(sqlite3_stmt *s, void *ctx)
{
	struct event_walk *w = ctx;
	struct store_event e = {
		.id = sqlite3_column_int64(s, 0),
		.ts = sqlite3_column_int64(s, 1),
		.level = st_text(s, 2),
		.type = st_text(s, 3),
		.dataset = st_text(s, 4),
		.run_id = sqlite3_column_int64(s, 5),
		.task = st_text(s, 6),
		.message = st_text(s, 7),
	};
	return w->fn(w->arg, &e);
}

int store_events_of_run(struct store *st, int64_t run_id, unsigned limit,
                        store_event_fn fn, void *arg)
{
	struct event_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "events", "SELECT * FROM (SELECT id, ts, level, type, dataset,"
	                     " run_id, task, message FROM events WHERE run_id = ?"
	                     " ORDER BY id DESC LIMIT ?) ORDER BY id", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int64(s, 2, limit);
	return st_walk(st, "events", s, event_row, &w, false);
}

/* ---- datasets ---- */

struct dataset_walk { store_dataset_fn fn; void *arg; };

static int dataset_row(sqlite3_stmt *s, void *ctx)
{
	struct dataset_walk *w = ctx;
	struct store_dataset ds = {
		.name = st_text(s, 0),
		.first_configured = sqlite3_column_int64(s, 1),
		.last_fire = sqlite3_column_int64(s, 2),
		.paused = sqlite3_column_int(s, 3) != 0,
	};
	return w->fn(w->arg, &ds);
}

int store_datasets_each(struct store *st, store_dataset_fn fn, void *arg)
{
	struct dataset_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "datasets", "SELECT name, first_configured,"
	                     " COALESCE(last_fire, 0), paused FROM datasets ORDER BY name",
	                     &s)) < 0)
		return rc;
	return st_walk(st, "datasets", s, dataset_row, &w, false);
}

int store_dataset_add(struct store *st, const char *name, int64_t first_configured)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "dataset add", "INSERT OR IGNORE INTO datasets(name,"
	                     " first_configured) VALUES (?, ?)", &s)) < 0)
		return rc;
	st_bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, first_configured);
	return st_step_done(st, "dataset add", s, false);
}

int store_dataset_set_paused(struct store *st, const char *name, bool paused)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "dataset pause", "UPDATE datasets SET paused = ?"
	                     " WHERE name = ?", &s)) < 0)
		return rc;
	sqlite3_bind_int(s, 1, paused);
	st_bind_text(s, 2, name);
	return st_step_done(st, "dataset pause", s, true);
}

int store_dataset_set_last_fire(struct store *st, const char *name, int64_t last_fire)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "dataset last_fire", "UPDATE datasets SET last_fire = ?"
	                     " WHERE name = ?", &s)) < 0)
		return rc;
	st_bind_ms(s, 1, last_fire);
	st_bind_text(s, 2, name);
	return st_step_done(st, "dataset last_fire", s, true);
}

/* ---- runs ---- */

#define RUN_COLUMNS "id, target, kind, exec_date, trigger, state, force, created," \
                    " COALESCE(started, 0), COALESCE(ended, 0), error"

struct run_walk { store_run_fn fn; void *arg; };

static int run_row(sqlite3_stmt *s, void *ctx)
{
	struct run_walk *w = ctx;
	struct store_run r = {
		.id = sqlite3_column_int64(s, 0),
		.target = st_text(s, 1),
		.kind = st_text(s, 2),
		.exec_date = st_text(s, 3),
		.trigger = st_text(s, 4),
		.state = st_text(s, 5),
		.force = sqlite3_column_int(s, 6) != 0,
		.created = sqlite3_column_int64(s, 7),
		.started = sqlite3_column_int64(s, 8),
		.ended = sqlite3_column_int64(s, 9),
		.error = st_text(s, 10),
	};
	return w->fn(w->arg, &r);
}

int store_run_add(struct store *st, const struct store_run *r, int64_t *id)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "run add", "INSERT INTO runs(target, kind, exec_date,"
	                     " trigger, state, force, created) VALUES (?,?,?,?,?,?,?)", &s)) < 0)
		return rc;
	st_bind_text(s, 1, r->target);
	st_bind_text(s, 2, r->kind);
	st_bind_text(s, 3, r->exec_date);
	st_bind_text(s, 4, r->trigger);
	st_bind_text(s, 5, r->state);
	sqlite3_bind_int(s, 6, r->force);
	sqlite3_bind_int64(s, 7, r->created);
	if ((rc = st_step_done(st, "run add", s, false)) == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int store_run_set(struct store *st, const struct store_run *r)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "run set", "UPDATE runs SET state = ?, started = ?,"
	                     " ended = ?, error = ? WHERE id = ?", &s)) < 0)
		return rc;
	st_bind_text(s, 1, r->state);
	st_bind_ms(s, 2, r->started);
	st_bind_ms(s, 3, r->ended);
	st_bind_text(s, 4, r->error);
	sqlite3_bind_int64(s, 5, r->id);
	return st_step_done(st, "run set", s, true);
}

int store_run_get(struct store *st, int64_t id, store_run_fn fn, void *arg)
{
	struct run_walk w = { fn, arg };

	return st_select_by(st, "run", "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?", id,
	                    run_row, &w, true);
}

int store_runs_active(struct store *st, store_run_fn fn, void *arg)
{
	struct run_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "active runs", "SELECT " RUN_COLUMNS " FROM runs"
	                     " WHERE state IN ('queued', 'running') ORDER BY id", &s)) < 0)
		return rc;
	return st_walk(st, "runs", s, run_row, &w, false);
}

int store_runs_last(struct store *st, const char *const *kinds,
                    const char *const *targets, size_t n, store_run_fn fn, void *arg)
{
	struct run_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	/* One indexed seek per target (runs_by_target, newest exec date
	 * first): no scan of the whole table, however long the history. */
	if ((rc = st_prepare(st, "last runs", "SELECT " RUN_COLUMNS " FROM runs WHERE target = ?"
	                     " AND kind = ? ORDER BY exec_date DESC, id DESC LIMIT 1", &s)) < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		sqlite3_reset(s);
		st_bind_text(s, 1, targets[i]);
		st_bind_text(s, 2, kinds[i]);
		rc = st_walk_keep(st, "last runs", s, run_row, &w, false);
	}
	sqlite3_finalize(s);
	return rc;
}

int store_runs_list(struct store *st, const struct store_run_filter *f,
                    store_run_fn fn, void *arg)
{
	struct run_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "runs", "SELECT " RUN_COLUMNS " FROM runs"
	                     " WHERE (?1 IS NULL OR target = ?1) AND (?2 IS NULL OR state = ?2)"
	                     " AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4", &s)) < 0)
		return rc;
	st_bind_text(s, 1, f->target);
	st_bind_text(s, 2, f->state);
	st_bind_ms(s, 3, f->before_id);
	sqlite3_bind_int64(s, 4, f->limit);
	return st_walk(st, "runs", s, run_row, &w, false);
}

int store_run_latest(struct store *st, const char *kind, const char *target,
                     const char *exec_date, store_run_fn fn, void *arg)
{
	struct run_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "latest run", "SELECT " RUN_COLUMNS " FROM runs"
	                     " WHERE target = ? AND exec_date = ? AND kind = ?"
	                     " ORDER BY id DESC LIMIT 1", &s)) < 0)
		return rc;
	st_bind_text(s, 1, target);
	st_bind_text(s, 2, exec_date);
	st_bind_text(s, 3, kind);
	return st_walk(st, "runs", s, run_row, &w, true);
}

/* ---- tasks ---- */

int store_task_add(struct store *st, int64_t run_id, const char *name, int seq,
                   const char *state, int64_t *id)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "task add", "INSERT INTO tasks(run_id, name, seq, state)"
	                     " VALUES (?,?,?,?)", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, run_id);
	st_bind_text(s, 2, name);
	sqlite3_bind_int(s, 3, seq);
	st_bind_text(s, 4, state);
	if ((rc = st_step_done(st, "task add", s, false)) == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int store_task_set(struct store *st, const struct store_task *t)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "task set", "UPDATE tasks SET state = ?, attempts = ?,"
	                     " not_before = ?, error = ? WHERE id = ?", &s)) < 0)
		return rc;
	st_bind_text(s, 1, t->state);
	sqlite3_bind_int(s, 2, (int)t->attempts);
	st_bind_ms(s, 3, t->not_before);
	st_bind_text(s, 4, t->error);
	sqlite3_bind_int64(s, 5, t->id);
	return st_step_done(st, "task set", s, true);
}

struct task_walk { store_task_fn fn; void *arg; };

static int task_row(sqlite3_stmt *s, void *ctx)
{
	struct task_walk *w = ctx;
	struct store_task t = {
		.id = sqlite3_column_int64(s, 0),
		.run_id = sqlite3_column_int64(s, 1),
		.name = st_text(s, 2),
		.seq = sqlite3_column_int(s, 3),
		.state = st_text(s, 4),
		.attempts = (unsigned)sqlite3_column_int(s, 5),
		.not_before = sqlite3_column_int64(s, 6),
		.error = st_text(s, 7),
	};
	return w->fn(w->arg, &t);
}

int store_tasks_each(struct store *st, int64_t run_id, store_task_fn fn, void *arg)
{
	struct task_walk w = { fn, arg };

	return st_select_by(st, "tasks", "SELECT id, run_id, name, seq, state, attempts,"
	                    " COALESCE(not_before, 0), error FROM tasks WHERE run_id = ?"
	                    " ORDER BY seq", run_id, task_row, &w, false);
}

/* ---- attempts ---- */

int store_attempt_add(struct store *st, int64_t task_id, unsigned n, int64_t started,
                      int64_t *id)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "attempt add", "INSERT INTO attempts(task_id, n, started)"
	                     " VALUES (?,?,?)", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, task_id);
	sqlite3_bind_int(s, 2, (int)n);
	sqlite3_bind_int64(s, 3, started);
	if ((rc = st_step_done(st, "attempt add", s, false)) == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int store_attempt_set_pid(struct store *st, int64_t id, int pid, uint64_t pid_start)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "attempt pid", "UPDATE attempts SET pid = ?, pid_start = ?"
	                     " WHERE id = ?", &s)) < 0)
		return rc;
	sqlite3_bind_int(s, 1, pid);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)pid_start);
	sqlite3_bind_int64(s, 3, id);
	return st_step_done(st, "attempt pid", s, true);
}

int store_attempt_end(struct store *st, const struct store_attempt *a)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "attempt end", "UPDATE attempts SET ended = ?, outcome = ?,"
	                     " exit_code = ?, signal = ?, error = ?, output_tail = ?"
	                     " WHERE id = ?", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, a->ended);
	st_bind_text(s, 2, a->outcome);
	if (a->has_exit)
		sqlite3_bind_int(s, 3, a->exit_code);
	if (a->signal)
		sqlite3_bind_int(s, 4, a->signal);
	st_bind_text(s, 5, a->error);
	st_bind_text(s, 6, a->output_tail);
	sqlite3_bind_int64(s, 7, a->id);
	return st_step_done(st, "attempt end", s, true);
}

struct attempt_walk { store_attempt_fn fn; void *arg; };

static int attempt_row(sqlite3_stmt *s, void *ctx)
{
	struct attempt_walk *w = ctx;
	struct store_attempt a = {
		.id = sqlite3_column_int64(s, 0),
		.task_id = sqlite3_column_int64(s, 1),
		.n = (unsigned)sqlite3_column_int(s, 2),
		.started = sqlite3_column_int64(s, 3),
		.ended = sqlite3_column_int64(s, 4),
		.outcome = st_text(s, 5),
		.has_exit = sqlite3_column_type(s, 6) != SQLITE_NULL,
		.exit_code = sqlite3_column_int(s, 6),
		.signal = sqlite3_column_int(s, 7),
		.pid = sqlite3_column_int(s, 8),
		.pid_start = (uint64_t)sqlite3_column_int64(s, 9),
		.error = st_text(s, 10),
		.output_tail = st_text(s, 11),
	};
	return w->fn(w->arg, &a);
}

int store_attempts_each(struct store *st, int64_t task_id, store_attempt_fn fn,
                        void *arg)
{
	struct attempt_walk w = { fn, arg };

	return st_select_by(st, "attempts", "SELECT id, task_id, n, started, COALESCE(ended, 0),"
	                    " outcome, exit_code, COALESCE(signal, 0), COALESCE(pid, 0),"
	                    " COALESCE(pid_start, 0), error, output_tail FROM attempts"
	                    " WHERE task_id = ? ORDER BY n", task_id, attempt_row, &w, false);
}
