/*
 * args.c - the control commands' argument readers (args.h).
 */
#include <errno.h>
#include <inttypes.h>

#include "api/args.h"
#include "api/control.h"
#include "denverd/protocol.h"
#include "domain/execdate.h"

/* ARGS' member KEY, or NULL when absent or null (not given). */
static json_t *given(json_t *args, const char *key)
{
	json_t *v = json_object_get(args, key);
	return json_is_null(v) ? NULL : v;
}

int arg_string(json_t *args, const char *key, bool required, const char **out,
               struct control_error *err)
{
	json_t *v = given(args, key);

	*out = NULL;
	if (!v) {
		if (required)
			return control_error(err, -EINVAL, PROTO_EINVAL, "missing argument \"%s\"", key);
		return 0;
	}
	if (!json_is_string(v))
		return control_error(err, -EINVAL, PROTO_EINVAL, "\"%s\" must be a string", key);
	*out = json_string_value(v);
	return 0;
}

int arg_int(json_t *args, const char *key, int64_t min, int64_t max, int64_t dflt,
            int64_t *out, struct control_error *err)
{
	json_t *v = given(args, key);

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return control_error(err, -EINVAL, PROTO_EINVAL,
		                     "\"%s\" must be an integer from %" PRId64 " to %" PRId64,
		                     key, min, max);
	*out = json_integer_value(v);
	return 0;
}

int arg_bool(json_t *args, const char *key, bool *out, struct control_error *err)
{
	json_t *v = given(args, key);

	*out = false;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return control_error(err, -EINVAL, PROTO_EINVAL, "\"%s\" must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

int arg_date(json_t *args, const char *key, bool required, int64_t *day,
             const char **text, struct control_error *err)
{
	int rc = arg_string(args, key, required, text, err);

	if (rc < 0 || !*text)
		return rc;
	if (execdate_parse(*text, day) < 0)
		return control_error(err, -EINVAL, PROTO_EINVAL,
		                     "\"%s\": \"%s\" is not a date (YYYY-MM-DD)", key, *text);
	return 0;
}

int arg_run(json_t *args, int64_t *id, struct control_error *err)
{
	json_t *v = given(args, "run");

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return control_error(err, -EINVAL, PROTO_EINVAL,
		                     "\"run\" must be a run id (a positive integer)");
	*id = json_integer_value(v);
	return 0;
}
