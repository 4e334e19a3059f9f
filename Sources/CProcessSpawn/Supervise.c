// The supervisor: runs one `exec` command for schedctl and outlives schedctl. Its entry point is
// `cps_supervise`, called by `schedctl-supervise` and by `schedctl __exec-supervisor`:
//
//   schedctl-supervise RESULT TAIL_BYTES GRACE_MS PROGRAM [ARG...]
//
// It leads the process group the command runs in, becomes the subreaper of the command's
// descendants (a `setsid` daemon the command starts is still found), collects the last
// TAIL_BYTES of the command's combined output, and waits for the command. After the command
// exits, whatever is left of its group and descendants gets SIGTERM, then SIGKILL after
// GRACE_MS; on SIGTERM/SIGINT the same happens at once. Only when nothing of it is left does it
// write RESULT (atomically: a temporary file, fsync, rename, fsync of the directory):
//
//   schedctl-result 1
//   status exit N | status signal N | status error ERRNO
//   terminated 0|1
//   <empty line>
//   <output tail>
//
// The command gets SIGKILL if this process dies (PR_SET_PDEATHSIG); this process gets no such
// signal from schedctl, so a scheduler's death never ends the command or loses its result.
// Exit status: 0 when RESULT was written, 2 on bad arguments, 3 when RESULT cannot be written.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "CProcessSpawn.h"

extern char **environ;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/// Sends `sig` to every process whose parent is this one (never a reused pid: an unreaped child
/// keeps its pid). Returns how many there were.
static int signal_children(int sig) {
    DIR *proc = opendir("/proc");
    if (proc == NULL) return 0;
    pid_t self = getpid();
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        char *end;
        long pid = strtol(entry->d_name, &end, 10);
        if (*end != '\0' || pid <= 0) continue;
        char path[64], buffer[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, buffer, sizeof buffer - 1);
        close(fd);
        if (n <= 0) continue;
        buffer[n] = '\0';
        char *close_paren = strrchr(buffer, ')');
        if (close_paren == NULL) continue;
        char state;
        int ppid;
        if (sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) continue;
        if (ppid != self || state == 'Z' || state == 'X') continue;
        kill((pid_t)pid, sig);
        count++;
    }
    closedir(proc);
    return count;
}

/// Reaps every exited child; records the command's status. Returns whether children remain.
static int reap(pid_t command, int *command_status, int *command_done) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            if (pid == command) {
                *command_status = status;
                *command_done = 1;
            }
            continue;
        }
        if (pid < 0 && errno == EINTR) continue;
        return !(pid < 0 && errno == ECHILD);
    }
}

