/* vf_mgmt_job.h - a piece of management work on a thread of mgmt's own.
 *
 * What: validating a whole fabric's file (63,000 ports: parse, validate,
 * diff against the model in force, a copy of that model to fall back on)
 * takes seconds. Done on the management thread, it stopped `status`,
 * `stats`, metrics updates and captures for as long. Here it runs on one
 * extra thread while the management thread keeps serving; the caller's
 * done() callback brings the result back (the control socket's deferred
 * answer, mgmt/rpc/vf_ctl.h), and the management thread alone changes the
 * running daemon (open ports, compile, publish, save), as before. The job
 * knows nothing of the socket, so daemon/ does not depend on rpc/.
 *
 * One job at a time. While a job runs, the model in force must not
 * change (the job reads it): callers that would change it ask
 * vf_mgmt_job_running() first and refuse, saying what is in progress.
 *
 * Thread-safety: start, end and running on the management thread; work()
 * runs on the job's thread and may only read what the management thread
 * leaves unchanged until end(); done() runs on the job's thread too, last.
 */
#ifndef VF_MGMT_JOB_H
#define VF_MGMT_JOB_H

/* Runs work(arg) on the job thread, then done(done_arg) there, as its last
 * step (done tells the management thread, which must then call
 * vf_mgmt_job_end before the next job). what (copied) names the job in
 * busy messages. 0, -EBUSY (a job runs), or -errno when no thread could be
 * started (nothing started then). */
int vf_mgmt_job_start(const char *what, void (*work)(void *arg), void *arg,
                      void (*done)(void *done_arg), void *done_arg);
/* Waits for the job's thread to end (it has, once t is ready). */
void vf_mgmt_job_end(void);
/* The running job's name and how long it has run, or NULL when idle. */
const char *vf_mgmt_job_running(double *seconds);

#endif
