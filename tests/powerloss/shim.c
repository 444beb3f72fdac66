/*
 * A power-loss simulator for the durability tests (tests/integration/power_loss/), loaded with
 * LD_PRELOAD into the process under test.
 *
 * A power cut loses whatever the kernel had not yet written to the disk. This library models
 * that page cache with an UNDO LOG: before a change reaches a file under $POWERLOSS_DIR, it
 * appends the bytes about to be overwritten (and the file's size before the change) to
 * $POWERLOSS_LOG with the real write(2), and only then lets the change proceed; after a
 * successful fsync/fdatasync of such a file it appends a "synced" marker for that file, which
 * makes every earlier record of that file durable. After the process has exited (or been
 * killed), the test replays the log backwards and undoes every record not covered by a marker,
 * which leaves exactly the disk a power cut right after the process's last instruction would
 * leave if nothing unsynced had reached the platter (or, with a random subset, if some had).
 *
 * Log format (little endian, one record per change, each appended with a single write):
 *   'P' pid:u64                                   a process started (its records follow)
 *   'W' path offset:u64 len:u64 old_size:u64 pre  a write of len bytes at offset; pre is the
 *                                                 pre-image of the part below old_size
 *   'T' path new_size:u64 old_size:u64 pre        the size changed (ftruncate, O_TRUNC,
 *                                                 fallocate); pre holds [new_size, old_size)
 *   'S' path                                      the file was synced
 *   'A'                                           every file was synced (sync, syncfs)
 *   'R' from to                                   a rename
 *   'U' path                                      an unlink
 *   'O' len:u64                                   the process wrote to its stdout (an ack)
 *   'X' message                                   an operation this model cannot undo
 * where path, from, to, message and pre are a u64 length followed by that many bytes.
 *
 * The model, and why:
 * - Only regular files under $POWERLOSS_DIR are tracked, except names ending in "-shm": SQLite's
 *   WAL index lives there, is never synced and is rebuilt from the WAL after a crash.
 * - Metadata operations (create, rename, unlink) are durable as soon as they return. SQLite
 *   deletes the WAL only after it has synced the database file, so a durable unlink is the harsh
 *   choice: a checkpoint that was not synced cannot fall back on the WAL.
 * - The whole process is serialised on one mutex from record to real call, so the log's order
 *   is the order in which changes reached the page cache, and a sync marker never covers a write
 *   from another thread that the sync may have missed.
 * - A record is written before its change: a SIGKILL between the two leaves a record whose undo
 *   restores bytes that never changed, which is harmless. A record cut short by a SIGKILL is the
 *   last of the log, and the reader ignores it (its change never started).
 * - $POWERLOSS_KILL_AT=N makes the process SIGKILL itself just before its N-th event (a tracked
 *   change or sync, or a write to stdout): a seeded, reproducible "random moment" for the power
 *   cut, with no timing involved.
 * - Not modelled: writes through a writable shared mmap, copy_file_range and sendfile into a
 *   tracked file (each logs an 'X' record, which fails the test rather than passing it
 *   vacuously), descriptors duplicated with fcntl(F_DUPFD) (dup, dup2 and dup3 are followed),
 *   and stdio, whose writes inside glibc do not go through these symbols. SQLite and Rust's std
 *   use none of them on the ledger.
 */

