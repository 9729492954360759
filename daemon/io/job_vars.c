/*
 * job_vars.c - what a job is told about its task: placeholders in its argv
 * (through template.c) and DENVERD_* variables in its environment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "domain/template.h"
#include "io/job.h"

const char *const job_placeholders[] = {
	"dataset", "exec_date", "year", "month", "day", "run_id", "state_dir",
	"job", "input", "output", "schema", "datastore", "spec", "storage",
};
const size_t job_placeholders_n = ARRAY_SIZE(job_placeholders);

#define EXTRA_MAX ARRAY_SIZE(((struct job_vars *)0)->extra_keys)

/* "2026-03-08" -> "2026" "03" "08"; all empty for anything else. */
static void split_date(const char *d, char y[5], char m[3], char day[3])
{
	y[0] = m[0] = day[0] = '\0';
	if (!d || strlen(d) != 10 || d[4] != '-' || d[7] != '-')
		return;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
			return;
	memcpy(y, d, 4);
	y[4] = '\0';
	memcpy(m, d + 5, 2);
	m[2] = '\0';
	memcpy(day, d + 8, 2);
	day[2] = '\0';
}

int job_expand(const char *tmpl, const struct job_vars *v, char **out)
{
	char y[5], m[3], d[3];
	struct template_var vars[ARRAY_SIZE(job_placeholders) + EXTRA_MAX];
	const char *values[] = {
		v->dataset, v->exec_date, y, m, d, v->run_id, v->state_dir,
		v->job, v->input, v->output, v->schema, v->datastore, v->spec, v->storage,
	};
	size_t n = 0;

	split_date(v->exec_date, y, m, d);
	for (; n < job_placeholders_n; n++)
		vars[n] = (struct template_var){ job_placeholders[n], values[n] };
	for (size_t i = 0; i < EXTRA_MAX && v->extra_keys[i]; i++)
		vars[n++] = (struct template_var){ v->extra_keys[i], v->extra_values[i] };
	return template_expand(tmpl, vars, n, out, NULL);
}

void job_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++) {
		explicit_bzero(*p, strlen(*p));   /* an env entry may hold a secret */
		free(*p);
	}
	free(v);
}

static size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

int job_expand_argv(char *const *tmpl, const struct job_vars *v, char ***out)
{
	size_t n = strv_len(tmpl);
	char **argv;
	int rc = 0;

	*out = NULL;
	if (n > JOB_ENV_MAX)
		return -E2BIG;
	if (!(argv = calloc(n + 1, sizeof *argv)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if ((rc = job_expand(tmpl[i], v, &argv[i])) < 0)
			goto out;
	*out = argv;
	argv = NULL;
out:
	job_strv_free(argv);
	return rc;
}

int job_env(const struct job_vars *v, char *const *extra, char ***out)
{
	const struct {
		const char *name, *value;
	} vars[] = {
		{ "DENVERD_DATASET", v->dataset }, { "DENVERD_EXEC_DATE", v->exec_date },
		{ "DENVERD_RUN_ID", v->run_id }, { "DENVERD_STATE_DIR", v->state_dir },
		{ "DENVERD_JOB", v->job }, { "DENVERD_INPUT", v->input },
		{ "DENVERD_OUTPUT", v->output }, { "DENVERD_DATASTORE", v->datastore },
		{ "DENVERD_SPEC", v->spec },
	};
	const size_t nv = ARRAY_SIZE(vars);
	size_t ne = strv_len(extra), n = 0;
	char **env;
	int rc = 0;

	*out = NULL;
	if (ne > JOB_ENV_MAX - nv)
		return -E2BIG;
	if (!(env = calloc(nv + ne + 1, sizeof *env)))
		return -ENOMEM;
	for (size_t i = 0; i < nv; i++) {
		if (!vars[i].value)
			continue;
		if (asprintf(&env[n], "%s=%s", vars[i].name, vars[i].value) < 0) {
			env[n] = NULL;
			rc = -ENOMEM;
			goto out;
		}
		n++;
	}
	for (size_t i = 0; i < ne; i++, n++)
		if (!(env[n] = strdup(extra[i]))) {
			rc = -ENOMEM;
			goto out;
		}
	*out = env;
	env = NULL;
out:
	job_strv_free(env);
	return rc;
}
