/* capture.c - pcap files from the workers' capture taps (vf_capture_mgmt.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <urcu-qsbr.h>

#include "fabric/vf_ring.h"
#include "mgmt/daemon/vf_capture_mgmt.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_log.h"
#include "pipeline/vf_capture.h"

static bool past(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > t->tv_sec ||
           (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* What makes a capture impossible before anything is set up: 0, or
 * -errno with err filled. */
static int check_start(struct vf_daemon *d, const char *port, int fd,
                       const char *name, uint64_t count, double seconds,
                       struct vf_daemon_port **dp, char *err, size_t errlen)
{
    const struct vf_capture *cap = &d->capture;
    struct stat st;
    int acc = fcntl(fd, F_GETFL);

    if (cap->active) {
        snprintf(err, errlen, "a capture of port %s into %s is running; one "
                 "at a time (stop it with vfabctl call capture_stop)",
                 cap->port, cap->path);
        return -EBUSY;
    }
    *dp = vf_daemon_find_port(d, port);
    if (!*dp) {
        snprintf(err, errlen, "port '%s' is not a logical port of this "
                 "chassis (vfabctl list port)", port);
        return -ENOENT;
    }
    if (count == 0 && seconds <= 0) {
        snprintf(err, errlen, "a capture needs a bound: a count or seconds");
        return -EINVAL;
    }
    /* The client opened it; we only write. A pipe or device could block
     * the management thread, so only a regular file open for writing. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || acc < 0 ||
        (acc & O_ACCMODE) == O_RDONLY) {
        snprintf(err, errlen, "file '%s': the descriptor passed is not a "
                 "regular file open for writing", name);
        return -EINVAL;
    }
    return 0;
}

int vf_capture_start(struct vf_daemon *d, const char *port, int fd,
                     const char *name, uint64_t count, double seconds,
                     char *err, size_t errlen)
{
    struct vf_capture *cap = &d->capture;
    struct vf_daemon_port *dp;
    FILE *f = NULL;
    int rc = check_start(d, port, fd, name, count, seconds, &dp, err, errlen);

    if (rc) {
        close(fd);
        return rc;
    }
    memset(cap->taps, 0, sizeof(cap->taps));
    cap->pd = pcap_open_dead(DLT_EN10MB, VF_CAPTURE_SNAPLEN);
    f = fdopen(fd, "wb");
    cap->dumper = f && cap->pd ? pcap_dump_fopen(cap->pd, f) : NULL;
    if (!cap->dumper) {
        rc = -ENOMEM;
        snprintf(err, errlen, "file '%s': cannot start a pcap file", name);
        goto fail;
    }
    f = NULL;
    fd = -1;
    for (unsigned w = 0; w < d->n_workers; w++) {
        cap->taps[w] = vf_capture_tap_create((uint32_t)dp->port->index,
                                            d->workers[w].numa_node);
        if (!cap->taps[w]) {
            rc = -ENOMEM;
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    cap->n_taps = d->n_workers;
    snprintf(cap->port, sizeof(cap->port), "%s", port);
    snprintf(cap->path, sizeof(cap->path), "%s", name);
    cap->port_index = (uint32_t)dp->port->index;
    cap->count = count;
    cap->written = cap->dropped = 0;
    cap->deadline = (struct timespec){0};
    if (seconds > 0) {
        clock_gettime(CLOCK_MONOTONIC, &cap->deadline);
        cap->deadline.tv_sec += (time_t)seconds;
        cap->deadline.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
        if (cap->deadline.tv_nsec >= 1000000000L) {
            cap->deadline.tv_sec++;
            cap->deadline.tv_nsec -= 1000000000L;
        }
    }
    cap->ended[0] = '\0';
    cap->active = true;
    /* Release: a worker that sees the pointer sees the built tap. */
    for (unsigned w = 0; w < cap->n_taps; w++)
        atomic_store_explicit(&d->workers[w].capture, cap->taps[w],
                              memory_order_release);
    vf_log_info("capture of port %s into %s started (a file the client "
                "opened)", port, name);
    return 0;

fail:
    for (unsigned w = 0; w < VF_MAX_WORKERS; w++) {
        vf_capture_tap_destroy(cap->taps[w]);
        cap->taps[w] = NULL;
    }
    if (cap->dumper)
        pcap_dump_close(cap->dumper);   /* closes the file too */
    cap->dumper = NULL;
    if (f)
        fclose(f);
    else if (fd >= 0)
        close(fd);
    if (cap->pd)
        pcap_close(cap->pd);
    cap->pd = NULL;
    return rc;
}