#undef _FORTIFY_SOURCE /* it turns open() into an inline wrapper we could not replace */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS 65536

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static int (*real_dup)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off64_t);
static ssize_t (*real_pwritev2)(int, const struct iovec *, int, off_t, int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_truncate)(const char *, off_t);
static int (*real_truncate64)(const char *, off64_t);
static int (*real_fallocate)(int, int, off_t, off_t);
static int (*real_fallocate64)(int, int, off64_t, off64_t);
static int (*real_posix_fallocate)(int, off_t, off_t);
static int (*real_posix_fallocate64)(int, off64_t, off64_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static void (*real_sync)(void);
static int (*real_syncfs)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static void *(*real_mmap64)(void *, size_t, int, int, int, off64_t);
static ssize_t (*real_copy_file_range)(int, off64_t *, int, off64_t *, size_t, unsigned int);
static ssize_t (*real_sendfile)(int, int, off_t *, size_t);
static ssize_t (*real_sendfile64)(int, int, off64_t *, size_t);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int active;            /* POWERLOSS_DIR and POWERLOSS_LOG are set */
static char dir[PATH_MAX];    /* the canonical POWERLOSS_DIR */
static size_t dir_len;
static int log_fd = -1;
static unsigned long long kill_at; /* 0: never */
static unsigned long long events;
static char *tracked[MAX_FDS]; /* fd -> canonical path of a tracked file, or NULL */

static void say(const char *msg) {
    /* syscall, not write(): this must work before (and never recurse into) the wrappers */
    syscall(SYS_write, 2, msg, strlen(msg));
}

static void die(const char *what, const char *detail) {
    say("powerloss shim: ");
    say(what);
    if (detail) {
        say(": ");
        say(detail);
    }
    say("\n");
    abort();
}

static void *next(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (!f)
        die("no next definition of", name);
    return f;
}

#define RESOLVE(name) real_##name = next(#name)

static void resolve(void) {
    RESOLVE(open);
    RESOLVE(open64);
    RESOLVE(openat);
    RESOLVE(openat64);
    RESOLVE(close);
    RESOLVE(dup);
    RESOLVE(dup2);
    RESOLVE(dup3);
    RESOLVE(write);
    RESOLVE(pwrite);
    RESOLVE(pwrite64);
    RESOLVE(writev);
    RESOLVE(pwritev);
    RESOLVE(pwritev64);
    RESOLVE(pwritev2);
    RESOLVE(ftruncate);
    RESOLVE(ftruncate64);
    RESOLVE(truncate);
    RESOLVE(truncate64);
    RESOLVE(fallocate);
    RESOLVE(fallocate64);
    RESOLVE(posix_fallocate);
    RESOLVE(posix_fallocate64);
    RESOLVE(fsync);
    RESOLVE(fdatasync);
    RESOLVE(sync);
    RESOLVE(syncfs);
    RESOLVE(rename);
    RESOLVE(renameat);
    RESOLVE(renameat2);
    RESOLVE(unlink);
    RESOLVE(unlinkat);
    RESOLVE(mmap);
    RESOLVE(mmap64);
    RESOLVE(copy_file_range);
    RESOLVE(sendfile);
    RESOLVE(sendfile64);
}

/* A wrapper called before the constructor (by another library's constructor) still works. */
static pthread_once_t resolved = PTHREAD_ONCE_INIT;
#define READY() pthread_once(&resolved, resolve)

/* ---- the log ---- */

struct buf {
    char *p;
    size_t len, cap;
};

static void reserve(struct buf *b, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 64;
        char *p = realloc(b->p, cap);
        if (!p)
            die("out of memory", NULL);
        b->p = p;
        b->cap = cap;
    }
}

