/*
 * dq_check - what `denverd --check-data` runs, as a program of its own for
 * tests/bench/dq_bench while main.c does not carry the option yet:
 *
 *   dq_check CONFIG DATASET FILE [DATE] [--json]
 *
 * Exit status as checkdata_main: 0 pass/warn, 1 fail, 2 error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/check_data.h"

int main(int argc, char **argv)
{
	struct config *cfg;
	char *errors = NULL;
	const char *date = NULL;
	bool json = false;
	int rc, n = 0;
	const char *pos[3] = { 0 };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (n < 3)
			pos[n++] = argv[i];
		else if (!date)
			date = argv[i];
		else
			n = 4;
	}
	if (n != 3) {
		fprintf(stderr, "usage: dq_check CONFIG DATASET FILE [DATE] [--json]\n");
		return CHECKDATA_ERROR;
	}
	if (config_load(pos[0], &cfg, &errors) < 0) {
		fprintf(stderr, "%s", errors ? errors : "cannot load the configuration\n");
		free(errors);
		return CHECKDATA_ERROR;
	}
	rc = checkdata_main(cfg, pos[1], pos[2], date, json);
	config_free(cfg);
	return rc;
}
