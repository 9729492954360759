/*
 * strtable.h - enum <-> name tables (in the manner of systemd's
 * string-table.h), so each pair is written once.
 *
 *   static const char *const run_state_table[] = {
 *           [RUN_QUEUED] = "queued", [RUN_RUNNING] = "running", ...
 *   };
 *   STRING_TABLE(run_state, enum run_state)
 *
 * defines
 *   const char *run_state_to_string(enum run_state v);   NULL when unnamed
 *   int run_state_from_string(const char *s);            -1 when unknown
 *
 * Use STRING_TABLE_STATIC for file-private tables.  Names are static
 * strings: never freed, never NULL inside the table's range unless a value
 * has no name.
 */
#ifndef DENVERD_BASE_STRTABLE_H
#define DENVERD_BASE_STRTABLE_H

#include <stddef.h>
#include <string.h>

#include "base/macro.h"

#define STRING_TABLE_IMPL(name, type, scope) \
	scope const char *name##_to_string(type v) \
	{ \
		if ((size_t)v >= ARRAY_SIZE(name##_table)) \
			return NULL; \
		return name##_table[(size_t)v]; \
	} \
	scope int name##_from_string(const char *s) \
	{ \
		if (!s) \
			return -1; \
		for (size_t i = 0; i < ARRAY_SIZE(name##_table); i++) \
			if (name##_table[i] && strcmp(name##_table[i], s) == 0) \
				return (int)i; \
		return -1; \
	}

#define STRING_TABLE(name, type) STRING_TABLE_IMPL(name, type, )
#define STRING_TABLE_STATIC(name, type) \
	STRING_TABLE_IMPL(name, type, __attribute__((unused)) static)

#endif
