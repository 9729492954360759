/*
 * denverd/protocol.h - the control protocol, shared by denverd and denverctl.
 *
 * Transport: a Unix stream socket.  Framing: one JSON object per line
 * ('\n'-terminated, UTF-8, no embedded newlines).  Each request gets exactly
 * one reply, in order; `watch` then streams event lines until the client
 * closes.  The full description is in denverd(8), section CONTROL PROTOCOL.
 *
 *   request: {"v":1,"id":7,"cmd":"status","args":{...}}
 *   reply:   {"v":1,"id":7,"ok":true,"result":{...}}
 *            {"v":1,"id":7,"ok":false,"error":{"code":"EPERM","message":"..."}}
 *   event:   {"v":1,"event":{"ts":...,"type":"run.state",...}}
 *
 * Compatibility: fields are only ever added within a version; a client
 * ignores fields it does not know.  A request whose "v" is greater than
 * PROTOCOL_VERSION gets the error code "EVERSION".
 */
#ifndef DENVERD_PROTOCOL_H
#define DENVERD_PROTOCOL_H

#define PROTOCOL_VERSION 1

/* A request line longer than this is refused (configurable downwards with
 * limits.request_size). */
#define PROTOCOL_MAX_REQUEST (64 * 1024)
/* Longest reply line, newline included: the daemon answers EINTERNAL "reply
 * too large" rather than send a longer one, and clients may refuse one. */
#define PROTOCOL_MAX_REPLY (64u * 1024 * 1024)

#define PROTOCOL_DEFAULT_SOCKET "/run/denverd/denverd.sock"
#define PROTOCOL_SOCKET_ENV     "DENVERD_SOCKET"

/* Error codes carried in error.code. */
#define PROTO_EPARSE    "EPARSE"     /* not a JSON object */
#define PROTO_ETOOBIG   "ETOOBIG"    /* request longer than the limit */
#define PROTO_EUNKNOWN  "EUNKNOWN"   /* no such command */
#define PROTO_EINVAL    "EINVAL"     /* bad or missing arguments */
#define PROTO_EPERM     "EPERM"      /* state change from a foreign uid */
#define PROTO_ENOENT    "ENOENT"     /* no such dataset, job or run */
#define PROTO_ESTATE    "ESTATE"     /* not allowed in the current state */
#define PROTO_EVERSION  "EVERSION"   /* protocol version too new */
#define PROTO_EINTERNAL "EINTERNAL"  /* the daemon failed; see the journal */
#define PROTO_EBUSY     "EBUSY"      /* too many clients */

#endif
