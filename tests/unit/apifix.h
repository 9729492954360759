/* apifix.h - the fixture of api/ command tests: a real store in a fresh
 * directory under /tmp (tmpstore.h), a parsed configuration rooted there,
 * and the control socket served on a uv loop the test owns and turns
 * (ctlcall.h).  Header only: each test is its own program. */
#ifndef DENVERD_TEST_APIFIX_H
#define DENVERD_TEST_APIFIX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "api/control.h"
#include "base/denverd.h"
#include "config/config.h"
#include "ctlcall.h"
#include "tmpstore.h"

struct apifix {
	struct tmpstore t;
	struct config *cfg;
	struct denverd d;
	uv_loop_t loop;
	char sock[100];
};

/* A new fixture whose configuration is "state_dir: <dir>\nsocket: <sock>\n"
 * and then YAML (its datasets, jobs...), with the control socket listening;
 * the test registers its commands.  NULL after a message on stderr. */
static inline struct apifix *apifix_open(const char *yaml)
{
	struct apifix *f = calloc(1, sizeof *f);
	char *text = NULL, *errs = NULL;

	if (!f || tmpstore_open(&f->t) < 0) {
		free(f);
		return NULL;
	}
	snprintf(f->sock, sizeof f->sock, "%s/denverd.sock", f->t.dir);
	if (asprintf(&text, "state_dir: %s\nsocket: %s\n%s", f->t.dir, f->sock, yaml) < 0 ||
	    config_parse("test.yaml", text, strlen(text), &f->cfg, &errs) < 0) {
		fprintf(stderr, "config: %s\n", errs ? errs : "?");
		free(text);
		return NULL;
	}
	free(text);
	f->d.cfg = f->cfg;
	f->d.store = f->t.st;
	if (uv_loop_init(&f->loop) < 0)
		return NULL;
	f->d.loop = &f->loop;
	return control_init(&f->d) < 0 ? NULL : f;
}

/* PATH made with its missing parents (mode 0750), holding TEXT: 0 or -1. */
static inline int apifix_write(const char *path, const char *text)
{
	char dir[512], *slash;
	FILE *fp;
	int rc;

	snprintf(dir, sizeof dir, "%s", path);
	for (slash = strchr(dir + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		mkdir(dir, 0750);
		*slash = '/';
	}
	if (!(fp = fopen(path, "w")))
		return -1;
	rc = fputs(text, fp) < 0 ? -1 : 0;
	return fclose(fp) == 0 ? rc : -1;
}

/* Stop serving, close the loop and the store, remove the directory and F.
 * 0, or -1 when the directory could not be removed. */
static inline int apifix_close(struct apifix *f)
{
	char cmd[160];

	control_fini(&f->d);
	ctlcall_loop_close(&f->loop);
	config_free(f->cfg);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->t.dir);
	tmpstore_close(&f->t);
	free(f);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