int cps_supervise(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: schedctl-supervise RESULT TAIL_BYTES GRACE_MS PROGRAM [ARG...]\n");
        return 2;
    }
    const char *result = argv[1];
    long tail_bytes = strtol(argv[2], NULL, 10);
    long grace_ms = strtol(argv[3], NULL, 10);
    if (tail_bytes <= 0 || tail_bytes > 1 << 20 || grace_ms < 0) return 2;
    char temporary[PATH_MAX];
    if (snprintf(temporary, sizeof temporary, "%s.tmp", result) >= (int)sizeof temporary) return 2;
    // The result must be writable before anything runs: an outcome nobody can record is a repeat.
    int out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) return 3;

    prctl(PR_SET_CHILD_SUBREAPER, 1);
    // This process leads the group (schedctl made it); keep it so: SIGTERM/SIGINT sent to the
    // group reach this process only through the signalfd.
    setpgid(0, 0);
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    sigaddset(&handled, SIGPIPE);
    sigprocmask(SIG_BLOCK, &handled, NULL);
    int signals = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signals < 0) return 3;

    int output[2], failure[2];
    if (pipe2(output, O_CLOEXEC) != 0 || pipe2(failure, O_CLOEXEC) != 0) return 3;
    pid_t self = getpid();
    pid_t command = fork();
    if (command < 0) return 3;
    if (command == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != self) _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(output[1], 1);
        dup2(output[1], 2);
        execve(argv[4], argv + 4, environ);
        int err = errno;
        ssize_t ignored = write(failure[1], &err, sizeof err);
        (void)ignored;
        _exit(127);
    }
    close(output[1]);
    close(failure[1]);
    int exec_error = 0;
    ssize_t got;
    do { got = read(failure[0], &exec_error, sizeof exec_error); } while (got < 0 && errno == EINTR);
    close(failure[0]);
    if (got != (ssize_t)sizeof exec_error) exec_error = 0;

    char *tail = malloc((size_t)tail_bytes * 2);
    if (tail == NULL) return 3;
    size_t tail_length = 0;
    int output_open = 1, command_done = 0, command_status = 0, terminated = 0, children = 1;
    // 0: the command runs; 1: SIGTERM sent, SIGKILL at `kill_at`; 2: SIGKILL sent.
    int phase = 0;
    long long kill_at = 0;
    while (children || output_open) {
        if (phase == 0 && (command_done || terminated)) {
            // The command exited (or a stop was asked): end what is left of it.
            kill(-self, SIGTERM);
            signal_children(SIGTERM);
            phase = 1;
            kill_at = now_ms() + grace_ms;
        }
        if (phase == 1 && now_ms() >= kill_at) phase = 2;
        if (phase == 2) signal_children(SIGKILL);
        struct pollfd fds[2] = {{signals, POLLIN, 0}, {output_open ? output[0] : -1, POLLIN, 0}};
        int timeout = phase == 0 ? -1 : phase == 1 ? (int)(kill_at - now_ms() > 0 ? kill_at - now_ms() : 0) : 20;
        if (!children && output_open) timeout = phase == 0 ? -1 : 20;
        int ready = poll(fds, 2, timeout);
        if (ready < 0 && errno != EINTR) break;
        int stop = 0;
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo info;
            while (read(signals, &info, sizeof info) == (ssize_t)sizeof info) {
                if ((info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) && (pid_t)info.ssi_pid != self) stop = 1;
            }
        }
        // A stop that arrives after the command exited on its own does not make it "terminated":
        // its result is its own (reap first, then judge).
        if (stop) {
            children = reap(command, &command_status, &command_done);
            if (!command_done) terminated = 1;
        }
        if (output_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buffer[8192];
            ssize_t n = read(output[0], buffer, sizeof buffer);
            if (n > 0) {
                if (tail_length + (size_t)n > (size_t)tail_bytes * 2) {
                    size_t keep = tail_length > (size_t)tail_bytes ? (size_t)tail_bytes : tail_length;
                    memmove(tail, tail + tail_length - keep, keep);
                    tail_length = keep;
                }
                size_t take = (size_t)n > (size_t)tail_bytes ? (size_t)tail_bytes : (size_t)n;
                memcpy(tail + tail_length, buffer + n - take, take);
                tail_length += take;
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(output[0]);
                output_open = 0;
            }
        }
        children = reap(command, &command_status, &command_done);
        // Everything of the command is gone; a descriptor kept by something outside it (a
        // process that passed it on) must not hold the result back.
        if (!children && phase != 0 && output_open) {
            close(output[0]);
            output_open = 0;
        }
    }

    char header[128];
    int length;
    if (exec_error != 0) {
        length = snprintf(header, sizeof header, "schedctl-result 1\nstatus error %d\nterminated %d\n\n", exec_error, terminated);
    } else if (WIFSIGNALED(command_status)) {
        length = snprintf(header, sizeof header, "schedctl-result 1\nstatus signal %d\nterminated %d\n\n", WTERMSIG(command_status), terminated);
    } else {
        length = snprintf(header, sizeof header, "schedctl-result 1\nstatus exit %d\nterminated %d\n\n", WEXITSTATUS(command_status), terminated);
    }
    size_t start = tail_length > (size_t)tail_bytes ? tail_length - (size_t)tail_bytes : 0;
    if (write(out, header, (size_t)length) != length) return 3;
    size_t written = 0;
    while (written < tail_length - start) {
        ssize_t n = write(out, tail + start + written, tail_length - start - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 3;
        written += (size_t)n;
    }
    if (fsync(out) != 0 || close(out) != 0) return 3;
    if (rename(temporary, result) != 0) return 3;
    char directory[PATH_MAX];
    snprintf(directory, sizeof directory, "%s", result);
    char *slash = strrchr(directory, '/');
    if (slash != NULL) {
        if (slash == directory) slash[1] = '\0'; else *slash = '\0';
        int dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0) {
            fsync(dir);
            close(dir);
        }
    }
    return 0;
}
