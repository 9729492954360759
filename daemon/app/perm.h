/*
 * perm.h - can anyone but root and denverd change a file denverd trusts?
 *
 * The configuration names programs denverd runs (spark.submit, jobs.*.command,
 * alerts.command), so whoever can rewrite it, or replace it by renaming in a
 * directory above it, can run code as denverd.  The check walks the file and
 * every directory up to "/" the way OpenSSH's StrictModes does.  Pure: it
 * only stats; the caller logs.
 */
#ifndef DENVERD_PERM_H
#define DENVERD_PERM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Check PATH (symbolic links resolved) and each directory above it: each
 * must be owned by root or SELF and not be writable by others or its group,
 * except that a sticky directory (/tmp) may be.  With SECRET (the file holds
 * a webhook URL with a token) the file must not be readable by others.
 *
 * Returns 0 when it is safe; -EPERM when it is not, with WHY (LEN bytes,
 * always terminated) naming the first offending path and who can change it;
 * -errno when a path cannot be examined (WHY names it too).
 */
int perm_check_trusted(const char *path, uid_t self, bool secret,
                       char *why, size_t len);

#endif
