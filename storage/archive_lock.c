// SPDX-License-Identifier: MIT
/*
 * Who has the data folder open. DATA/pacs.lock is flock()ed shared by every process that has
 * the archive open (pacsd, pacs import, ...) and exclusively by one that needs the folder to
 * itself (reindex, sweeping orphans). flock locks belong to the open file and vanish with the
 * process, so a crash leaves none behind. The file's content says whether the archive is open:
 * "open" from the first opening until the last clean close. Finding it set while being the only
 * user means the last run ended uncleanly (a crash, kill -9, power loss), so objects written
 * but never indexed may lie in the store. Opening and closing are serialised with an exclusive
 * flock of the data folder itself, which is held only for those moments.
 *
 * Runs when the archive opens and closes, and for `pacs reindex`; no shared state.
 */
#define _GNU_SOURCE /* syncfs */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/archive_internal.h"

int pacs_archive__lock_dir(const char *data)
{
    int fd = open(data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {
        }
    }
    return fd;
}

void pacs_archive__unlock_dir(int fd)
{
    if (fd >= 0) {
        close(fd); /* releases the flock */
    }
}

/* Takes DATA/pacs.lock: exclusively when `exclusive` (or when nobody else holds it, reported
 * in `*sole`), shared otherwise. Call with the folder locked. */
pacs_err pacs_archive__lock_use(const char *data, int exclusive, int *lock_fd, int *sole,
                                int *unclean, pacs_errinfo *ei)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/pacs.lock", data);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "cannot open %s: %s", path,
                         strerror(errno));
    }
    *sole = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (!*sole && exclusive) {
        close(fd);
        return pacs_errf(ei, PACS_EBUSY,
                         "the data folder %s is in use by another process (a running pacsd or "
                         "pacs command); stop it first",
                         data);
    }
    if (!*sole && flock(fd, LOCK_SH | LOCK_NB) != 0) {
        close(fd);
        return pacs_errf(ei, PACS_EBUSY,
                         "the data folder %s is held by another process that needs it alone "
                         "(pacs reindex or pacs verify --sweep); try again when it is done",
                         data);
    }
    struct stat sb;
    *unclean = *sole && fstat(fd, &sb) == 0 && sb.st_size > 0;
    *lock_fd = fd;
    return PACS_OK;
}

/* Records in the lock file whether the archive is open ("open\n") or was closed cleanly.
 * Opening flushes the whole file system, not just this file: the names opening made (the data
 * folder itself, this file, the store's folders, a new index) are durable only once their
 * folders are, and a power cut that took them would make the next start see a fresh, cleanly
 * closed archive (tests/test_power_cut.sh, round 0). One syncfs per opening. */
void pacs_archive__mark_open(int fd, int open_now)
{
    if (ftruncate(fd, 0) == 0 && (!open_now || pwrite(fd, "open\n", 5, 0) == 5)) {
        if (!open_now || syncfs(fd) != 0) {
            fsync(fd);
        }
    }
}
