// glibc and Linux calls Swift's Glibc module does not offer: malloc tuning (mallopt), and
// prctl, which is variadic in C and so cannot be called from Swift directly.
#include <malloc.h>
#include <sys/prctl.h>

/// Marks the process not dumpable: no core file, and no ptrace or /proc/<pid>/mem access by
/// other processes of the same user. Returns 0 on success.
static inline int vault_set_not_dumpable(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
