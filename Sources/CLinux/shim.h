// glibc and Linux calls Swift's Glibc module does not offer: malloc tuning (mallopt); prctl,
// which is variadic in C and so cannot be called from Swift directly; syncfs and
// sync_file_range, which glibc declares only under _GNU_SOURCE.
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <unistd.h>

/// Marks the process not dumpable: no core file, and no ptrace or /proc/<pid>/mem access by
/// other processes of the same user. Returns 0 on success.
static inline int vault_set_not_dumpable(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

// Declared here because the system headers declare them only under _GNU_SOURCE, which the
// C library module this header shares its includes with is not built with.
extern int syncfs(int fd);
extern int sync_file_range(int fd, __off64_t offset, __off64_t nbytes, unsigned int flags);
#ifndef SYNC_FILE_RANGE_WRITE
#define SYNC_FILE_RANGE_WRITE 2
#endif

/// Asks the kernel to start writing the range's dirty pages to disk now, without waiting
/// (SYNC_FILE_RANGE_WRITE). Not a durability guarantee: a later fsync or syncfs is. Returns 0
/// on success.
static inline int vault_start_writeback(int fd, int64_t offset, int64_t length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

/// Flushes the whole file system holding `fd` and reports a write-back error there since the
/// descriptor was opened, or earlier if no other syncfs caller saw it (Linux 5.8 and later).
/// Returns 0 on success.
static inline int vault_syncfs(int fd) {
    return syncfs(fd);
}
