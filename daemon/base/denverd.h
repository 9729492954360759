/*
 * denverd.h - the daemon's one context, created by main.c and handed to every
 * module's X_init().  Modules keep a pointer to it; none owns it.
 */
#ifndef DENVERD_DENVERD_H
#define DENVERD_DENVERD_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/macro.h"

struct config;
struct store;
struct control;
struct sched;
struct alerts;
struct lineage;

struct denverd {
	uv_loop_t *loop;
	struct config *cfg;          /* current configuration; swapped on reload */
	char *config_path;
	struct store *store;
	struct control *control;
	struct sched *sched;
	struct alerts *alerts;
	struct lineage *lineage;     /* OpenLineage events (notify/lineage.h) */
	int64_t started_ms;          /* wall clock at start, unix ms */
	bool stopping;               /* SIGTERM seen: start nothing new */
	int exit_status;             /* main()'s status after a stop; 0 unless a
	                                module stopped the daemon on a failure */

	/* Set by main.c.  reload: parse the file again and swap it in when it
	 * is valid; returns 0, or -EINVAL with *errors (caller frees) and the
	 * running configuration untouched.  stop: begin a graceful stop. */
	int (*reload)(struct denverd *d, char **errors);
	void (*stop)(struct denverd *d);
};

#endif
