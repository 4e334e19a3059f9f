#define _GNU_SOURCE
#include "CProcessSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

int cps_pipe(int fds[2]) {
#ifdef __linux__
    if (pipe2(fds, O_CLOEXEC) != 0) return errno;
#else
    if (pipe(fds) != 0) return errno;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
#endif
    return 0;
}

static void write_errno_and_exit(int fd, int err) {
    ssize_t ignored = write(fd, &err, sizeof err);
    (void)ignored;
    _exit(127);
}

/// Runs in the child between fork and execve: async-signal-safe calls only.
static void child_main(const cps_spawn_request *r, pid_t parent, int release_read, int error_write, int devnull) {
    setpgid(0, 0);
#ifdef __linux__
    if (r->death_signal > 0) {
        prctl(PR_SET_PDEATHSIG, r->death_signal);
        // The parent may have died before the signal was armed.
        if (getppid() != parent) _exit(127);
    }
#else
    (void)parent;
#endif
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        sigaction(sig, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(devnull, 0) < 0) write_errno_and_exit(error_write, errno);
    if (dup2(r->output_fd, 1) < 0) write_errno_and_exit(error_write, errno);
    if (dup2(r->output_fd, 2) < 0) write_errno_and_exit(error_write, errno);
    char go = 0;
    ssize_t n;
    do { n = read(release_read, &go, 1); } while (n < 0 && errno == EINTR);
    if (n != 1 || go != 1) _exit(127);
    if (r->workdir != NULL && chdir(r->workdir) != 0) write_errno_and_exit(error_write, errno);
    execve(r->path, r->argv, r->envp);
    write_errno_and_exit(error_write, errno);
}

typedef struct job {
    const cps_spawn_request *request;
    cps_child *child;
    int result;
    int done;
} job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static job *pending = NULL;
static int thread_started = 0;

static int fork_child(const cps_spawn_request *r, cps_child *child) {
    int release[2], error[2];
    // A socket pair, so that releasing a child that already died is EPIPE, never SIGPIPE.
#ifdef SOCK_CLOEXEC
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, release) != 0) return errno;
#else
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, release) != 0) return errno;
    fcntl(release[0], F_SETFD, FD_CLOEXEC);
    fcntl(release[1], F_SETFD, FD_CLOEXEC);
#endif
#ifdef SO_NOSIGPIPE
    int on = 1;
    setsockopt(release[1], SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#endif
    int err;
    err = cps_pipe(error);
    if (err) {
        close(release[0]);
        close(release[1]);
        return err;
    }
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        err = errno;
        close(release[0]); close(release[1]); close(error[0]); close(error[1]);
        return err;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) child_main(r, parent, release[0], error[1], devnull);
    err = pid < 0 ? errno : 0;
    close(devnull);
    close(release[0]);
    close(error[1]);
    if (pid < 0) {
        close(release[1]);
        close(error[0]);
        return err;
    }
    // Both sides set the group, so it exists whichever runs first.
    setpgid(pid, pid);
    child->pid = pid;
    child->release_fd = release[1];
    child->error_fd = error[0];
    return 0;
}

static void *spawner_main(void *unused) {
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (pending == NULL || pending->done) pthread_cond_wait(&changed, &lock);
        job *j = pending;
        pthread_mutex_unlock(&lock);
        int result = fork_child(j->request, j->child);
        pthread_mutex_lock(&lock);
        j->result = result;
        j->done = 1;
        pthread_cond_broadcast(&changed);
    }
    return NULL;
}

int cps_spawn(const cps_spawn_request *request, cps_child *child) {
    job j = {request, child, 0, 0};
    pthread_mutex_lock(&lock);
    if (!thread_started) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int err = pthread_create(&thread, &attributes, spawner_main, NULL);
        pthread_attr_destroy(&attributes);
        if (err) {
            pthread_mutex_unlock(&lock);
            return err;
        }
        thread_started = 1;
    }
    while (pending != NULL) pthread_cond_wait(&changed, &lock);
    pending = &j;
    pthread_cond_broadcast(&changed);
    while (!j.done) pthread_cond_wait(&changed, &lock);
    pending = NULL;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    return j.result;
}

int cps_release(cps_child *child, int go) {
    char byte = go ? 1 : 0;
    ssize_t n;
#ifdef MSG_NOSIGNAL
    do { n = send(child->release_fd, &byte, 1, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
#else
    do { n = send(child->release_fd, &byte, 1, 0); } while (n < 0 && errno == EINTR);
#endif
    close(child->release_fd);
    child->release_fd = -1;
    int err = 0;
    ssize_t got;
    do { got = read(child->error_fd, &err, sizeof err); } while (got < 0 && errno == EINTR);
    close(child->error_fd);
    child->error_fd = -1;
    if (!go) return 0;
    return got == (ssize_t)sizeof err ? err : 0;
}

int cps_set_dumpable(int dumpable) {
    return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0UL, 0UL, 0UL) == 0 ? 0 : errno;
}

int cps_get_dumpable(void) {
    return prctl(PR_GET_DUMPABLE, 0UL, 0UL, 0UL, 0UL);
}

#ifdef __linux__
#include <poll.h>
#include <sys/syscall.h>
#endif

int cps_pidfd_open(pid_t pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : fd;
#else
    (void)pid;
    return -ENOSYS;
#endif
}

int cps_pidfd_wait(int pidfd, int timeout_ms) {
#ifdef __linux__
    struct pollfd fds = {pidfd, POLLIN, 0};
    int n;
    do { n = poll(&fds, 1, timeout_ms); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    return n > 0 ? 1 : 0;
#else
    (void)pidfd;
    (void)timeout_ms;
    return -ENOSYS;
#endif
}

int cps_pidfd_signal(int pidfd, int sig) {
#if defined(__linux__) && defined(SYS_pidfd_send_signal)
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) != 0) return errno;
    return 0;
#else
    (void)pidfd;
    (void)sig;
    return ENOSYS;
#endif
}
