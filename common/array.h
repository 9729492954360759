/*
 * array.h - growing arrays by doubling (in the manner of systemd's
 * GREEDY_REALLOC), for both programs.
 *
 *   if (ARRAY_RESERVE(l->v, l->n + 1, l->cap, 16) < 0)
 *           return -ENOMEM;
 *   l->v[l->n++] = x;
 *
 * ARRAY_RESERVE(V, NEED, CAP, FIRST) makes room for NEED elements in the
 * heap array V of CAP elements: when CAP is short it becomes FIRST, or
 * twice CAP, or NEED if that is more, and V is reallocated.  Returns 0, or
 * -ENOMEM with V and CAP untouched (V still owned by the caller, who frees
 * it).  The new elements are not initialised.  Element counts that would
 * overflow size_t are refused as -ENOMEM.
 */
#ifndef DENVERD_COMMON_ARRAY_H
#define DENVERD_COMMON_ARRAY_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static inline int array_reserve(void **v, size_t need, size_t *cap, size_t size, size_t first)
{
	size_t ncap;
	void *nv;

	if (need <= *cap)
		return 0;
	ncap = *cap ? (*cap > SIZE_MAX / 2 ? need : *cap * 2) : first;
	if (ncap < need)
		ncap = need;
	if (size && ncap > SIZE_MAX / size)
		return -ENOMEM;
	if (!(nv = realloc(*v, ncap * size)))
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

#define ARRAY_RESERVE(v, need, cap, first) \
	array_reserve((void **)&(v), (need), &(cap), sizeof *(v), (first))

#endif