static void put(struct buf *b, const void *data, size_t n) {
    reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u64(struct buf *b, unsigned long long v) {
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    put(b, le, 8);
}

static void put_bytes(struct buf *b, const void *data, size_t n) {
    put_u64(b, n);
    put(b, data, n);
}

static void put_str(struct buf *b, const char *s) { put_bytes(b, s, strlen(s)); }

static struct buf record(char tag) {
    struct buf b = {0};
    put(&b, &tag, 1);
    return b;
}

/* Appends a record with one write (O_APPEND), so a SIGKILL can only cut off the last one. */
static void emit(struct buf *b) {
    size_t done = 0;
    while (done < b->len) {
        ssize_t n = real_write(log_fd, b->p + done, b->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("cannot append to POWERLOSS_LOG", strerror(errno));
        done += (size_t)n;
    }
    free(b->p);
}

static void unsupported(const char *what, const char *path) {
    struct buf b = record('X');
    char msg[PATH_MAX + 128];
    snprintf(msg, sizeof msg, "%s on %s is not modelled by the power-loss shim", what, path);
    put_str(&b, msg);
    emit(&b);
}

/* ---- paths ---- */

static int under_dir(const char *path) {
    size_t n = strlen(path);
    if (n >= 4 && strcmp(path + n - 4, "-shm") == 0)
        return 0;
    return strncmp(path, dir, dir_len) == 0 && path[dir_len] == '/';
}

/* The canonical path of what fd refers to, if it is a regular file under the directory. */
static char *tracked_path_of_fd(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return NULL;
    path[n] = 0;
    if (!under_dir(path))
        return NULL;
    if (fd >= MAX_FDS)
        die("descriptor too large to track", path);
    char *copy = strdup(path);
    if (!copy)
        die("out of memory", NULL);
    return copy;
}

/* The canonical name of `path` relative to dirfd, without following a final symlink (the name
 * is what rename and unlink act on). Returns 0 when it cannot be resolved. */
static int name_of(int dirfd, const char *path, char out[PATH_MAX]) {
    char joined[PATH_MAX * 2];
    if (path[0] == '/' || dirfd == AT_FDCWD)
        snprintf(joined, sizeof joined, "%s", path);
    else
        snprintf(joined, sizeof joined, "/proc/self/fd/%d/%s", dirfd, path);
    char *slash = strrchr(joined, '/');
    const char *base = joined;
    char parent[PATH_MAX];
    if (slash) {
        *slash = 0;
        base = slash + 1;
        if (!realpath(slash == joined ? "/" : joined, parent))
            return 0;
    } else if (!realpath(".", parent)) {
        return 0;
    }
    int n = snprintf(out, PATH_MAX, "%s/%s", strcmp(parent, "/") == 0 ? "" : parent, base);
    return n > 0 && n < PATH_MAX;
}

/* ---- events and records ---- */

/* Called with the lock held, before the operation: the power goes off here if asked to. */
static void tick(void) {
    events++;
    if (kill_at && events >= kill_at)
        for (;;)
            syscall(SYS_kill, getpid(), SIGKILL);
}

static off_t size_of(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        die("fstat of a tracked file failed", strerror(errno));
    return st.st_size;
}

/* Reads [off, off+n) of fd into b; a write-only descriptor is read through /proc. */
static void put_preimage(struct buf *b, int fd, off_t off, size_t n) {
    put_u64(b, n);
    size_t at = b->len;
    reserve(b, n);
    b->len += n;
    int rfd = fd;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(rfd, b->p + at + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EBADF && rfd == fd) {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            rfd = real_open(link, O_RDONLY | O_CLOEXEC);
            if (rfd < 0)
                die("cannot read a pre-image", strerror(errno));
            continue;
        }
        if (r <= 0)
            die("cannot read a pre-image", r < 0 ? strerror(errno) : "short file");
        done += (size_t)r;
    }
    if (rfd != fd)
        real_close(rfd);
}

/* Logs the undo record of writing n bytes to fd at off (off < 0: at the file position). */
static void before_write(int fd, off_t off, size_t n) {
    tick();
    off_t size = size_of(fd);
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_APPEND))
        off = size; /* Linux appends even for pwrite on an O_APPEND descriptor */
    else if (off < 0)
        off = lseek(fd, 0, SEEK_CUR);
    if (off < 0)
        die("cannot find the offset of a write", strerror(errno));
    size_t pre = off >= size ? 0 : (size_t)(size - off) < n ? (size_t)(size - off) : n;
    struct buf b = record('W');
    put_str(&b, tracked[fd]);
    put_u64(&b, (unsigned long long)off);
    put_u64(&b, n);
    put_u64(&b, (unsigned long long)size);
    put_preimage(&b, fd, off, pre);
    emit(&b);
}

static void sync_marker(const char *path) {
    struct buf b = record('S');
    put_str(&b, path);
    emit(&b);
}

/* An O_SYNC or O_DSYNC descriptor makes each completed write durable. */
static void after_write(int fd, ssize_t result) {
    int flags = fcntl(fd, F_GETFL);
    if (result >= 0 && flags >= 0 && (flags & O_DSYNC) && tracked[fd])
        sync_marker(tracked[fd]);
}

/* Logs a size change of fd from its current size to new_size. */
static void before_resize(int fd, const char *path, off_t new_size) {
    tick();
    off_t size = size_of(fd);
    struct buf b = record('T');
    put_str(&b, path);
    put_u64(&b, (unsigned long long)new_size);
    put_u64(&b, (unsigned long long)size);
    put_preimage(&b, fd, new_size, new_size < size ? (size_t)(size - new_size) : 0);
    emit(&b);
}

static int is_tracked(int fd) { return active && fd >= 0 && fd < MAX_FDS && tracked[fd]; }

static void untrack(int fd) {
    if (fd >= 0 && fd < MAX_FDS) {
        free(tracked[fd]);
        tracked[fd] = NULL;
    }
}

/* ---- process start ---- */

static void prepare_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork(void) { pthread_mutex_unlock(&lock); }

static void child_after_fork(void) {
    pthread_mutex_unlock(&lock);
    events = 0; /* the child is another process, with its own count and its own 'P' */
    if (active) {
        struct buf b = record('P');
        put_u64(&b, (unsigned long long)getpid());
        emit(&b);
    }
}

