/*
 * runq.h - the fair wait queue of tasks that may start as soon as a slot of
 * their resource class (fetches, checks, child processes) is free.
 *
 * Order (documented in denverd(8), SCHEDULING): the queue is made of lanes,
 * one per target (dataset or job).  runq_pop() serves the lane that was
 * served least recently (a lane never served comes first); ties go to the
 * lane whose head has the oldest exec date, then the lowest run id.  Inside a
 * lane, items wait oldest exec date first, then lowest run id.  So a backfill
 * of 1,000 dates of one dataset alternates with every other dataset's work
 * instead of starving it, and a dataset's own dates go in calendar order.
 *
 * An exclusive queue also runs at most one item per lane at a time (two
 * converts of one dataset must not merge into its datastore at once).
 *
 * Pure and allocation-free: items and lanes are embedded in their owners,
 * which must keep them alive while queued.  Every operation is O(1) except
 * runq_pop (O(lanes with waiting items)) and runq_push (O(items of the lane
 * newer than the pushed one; pushes in date order are O(1))).
 */
#ifndef DENVERD_RUNQ_H
#define DENVERD_RUNQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/list.h"

struct runq;
struct runq_lane;

struct runq_item {
	LIST_FIELDS(struct runq_item, queue);  /* in its lane, in the order above */
	struct runq_lane *lane;        /* non-NULL while queued */
	char exec_date[11];            /* "YYYY-MM-DD"; compares as text */
	int64_t run_id;
};

struct runq_lane {
	struct runq *q;
	struct runq_item *head, *tail; /* its waiting items (list "queue") */
	LIST_FIELDS(struct runq_lane, lanes);  /* in q->lanes while it has items */
	bool listed;
	uint64_t served;               /* q->clock when last served; 0 = never */
	unsigned running;              /* popped and not yet released */
	size_t len;
};

struct runq {
	struct runq_lane *lanes;       /* lanes with waiting items (list "lanes") */
	uint64_t clock;
	size_t len;                    /* waiting items, all lanes */
	bool exclusive;
};

void runq_init(struct runq *q, bool exclusive);
void runq_lane_init(struct runq_lane *lane, struct runq *q);
void runq_item_init(struct runq_item *it, const char *exec_date, int64_t run_id);

/* Queue IT (not already queued) in LANE. */
void runq_push(struct runq_lane *lane, struct runq_item *it);

/* Take the next item in the order above, or NULL when nothing may start.
 * The item's lane counts it as running until runq_release(). */
struct runq_item *runq_pop(struct runq *q);

/* The item popped from LANE has ended (or never started). */
void runq_release(struct runq_lane *lane);

/* Take IT out of its queue; a no-op when it is not queued. */
void runq_remove(struct runq_item *it);

static inline bool runq_queued(const struct runq_item *it)
{
	return it->lane != NULL;
}

static inline size_t runq_len(const struct runq *q)
{
	return q->len;
}

#endif
