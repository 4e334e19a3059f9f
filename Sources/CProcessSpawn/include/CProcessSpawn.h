#ifndef CPROCESSSPAWN_H
#define CPROCESSSPAWN_H

#include <sys/types.h>

/// What `cps_spawn` needs to start a child; every buffer is prepared before the fork.
typedef struct cps_spawn_request {
    /// The program to execute (an absolute or relative path, already searched on PATH).
    const char *path;
    /// NULL-terminated argument vector.
    char *const *argv;
    /// NULL-terminated environment (`KEY=value`).
    char *const *envp;
    /// Directory to change to before executing, or NULL.
    const char *workdir;
    /// Descriptor that becomes the child's stdout and stderr.
    int output_fd;
    /// Signal the child receives when the spawning thread's process dies (Linux), 0 for none.
    int death_signal;
} cps_spawn_request;

/// A started (but not yet executing) child: it waits in its own process group until
/// `cps_release` lets it execute, so its identity can be recorded first.
typedef struct cps_child {
    /// The child's pid, which is also its process group id.
    pid_t pid;
    /// Write end of the release pipe (close-on-exec in the parent).
    int release_fd;
    /// Read end of the error pipe: EOF once the program executes, else the child's errno.
    int error_fd;
} cps_child;

/// Forks a child on a long-lived thread of its own (the parent-death signal fires when the
/// forking thread ends, so it must never end). The child joins a new process group, arms the
/// parent-death signal, resets signals, wires stdin to /dev/null and stdout/stderr to
/// `output_fd`, and waits for `cps_release`. Returns 0, or an errno value.
int cps_spawn(const cps_spawn_request *request, cps_child *child);

/// Lets the child execute (`go` non-zero) or makes it exit without executing (`go` zero).
/// Returns 0 when the program is executing, or the errno of the failed chdir/execve.
int cps_release(cps_child *child, int go);

/// Creates a pipe whose both ends are close-on-exec. Returns 0 or an errno value.
int cps_pipe(int fds[2]);

/// Marks this process dumpable (1) or not (0) with `prctl(PR_SET_DUMPABLE)`: a non-dumpable
/// process's memory and `/proc/<pid>/environ` are closed to other processes of the same user.
/// Returns 0 or an errno value.
int cps_set_dumpable(int dumpable);

/// This process's `PR_GET_DUMPABLE` value (0 or 1), or -1.
int cps_get_dumpable(void);

/// A descriptor that refers to process `pid` (Linux `pidfd_open`): signalling through it never
/// reaches a later process that reused the pid. Returns the descriptor, or a negative errno.
int cps_pidfd_open(pid_t pid);

/// Waits up to `timeout_ms` (-1: no limit) for the process of `pidfd` to exit. Returns 1 when it
/// exited, 0 on timeout, or a negative errno.
int cps_pidfd_wait(int pidfd, int timeout_ms);

/// Sends `sig` to the process of `pidfd`. Returns 0 or an errno value.
int cps_pidfd_signal(int pidfd, int sig);

/// Runs as the supervisor of one `exec` command (`argv`: NAME RESULT TAIL_BYTES GRACE_MS PROGRAM
/// [ARG...]; see Supervise.c) and returns its exit status. Called first thing by
/// `schedctl-supervise` and by `schedctl __exec-supervisor`, never inside a running scheduler.
int cps_supervise(int argc, char **argv);

#endif