__attribute__((constructor)) static void start(void) {
    READY();
    const char *d = getenv("POWERLOSS_DIR"), *l = getenv("POWERLOSS_LOG");
    if (!d || !l)
        return; /* not asked to simulate anything: every wrapper passes straight through */
    if (!realpath(d, dir))
        die("POWERLOSS_DIR does not exist", d);
    dir_len = strlen(dir);
    log_fd = real_open(l, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log_fd < 0)
        die("cannot open POWERLOSS_LOG", l);
    const char *k = getenv("POWERLOSS_KILL_AT");
    if (k && *k)
        kill_at = strtoull(k, NULL, 10);
    pthread_atfork(prepare_fork, after_fork, child_after_fork);
    active = 1;
    struct buf b = record('P');
    put_u64(&b, (unsigned long long)getpid());
    emit(&b);
}

/* ---- opening and closing ---- */

/* Logs the truncation an O_TRUNC open of an existing tracked file is about to do. */
static void before_open(int dirfd, const char *path, int flags) {
    if (!(flags & O_TRUNC) || (flags & O_ACCMODE) == O_RDONLY)
        return;
    char joined[PATH_MAX * 2], canon[PATH_MAX];
    if (path[0] == '/' || dirfd == AT_FDCWD)
        snprintf(joined, sizeof joined, "%s", path);
    else
        snprintf(joined, sizeof joined, "/proc/self/fd/%d/%s", dirfd, path);
    if (!realpath(joined, canon) || !under_dir(canon))
        return;
    int fd = real_open(canon, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        before_resize(fd, canon, 0);
    real_close(fd);
}

static int after_open(int fd) {
    if (fd >= 0 && fd < MAX_FDS) {
        int saved = errno;
        untrack(fd); /* the number may have been closed behind our back */
        tracked[fd] = tracked_path_of_fd(fd);
        errno = saved;
    }
    return fd;
}

/* The optional third argument of open: read only when the flags say it was passed. */
#define MODE_ARG(flags)                                                                           \
    mode_t mode = 0;                                                                              \
    if ((flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE) {                              \
        va_list ap;                                                                               \
        va_start(ap, flags);                                                                      \
        mode = va_arg(ap, mode_t);                                                                \
        va_end(ap);                                                                               \
    }

/* The body shared by the open family; `call` is the real open. */
#define OPEN_BODY(dirfd, call)                                                                    \
    READY();                                                                                      \
    if (!active)                                                                                  \
        return call;                                                                              \
    pthread_mutex_lock(&lock);                                                                    \
    int saved = errno;                                                                            \
    before_open(dirfd, path, flags);                                                              \
    errno = saved;                                                                                \
    int fd = call;                                                                                \
    after_open(fd);                                                                               \
    pthread_mutex_unlock(&lock);                                                                  \
    return fd;

int open(const char *path, int flags, ...) {
    MODE_ARG(flags)
    OPEN_BODY(AT_FDCWD, real_open(path, flags, mode))
}

int open64(const char *path, int flags, ...) {
    MODE_ARG(flags)
    OPEN_BODY(AT_FDCWD, real_open64(path, flags, mode))
}

int openat(int dirfd, const char *path, int flags, ...) {
    MODE_ARG(flags)
    OPEN_BODY(dirfd, real_openat(dirfd, path, flags, mode))
}

int openat64(int dirfd, const char *path, int flags, ...) {
    MODE_ARG(flags)
    OPEN_BODY(dirfd, real_openat64(dirfd, path, flags, mode))
}

int creat(const char *path, mode_t mode) {
    return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode) {
    return open64(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int close(int fd) {
    READY();
    if (!active)
        return real_close(fd);
    pthread_mutex_lock(&lock);
    untrack(fd);
    int r = real_close(fd);
    pthread_mutex_unlock(&lock);
    return r;
}

static int after_dup(int old, int fd) {
    if (fd >= 0 && fd < MAX_FDS) {
        untrack(fd);
        if (old >= 0 && old < MAX_FDS && tracked[old]) {
            tracked[fd] = strdup(tracked[old]);
            if (!tracked[fd])
                die("out of memory", NULL);
        }
    }
    return fd;
}

#define DUP_WRAPPER(signature, call, old)                                                         \
    int signature {                                                                               \
        READY();                                                                                  \
        if (!active)                                                                              \
            return call;                                                                          \
        pthread_mutex_lock(&lock);                                                                \
        int fd = call;                                                                            \
        after_dup(old, fd);                                                                       \
        pthread_mutex_unlock(&lock);                                                              \
        return fd;                                                                                \
    }

DUP_WRAPPER(dup(int old), real_dup(old), old)
DUP_WRAPPER(dup2(int old, int new_fd), real_dup2(old, new_fd), old)
DUP_WRAPPER(dup3(int old, int new_fd, int flags), real_dup3(old, new_fd, flags), old)

/* ---- writes ---- */

/* Counts a write to stdout as an event (the process acknowledging something) and logs it. */
static void output_event(size_t n) {
    pthread_mutex_lock(&lock);
    tick();
    struct buf b = record('O');
    put_u64(&b, n);
    emit(&b);
    pthread_mutex_unlock(&lock);
}

static size_t iov_len(const struct iovec *iov, int cnt) {
    size_t n = 0;
    for (int i = 0; i < cnt; i++)
        n += iov[i].iov_len;
    return n;
}

/* One wrapper body for every write call: offset < 0 means "at the file position". */
#define WRITE_WRAPPER(signature, call, offset, length)                                            \
    ssize_t signature {                                                                           \
        READY();                                                                                  \
        if (active && fd == 1)                                                                    \
            output_event(length);                                                                 \
        if (!active)                                                                              \
            return call;                                                                          \
        pthread_mutex_lock(&lock);                                                                \
        if (!is_tracked(fd)) {                                                                    \
            pthread_mutex_unlock(&lock);                                                          \
            return call;                                                                          \
        }                                                                                         \
        before_write(fd, offset, length);                                                         \
        ssize_t r = call;                                                                         \
        int saved = errno;                                                                        \
        after_write(fd, r);                                                                       \
        pthread_mutex_unlock(&lock);                                                              \
        errno = saved;                                                                            \
        return r;                                                                                 \
    }

WRITE_WRAPPER(write(int fd, const void *p, size_t n), real_write(fd, p, n), -1, n)
WRITE_WRAPPER(pwrite(int fd, const void *p, size_t n, off_t o), real_pwrite(fd, p, n, o), o, n)
WRITE_WRAPPER(pwrite64(int fd, const void *p, size_t n, off64_t o), real_pwrite64(fd, p, n, o), o,
              n)
WRITE_WRAPPER(writev(int fd, const struct iovec *v, int c), real_writev(fd, v, c), -1,
              iov_len(v, c))
WRITE_WRAPPER(pwritev(int fd, const struct iovec *v, int c, off_t o), real_pwritev(fd, v, c, o),
              o, iov_len(v, c))
WRITE_WRAPPER(pwritev64(int fd, const struct iovec *v, int c, off64_t o),
              real_pwritev64(fd, v, c, o), o, iov_len(v, c))
/* pwritev2 with offset -1 writes at the file position, like writev. */
WRITE_WRAPPER(pwritev2(int fd, const struct iovec *v, int c, off_t o, int fl),
              real_pwritev2(fd, v, c, o, fl), o, iov_len(v, c))

/* ---- size changes ---- */

#define FTRUNCATE_WRAPPER(name, type)                                                             \
    int name(int fd, type len) {                                                                  \
        READY();                                                                                  \
        if (!active)                                                                              \
            return real_##name(fd, len);                                                          \
        pthread_mutex_lock(&lock);                                                                \
        if (is_tracked(fd) && len >= 0)                                                           \
            before_resize(fd, tracked[fd], len);                                                  \
        int r = real_##name(fd, len);                                                             \
        pthread_mutex_unlock(&lock);                                                              \
        return r;                                                                                 \
    }

FTRUNCATE_WRAPPER(ftruncate, off_t)
FTRUNCATE_WRAPPER(ftruncate64, off64_t)

#define TRUNCATE_WRAPPER(name, type)                                                              \
    int name(const char *path, type len) {                                                        \
        READY();                                                                                  \
        if (!active)                                                                              \
            return real_##name(path, len);                                                        \
        pthread_mutex_lock(&lock);                                                                \
        char canon[PATH_MAX];                                                                     \
        int saved = errno;                                                                        \
        if (len >= 0 && realpath(path, canon) && under_dir(canon)) {                              \
            int fd = real_open(canon, O_RDONLY | O_CLOEXEC);                                      \
            if (fd >= 0) {                                                                        \
                before_resize(fd, canon, len);                                                    \
                real_close(fd);                                                                   \
            }                                                                                     \
        }                                                                                         \
        errno = saved;                                                                            \
        int r = real_##name(path, len);                                                           \
        pthread_mutex_unlock(&lock);                                                              \
        return r;                                                                                 \
    }

TRUNCATE_WRAPPER(truncate, off_t)
TRUNCATE_WRAPPER(truncate64, off64_t)

/* Allocation changes no byte, but mode 0 extends the file: a size change like ftruncate. */
static void before_allocate(int fd, int mode, off64_t off, off64_t len) {
    if (mode == FALLOC_FL_KEEP_SIZE)
        return;
    if (mode != 0) {
        unsupported("fallocate with this mode", tracked[fd]);
        return;
    }
    off_t size = size_of(fd);
    if (off + len > size)
        before_resize(fd, tracked[fd], off + len);
}

#define FALLOCATE_WRAPPER(signature, call, mode)                                                  \
    int signature {                                                                               \
        READY();                                                                                  \
        if (!active)                                                                              \
            return call;                                                                          \
        pthread_mutex_lock(&lock);                                                                \
        if (is_tracked(fd) && off >= 0 && len > 0)                                                \
            before_allocate(fd, mode, off, len);                                                  \
        int r = call;                                                                             \
        int saved = errno;                                                                        \
        pthread_mutex_unlock(&lock);                                                              \
        errno = saved;                                                                            \
        return r;                                                                                 \
    }

FALLOCATE_WRAPPER(fallocate(int fd, int mode, off_t off, off_t len),
                  real_fallocate(fd, mode, off, len), mode)
FALLOCATE_WRAPPER(fallocate64(int fd, int mode, off64_t off, off64_t len),
                  real_fallocate64(fd, mode, off, len), mode)
FALLOCATE_WRAPPER(posix_fallocate(int fd, off_t off, off_t len), real_posix_fallocate(fd, off, len),
                  0)
FALLOCATE_WRAPPER(posix_fallocate64(int fd, off64_t off, off64_t len),
                  real_posix_fallocate64(fd, off, len), 0)

/* ---- syncs ---- */

#define FSYNC_WRAPPER(name)                                                                       \
    int name(int fd) {                                                                            \
        READY();                                                                                  \
        if (!active)                                                                              \
            return real_##name(fd);                                                               \
        pthread_mutex_lock(&lock);                                                                \
        if (!is_tracked(fd)) {                                                                    \
            pthread_mutex_unlock(&lock);                                                          \
            return real_##name(fd);                                                               \
        }                                                                                         \
        tick();                                                                                   \
        int r = real_##name(fd);                                                                  \
        int saved = errno;                                                                        \
        /* only a sync that returned success makes anything durable */                            \
        if (r == 0)                                                                               \
            sync_marker(tracked[fd]);                                                             \
        pthread_mutex_unlock(&lock);                                                              \
        errno = saved;                                                                            \
        return r;                                                                                 \
    }

FSYNC_WRAPPER(fsync)
FSYNC_WRAPPER(fdatasync)

static void all_synced(void) {
    struct buf b = record('A');
    emit(&b);
}

void sync(void) {
    READY();
    if (!active) {
        real_sync();
        return;
    }
    pthread_mutex_lock(&lock);
    tick();
    real_sync();
    all_synced();
    pthread_mutex_unlock(&lock);
}

int syncfs(int fd) {
    READY();
    if (!active)
        return real_syncfs(fd);
    pthread_mutex_lock(&lock);
    tick();
    int r = real_syncfs(fd);
    int saved = errno;
    if (r == 0)
        all_synced();
    pthread_mutex_unlock(&lock);
    errno = saved;
    return r;
}

/* ---- metadata (durable when it returns) ---- */

static void renamed(const char *from, const char *to) {
    struct buf b = record('R');
    put_str(&b, from);
    put_str(&b, to);
    emit(&b);
    /* descriptors opened before the rename now write to the new name */
    for (int fd = 0; fd < MAX_FDS; fd++)
        if (tracked[fd] && strcmp(tracked[fd], from) == 0) {
            free(tracked[fd]);
            tracked[fd] = strdup(to);
        }
}

#define RENAME_WRAPPER(signature, call, olddir, oldpath, newdir, newpath)                         \
    int signature {                                                                               \
        READY();                                                                                  \
        if (!active)                                                                              \
            return call;                                                                          \
        pthread_mutex_lock(&lock);                                                                \
        char from[PATH_MAX], to[PATH_MAX];                                                        \
        int saved = errno;                                                                        \
        int watched = name_of(olddir, oldpath, from) && name_of(newdir, newpath, to) &&           \
                      (under_dir(from) || under_dir(to));                                         \
        if (watched)                                                                              \
            tick();                                                                               \
        errno = saved;                                                                            \
        int r = call;                                                                             \
        saved = errno;                                                                            \
        if (watched && r == 0)                                                                    \
            renamed(from, to);                                                                    \
        pthread_mutex_unlock(&lock);                                                              \
        errno = saved;                                                                            \
        return r;                                                                                 \
    }

RENAME_WRAPPER(rename(const char *a, const char *b), real_rename(a, b), AT_FDCWD, a, AT_FDCWD, b)
RENAME_WRAPPER(renameat(int da, const char *a, int db, const char *b), real_renameat(da, a, db, b),
               da, a, db, b)
RENAME_WRAPPER(renameat2(int da, const char *a, int db, const char *b, unsigned int f),
               real_renameat2(da, a, db, b, f), da, a, db, b)

#define UNLINK_WRAPPER(signature, call, dirfd, p)                                                 \
    int signature {                                                                               \
        READY();                                                                                  \
        if (!active)                                                                              \
            return call;                                                                          \
        pthread_mutex_lock(&lock);                                                                \
        char name[PATH_MAX];                                                                      \
        int saved = errno;                                                                        \
        int watched = name_of(dirfd, p, name) && under_dir(name);                                 \
        if (watched)                                                                              \
            tick();                                                                               \
        errno = saved;                                                                            \
        int r = call;                                                                             \
        saved = errno;                                                                            \
        if (watched && r == 0) {                                                                  \
            struct buf b = record('U');                                                           \
            put_str(&b, name);                                                                    \
            emit(&b);                                                                             \
            /* writes through a descriptor still open go to an inode with no name: moot */        \
            for (int fd = 0; fd < MAX_FDS; fd++)                                                  \
                if (tracked[fd] && strcmp(tracked[fd], name) == 0)                                \
                    untrack(fd);                                                                  \
        }                                                                                         \
        pthread_mutex_unlock(&lock);                                                              \
        errno = saved;                                                                            \
        return r;                                                                                 \
    }

UNLINK_WRAPPER(unlink(const char *p), real_unlink(p), AT_FDCWD, p)
UNLINK_WRAPPER(unlinkat(int d, const char *p, int f), real_unlinkat(d, p, f), d, p)

/* ---- what the model cannot follow: fail loudly instead of passing vacuously ---- */

static void check_mapping(int prot, int flags, int fd) {
    if (fd >= 0 && (prot & PROT_WRITE) && (flags & MAP_SHARED)) {
        pthread_mutex_lock(&lock);
        if (is_tracked(fd))
            unsupported("a writable shared mmap", tracked[fd]);
        pthread_mutex_unlock(&lock);
    }
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    /* allocators call mmap early and often: a raw syscall until the real one is known */
    if (!real_mmap)
        return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    if (active)
        check_mapping(prot, flags, fd);
    return real_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off) {
    if (!real_mmap64)
        return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    if (active)
        check_mapping(prot, flags, fd);
    return real_mmap64(addr, len, prot, flags, fd, off);
}

static void check_copy_into(int fd, const char *what) {
    pthread_mutex_lock(&lock);
    if (is_tracked(fd))
        unsupported(what, tracked[fd]);
    pthread_mutex_unlock(&lock);
}

ssize_t copy_file_range(int in, off64_t *in_off, int out, off64_t *out_off, size_t n,
                        unsigned int flags) {
    READY();
    if (active)
        check_copy_into(out, "copy_file_range");
    return real_copy_file_range(in, in_off, out, out_off, n, flags);
}

ssize_t sendfile(int out, int in, off_t *off, size_t n) {
    READY();
    if (active)
        check_copy_into(out, "sendfile");
    return real_sendfile(out, in, off, n);
}

ssize_t sendfile64(int out, int in, off64_t *off, size_t n) {
    READY();
    if (active)
        check_copy_into(out, "sendfile");
    return real_sendfile64(out, in, off, n);
}
