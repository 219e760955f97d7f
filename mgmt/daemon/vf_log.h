/* vf_log.h - vfabd's log: levels, stderr or syslog.
 *
 * What: one process-wide logger. Messages at or above the configured level
 * (error < warn < info < debug) go to stderr as "IDENT: message" (the
 * default; what systemd's journal and tests read), or to syslog(3) with the
 * matching priority when opened with use_syslog. Events that could repeat
 * every second (a port device gone, a refused change) are logged once per
 * event by their callers, so a log line means something happened.
 *
 * Thread-safety: vf_log_open/vf_log_close on the management thread before
 * and after the other threads run. vf_log() may be called from any thread
 * except a worker's hot path (it formats and writes: a syscall); the level
 * is read and written with relaxed atomics (a level change may reach
 * another thread one message late, which is harmless).
 */
#ifndef VF_LOG_H
#define VF_LOG_H

#include <stdbool.h>

enum vf_log_level {
    VF_LOG_ERROR,
    VF_LOG_WARN,
    VF_LOG_INFO,
    VF_LOG_DEBUG,
};

/* ident prefixes stderr lines and names the syslog source. Level defaults
 * to VF_LOG_INFO when vf_log_open is never called. */
void vf_log_open(const char *ident, bool use_syslog, enum vf_log_level level);
void vf_log_close(void);
void vf_log_set_level(enum vf_log_level level);
bool vf_log_enabled(enum vf_log_level level);
/* "error", "warn", "info", "debug" */
const char *vf_log_level_name(enum vf_log_level level);

void vf_log(enum vf_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define vf_log_error(...) vf_log(VF_LOG_ERROR, __VA_ARGS__)
#define vf_log_warn(...) vf_log(VF_LOG_WARN, __VA_ARGS__)
#define vf_log_info(...) vf_log(VF_LOG_INFO, __VA_ARGS__)
#define vf_log_debug(...) vf_log(VF_LOG_DEBUG, __VA_ARGS__)

#endif
