/*
 * checkdata.h - run a dataset's checks on a local file without a daemon:
 * `denverd --check-data DATASET FILE -c CONFIG [--date D] [--json]`
 * (main.c parses the options and calls checkdata_main).
 */
#ifndef DENVERD_CHECKDATA_H
#define DENVERD_CHECKDATA_H

#include <stdbool.h>

#include "config/config.h"

/* Exit statuses. */
#define CHECKDATA_OK    0       /* every check passed or warned */
#define CHECKDATA_FAIL  1       /* a check with severity fail failed */
#define CHECKDATA_ERROR 2       /* no such dataset, unreadable file, ... */

/*
 * Check FILE as a snapshot of DATASET for EXEC_DATE (YYYY-MM-DD; NULL =
 * today in cfg->timezone) and print the results to stdout: a table for
 * people, or with JSON the report of dq_report_json() (what the check task
 * stores).  Errors go to stderr.  Returns the exit status (CHECKDATA_*).
 */
int checkdata_main(const struct config *cfg, const char *dataset, const char *file,
                   const char *exec_date, bool json);

#endif
