/*
 * tasks.h - the task kinds this build has, one file each under
 * engine/tasks/.  Only lifecycle.c, which puts them in the engine's table
 * (s->kinds[]), includes this; everything else finds a kind there by name.
 */
#ifndef DENVERD_ENGINE_TASKS_H
#define DENVERD_ENGINE_TASKS_H

#include "engine/task.h"

extern const struct task_kind task_kind_fetch;     /* task_fetch.c */
extern const struct task_kind task_kind_check;     /* task_check.c */
extern const struct task_kind task_kind_convert;   /* task_convert.c */
extern const struct task_kind task_kind_job;       /* task_proc.c */

#endif
