/*
 * runq.c - fair wait queue: least recently served lane first.
 */
#include <string.h>

#include "domain/runq.h"

void runq_init(struct runq *q, bool exclusive)
{
	memset(q, 0, sizeof *q);
	q->exclusive = exclusive;
}

void runq_lane_init(struct runq_lane *lane, struct runq *q)
{
	memset(lane, 0, sizeof *lane);
	lane->q = q;
}

void runq_item_init(struct runq_item *it, const char *exec_date, int64_t run_id)
{
	memset(it, 0, sizeof *it);
	if (exec_date) {
		strncpy(it->exec_date, exec_date, sizeof it->exec_date - 1);
	}
	it->run_id = run_id;
}

/* <0 when A goes before B. */
static int item_cmp(const struct runq_item *a, const struct runq_item *b)
{
	int c = strcmp(a->exec_date, b->exec_date);
	if (c)
		return c;
	return (a->run_id > b->run_id) - (a->run_id < b->run_id);
}

static void lane_list(struct runq_lane *lane)
{
	if (lane->listed)
		return;
	LIST_PREPEND(lanes, lane->q->lanes, lane);
	lane->listed = true;
}

static void lane_unlist(struct runq_lane *lane)
{
	if (!lane->listed)
		return;
	LIST_REMOVE(lanes, lane->q->lanes, lane);
	lane->listed = false;
}

void runq_push(struct runq_lane *lane, struct runq_item *it)
{
	struct runq_item *after = lane->tail;

	/* Walk back from the tail: date-ordered pushes stop at once. */
	while (after && item_cmp(after, it) > 0)
		after = after->queue_prev;
	LIST_INSERT_AFTER_TAIL(queue, lane->head, lane->tail, after, it);
	it->lane = lane;
	lane->len++;
	lane->q->len++;
	lane_list(lane);
}

void runq_remove(struct runq_item *it)
{
	struct runq_lane *lane = it->lane;

	if (!lane)
		return;
	LIST_REMOVE_TAIL(queue, lane->head, lane->tail, it);
	it->lane = NULL;
	lane->len--;
	lane->q->len--;
	if (!lane->head)
		lane_unlist(lane);
}

/* True when lane A should be served before lane B. */
static bool lane_before(const struct runq_lane *a, const struct runq_lane *b)
{
	if (a->served != b->served)
		return a->served < b->served;
	return item_cmp(a->head, b->head) < 0;
}

struct runq_item *runq_pop(struct runq *q)
{
	struct runq_lane *best = NULL, *l;
	struct runq_item *it;

	LIST_FOREACH(lanes, l, q->lanes) {
		if (q->exclusive && l->running > 0)
			continue;
		if (!best || lane_before(l, best))
			best = l;
	}
	if (!best)
		return NULL;
	it = best->head;
	runq_remove(it);
	best->served = ++q->clock;
	best->running++;
	return it;
}

void runq_release(struct runq_lane *lane)
{
	if (lane->running > 0)
		lane->running--;
}
