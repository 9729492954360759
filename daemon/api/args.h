/*
 * args.h - the arguments of control requests (the "args" object of
 * denverd(8), CONTROL PROTOCOL), read the same way by every command.
 *
 * One rule for every key: an absent member and a null one are the same, the
 * argument was not given; the default applies, or a required argument is
 * missing.  A value of the wrong type or out of range is EINVAL, with a
 * message that names the key.  Each function returns 0, or a negative errno
 * with ERR set (control_error), for `if ((rc = arg_...) < 0) return rc;`.
 * ARGS is borrowed; strings returned point into it and live as long as it.
 */
#ifndef DENVERD_API_ARGS_H
#define DENVERD_API_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

struct control_error;

/* A string; *OUT NULL when not given (and not REQUIRED). */
int arg_string(json_t *args, const char *key, bool required, const char **out,
               struct control_error *err);
/* An integer from MIN to MAX; *OUT DFLT when not given. */
int arg_int(json_t *args, const char *key, int64_t min, int64_t max, int64_t dflt,
            int64_t *out, struct control_error *err);
/* true or false; *OUT false when not given. */
int arg_bool(json_t *args, const char *key, bool *out, struct control_error *err);
/* A date YYYY-MM-DD: its day number in *DAY and its text in *TEXT; *TEXT
 * NULL when not given (and not REQUIRED). */
int arg_date(json_t *args, const char *key, bool required, int64_t *day,
             const char **text, struct control_error *err);
/* "run": a run id (a positive integer), required. */
int arg_run(json_t *args, int64_t *id, struct control_error *err);

#endif
