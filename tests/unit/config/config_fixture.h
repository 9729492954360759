/* config_fixture.h - what the tests of config/ share: a minimal dataset to
 * build files around, and parsing a file that must be valid. */
#ifndef DENVERD_TEST_CONFIG_FIXTURE_H
#define DENVERD_TEST_CONFIG_FIXTURE_H

#include <string.h>

#include "base/macro.h"
#include "config/config.h"

/* A dataset d whose lines 1-4 are fixed; further keys of d start on line 5,
 * column 5. */
#define DS "datasets:\n  d:\n    url: https://example.org/d.csv\n    schedule: \"0 6 * * *\"\n"
/* The same with another URL; the URL starts at 3:10. */
#define DS_URL(u) "datasets:\n  d:\n    url: " u "\n    schedule: \"0 6 * * *\"\n"

/* TEXT parsed as t.yaml; the test fails (with the messages) when it is
 * not valid.  The caller frees the result. */
static inline struct config *parse_ok(const char *text)
{
	struct config *cfg = NULL;
	char *errors = NULL;
	int rc = config_parse("t.yaml", text, strlen(text), &cfg, &errors);
	if (rc != 0)
		fail_msg("rc %d:\n%s", rc, errors ? errors : "");
	return cfg;
}

#endif
