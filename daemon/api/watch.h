/*
 * watch.h - what `watch` clients receive (denverd(8), Events): the engine's
 * and the alerts' typed events turned into the protocol's event objects and
 * broadcast to the watchers of d->control.  app/main.c subscribes these to
 * the engine (engine_subscribe) and to the alerts (alerts_subscribe).
 *
 * Loop thread.  ARG is the daemon (struct denverd *); without a control
 * socket (not yet, or no longer: it closes first at a stop) nothing is sent.
 */
#ifndef DENVERD_API_WATCH_H
#define DENVERD_API_WATCH_H

#include <jansson.h>

struct alert_event;
struct engine_event;

void watch_engine_event(void *arg, const struct engine_event *ev);
void watch_alert_event(void *arg, const struct alert_event *ev);

/* The event object itself (a new reference, or NULL when out of memory),
 * as the two functions above broadcast it; for tests. */
json_t *watch_engine_json(const struct engine_event *ev);
json_t *watch_alert_json(const struct alert_event *ev);

#endif
