/*
 * list.h - intrusive doubly linked lists (in the manner of systemd's
 * list.h): an item embeds its links, a list is a head pointer (and, for the
 * _TAIL variants, a tail pointer) held by the owner.  No allocation; every
 * operation is O(1) except the FOREACH walks.
 *
 * An item type declares its links with LIST_FIELDS(type, name), which adds
 * the members name_next and name_prev; one item may sit on several lists
 * through several names.  Items are owned by whoever allocated them: the
 * list never frees.  An item must be on at most one list per name, and
 * removed before it is freed.  Removal leaves both links NULL.
 */
#ifndef DENVERD_BASE_LIST_H
#define DENVERD_BASE_LIST_H

#include <stddef.h>

#define LIST_FIELDS(t, name) t *name##_next, *name##_prev

/* Links of ITEM cleared (not on any list by NAME). */
#define LIST_INIT(name, item) \
	do { (item)->name##_next = (item)->name##_prev = NULL; } while (0)

/* ITEM becomes the first of the list at HEAD. */
#define LIST_PREPEND(name, head, item) \
	do { \
		(item)->name##_prev = NULL; \
		(item)->name##_next = (head); \
		if ((head)) \
			(head)->name##_prev = (item); \
		(head) = (item); \
	} while (0)

/* ITEM leaves the list at HEAD. */
#define LIST_REMOVE(name, head, item) \
	do { \
		if ((item)->name##_next) \
			(item)->name##_next->name##_prev = (item)->name##_prev; \
		if ((item)->name##_prev) \
			(item)->name##_prev->name##_next = (item)->name##_next; \
		else \
			(head) = (item)->name##_next; \
		(item)->name##_next = (item)->name##_prev = NULL; \
	} while (0)

/* Lists that also keep their last item at TAIL. */
#define LIST_APPEND_TAIL(name, head, tail, item) \
	do { \
		(item)->name##_next = NULL; \
		(item)->name##_prev = (tail); \
		if ((tail)) \
			(tail)->name##_next = (item); \
		else \
			(head) = (item); \
		(tail) = (item); \
	} while (0)

#define LIST_PREPEND_TAIL(name, head, tail, item) \
	do { \
		if (!(head)) \
			(tail) = (item); \
		LIST_PREPEND(name, head, item); \
	} while (0)

/* ITEM goes right after AFTER, or first when AFTER is NULL. */
#define LIST_INSERT_AFTER_TAIL(name, head, tail, after, item) \
	do { \
		if (!(after)) { \
			LIST_PREPEND_TAIL(name, head, tail, item); \
			break; \
		} \
		(item)->name##_prev = (after); \
		(item)->name##_next = (after)->name##_next; \
		if ((after)->name##_next) \
			(after)->name##_next->name##_prev = (item); \
		else \
			(tail) = (item); \
		(after)->name##_next = (item); \
	} while (0)

#define LIST_REMOVE_TAIL(name, head, tail, item) \
	do { \
		if (!(item)->name##_next) \
			(tail) = (item)->name##_prev; \
		LIST_REMOVE(name, head, item); \
	} while (0)

/* Walk the list; the body must not remove I (use _SAFE for that). */
#define LIST_FOREACH(name, i, head) \
	for ((i) = (head); (i); (i) = (i)->name##_next)

/* Walk the list; the body may remove or free I (N holds the next one). */
#define LIST_FOREACH_SAFE(name, i, n, head) \
	for ((i) = (head); (i) && (((n) = (i)->name##_next), 1); (i) = (n))

#endif
