/*
 * macro.h - the few macros every layer uses.  No dependencies.
 */
#ifndef DENVERD_BASE_MACRO_H
#define DENVERD_BASE_MACRO_H

#include <stddef.h>

#ifndef container_of
/* The struct of TYPE whose MEMBER is at PTR. */
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

/* Elements of a true array (not a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A compile-time check, usable at file scope and in functions. */
#define STATIC_ASSERT(expr, msg) _Static_assert(expr, msg)

#endif
