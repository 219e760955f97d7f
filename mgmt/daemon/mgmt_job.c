/* mgmt_job.c - one management job on its own thread (vf_mgmt_job.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "mgmt/daemon/vf_mgmt_job.h"

/* The one job; mgmt thread only, except `work`, `arg`, `done` and
 * `done_arg`, which the job thread reads after pthread_create (its start
 * orders them). */
static struct {
    bool running;
    pthread_t th;
    void (*work)(void *arg);
    void *arg;
    void (*done)(void *done_arg);
    void *done_arg;
    char what[256];
    struct timespec started;
} job;

static void *job_main(void *unused)
{
    (void)unused;
    job.work(job.arg);
    /* Last: after this the management thread may end the job. */
    job.done(job.done_arg);
    return NULL;
}

int vf_mgmt_job_start(const char *what, void (*work)(void *arg), void *arg,
                      void (*done)(void *done_arg), void *done_arg)
{
    if (job.running)
        return -EBUSY;
    job.work = work;
    job.arg = arg;
    job.done = done;
    job.done_arg = done_arg;
    snprintf(job.what, sizeof(job.what), "%s", what);
    clock_gettime(CLOCK_MONOTONIC, &job.started);
    int rc = pthread_create(&job.th, NULL, job_main, NULL);
    if (rc)
        return -rc;
    job.running = true;
    return 0;
}

void vf_mgmt_job_end(void)
{
    if (!job.running)
        return;
    pthread_join(job.th, NULL);
    job.running = false;
}

const char *vf_mgmt_job_running(double *seconds)
{
    struct timespec now;
    if (!job.running)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (seconds)
        *seconds = (double)(now.tv_sec - job.started.tv_sec) +
                   (double)(now.tv_nsec - job.started.tv_nsec) / 1e9;
    return job.what;
}
