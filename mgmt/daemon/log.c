/* log.c - levels to stderr or syslog (vf_log.h). */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <syslog.h>

#include "mgmt/daemon/vf_log.h"

static _Atomic int g_level = VF_LOG_INFO;
static bool g_syslog;              /* set before other threads start */
static char g_ident[32] = "vfabd";

void vf_log_open(const char *ident, bool use_syslog, enum vf_log_level level)
{
    snprintf(g_ident, sizeof(g_ident), "%s", ident ? ident : "vfabd");
    g_syslog = use_syslog;
    vf_log_set_level(level);
    if (use_syslog)
        openlog(g_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void vf_log_close(void)
{
    if (g_syslog)
        closelog();
    g_syslog = false;
}

void vf_log_set_level(enum vf_log_level level)
{
    atomic_store_explicit(&g_level, (int)level, memory_order_relaxed);
}

bool vf_log_enabled(enum vf_log_level level)
{
    return (int)level <= atomic_load_explicit(&g_level, memory_order_relaxed);
}

const char *vf_log_level_name(enum vf_log_level level)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    return (unsigned)level < 4 ? names[level] : "?";
}

void vf_log(enum vf_log_level level, const char *fmt, ...)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char msg[2048];
    va_list ap;

    if (!vf_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (g_syslog) {
        syslog(prio[(unsigned)level < 4 ? level : 3], "%s", msg);
        return;
    }
    /* One fprintf per line: stdio's lock keeps lines from interleaving. */
    if (level == VF_LOG_DEBUG)
        fprintf(stderr, "%s: debug: %s\n", g_ident, msg);
    else
        fprintf(stderr, "%s: %s\n", g_ident, msg);
}