/* Writes what the workers copied, up to the count; returns records. */
static void drain(struct vf_capture *cap)
{
    struct vf_capture_rec *recs[64];
    for (unsigned w = 0; w < cap->n_taps; w++) {
        struct vf_capture_tap *t = cap->taps[w];
        unsigned n;
        /* Bounded: at most VF_CAPTURE_RECORDS are in `full`. */
        while ((n = vf_ring_dequeue_burst(t->full, (void **)recs, 64))) {
            for (unsigned i = 0; i < n; i++) {
                if (cap->count && cap->written >= cap->count)
                    break;
                struct pcap_pkthdr h = {
                    .ts = {(time_t)(recs[i]->ts_ns / 1000000000ull),
                           (suseconds_t)(recs[i]->ts_ns % 1000000000ull / 1000)},
                    .caplen = recs[i]->caplen,
                    .len = recs[i]->len,
                };
                pcap_dump((u_char *)cap->dumper, &h, recs[i]->data);
                cap->written++;
            }
            vf_ring_enqueue_burst(t->free, (void *const *)recs, n);
        }
    }
}

static void finish(struct vf_daemon *d, const char *why)
{
    struct vf_capture *cap = &d->capture;

    for (unsigned w = 0; w < cap->n_taps; w++)
        atomic_store_explicit(&d->workers[w].capture, NULL,
                              memory_order_release);
    /* Wake sleepers so the grace period is a wake-up, not a sleep. */
    for (unsigned w = 0; w < d->n_workers; w++)
        vf_worker_kick(&d->workers[w]);
    synchronize_rcu();   /* no worker holds a tap any more */
    drain(cap);
    cap->dropped = 0;
    for (unsigned w = 0; w < cap->n_taps; w++) {
        cap->dropped += atomic_load_explicit(&cap->taps[w]->dropped,
                                            memory_order_relaxed);
        vf_capture_tap_destroy(cap->taps[w]);
        cap->taps[w] = NULL;
    }
    cap->n_taps = 0;
    pcap_dump_close(cap->dumper);
    cap->dumper = NULL;
    pcap_close(cap->pd);
    cap->pd = NULL;
    cap->active = false;
    snprintf(cap->ended, sizeof(cap->ended), "%s", why);
    vf_log_info("capture of port %s into %s ended (%s): %llu frames written, "
                "%llu not copied (capture buffers full)", cap->port, cap->path,
                why, (unsigned long long)cap->written,
                (unsigned long long)cap->dropped);
}

void vf_capture_poll(struct vf_daemon *d)
{
    struct vf_capture *cap = &d->capture;

    if (!cap->active)
        return;
    drain(cap);
    pcap_dump_flush(cap->dumper);
    struct vf_daemon_port *dp = vf_daemon_find_port(d, cap->port);
    if (!dp || (uint32_t)dp->port->index != cap->port_index)
        finish(d, "the port left this chassis");
    else if (cap->count && cap->written >= cap->count)
        finish(d, "count reached");
    else if (cap->deadline.tv_sec && past(&cap->deadline))
        finish(d, "time is up");
}

void vf_capture_stop(struct vf_daemon *d)
{
    if (d->capture.active)
        finish(d, "stopped");
}

json_t *vf_capture_status(const struct vf_daemon *d)
{
    const struct vf_capture *cap = &d->capture;

    uint64_t dropped = cap->dropped;
    for (unsigned w = 0; cap->active && w < cap->n_taps; w++)
        dropped += atomic_load_explicit(&cap->taps[w]->dropped,
                                        memory_order_relaxed);
    return json_pack("{s:b, s:s, s:s, s:I, s:I, s:s}", "active", cap->active,
                     "port", cap->port, "file", cap->path,
                     "written", (json_int_t)cap->written,
                     "dropped", (json_int_t)dropped, "ended", cap->ended);
}
