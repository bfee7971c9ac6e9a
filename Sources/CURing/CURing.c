#define _GNU_SOURCE
#include "CURing.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/uio.h>
#include <unistd.h>

struct vyre_uring {
    struct io_uring ring;
};

int vyre_uring_open(unsigned entries, vyre_uring **out) {
    vyre_uring *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    int result = io_uring_queue_init(entries, &r->ring, 0);
    if (result < 0) {
        free(r);
        return result;
    }
    *out = r;
    return 0;
}

void vyre_uring_close(vyre_uring *ring) {
    io_uring_queue_exit(&ring->ring);
    free(ring);
}

unsigned vyre_uring_entries(const vyre_uring *ring) { return ring->ring.sq.ring_entries; }

int vyre_uring_register_buffers(vyre_uring *ring, void *const *bases, const size_t *lengths, unsigned count) {
    struct iovec *vecs = calloc(count ? count : 1, sizeof *vecs);
    if (!vecs) return -ENOMEM;
    for (unsigned i = 0; i < count; i++) {
        vecs[i].iov_base = bases[i];
        vecs[i].iov_len = lengths[i];
    }
    int result = io_uring_register_buffers(&ring->ring, vecs, count);
    free(vecs);
    return result;
}

int vyre_uring_prep(vyre_uring *ring, vyre_io_op op, int fd, void *buffer, unsigned length, uint64_t offset,
                    int fixed_index, int drain, uint64_t user_data) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->ring);
    if (!sqe) return -EBUSY;
    switch (op) {
    case VYRE_IO_READ:
        if (fixed_index >= 0)
            io_uring_prep_read_fixed(sqe, fd, buffer, length, offset, fixed_index);
        else
            io_uring_prep_read(sqe, fd, buffer, length, offset);
        break;
    case VYRE_IO_WRITE:
        if (fixed_index >= 0)
            io_uring_prep_write_fixed(sqe, fd, buffer, length, offset, fixed_index);
        else
            io_uring_prep_write(sqe, fd, buffer, length, offset);
        break;
    case VYRE_IO_DATASYNC:
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        break;
    case VYRE_IO_NOP:
        io_uring_prep_nop(sqe);
        break;
    }
    if (drain) io_uring_sqe_set_flags(sqe, IOSQE_IO_DRAIN);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int vyre_uring_submit_and_reap(vyre_uring *ring, unsigned wait_for, vyre_completion *out, unsigned capacity) {
    int submitted;
    do {
        submitted = io_uring_submit_and_wait(&ring->ring, wait_for);
    } while (submitted == -EINTR);
    if (submitted < 0) return submitted;
    struct io_uring_cqe *cqes[64];
    unsigned moved = 0;
    while (moved < capacity) {
        unsigned want = capacity - moved < 64 ? capacity - moved : 64;
        unsigned got = io_uring_peek_batch_cqe(&ring->ring, cqes, want);
        if (got == 0) break;
        for (unsigned i = 0; i < got; i++) {
            out[moved + i].user_data = io_uring_cqe_get_data64(cqes[i]);
            out[moved + i].result = cqes[i]->res;
        }
        io_uring_cq_advance(&ring->ring, got);
        moved += got;
    }
    return (int)moved;
}

/// Fills `info` from a file's stat and its file system's statfs.
static void describe_file(const struct stat *st, const struct statfs *fs, vyre_file_info *info) {
    info->size = (uint64_t)st->st_size;
    info->allocated = (uint64_t)st->st_blocks * 512;
    info->block_size = (uint32_t)st->st_blksize;
    info->kind = S_ISREG(st->st_mode) ? 1 : S_ISDIR(st->st_mode) ? 2 : 0;
    info->pseudo = 0;
    if (fs == NULL) return;
    switch ((unsigned long)fs->f_type) {
    case 0x9fa0:     /* proc */
    case 0x62656572: /* sysfs */
    case 0x64626720: /* debugfs */
    case 0x74726163: /* tracefs */
    case 0x62656570: /* configfs */
    case 0x73636673: /* securityfs */
        info->pseudo = 1;
        break;
    }
}

int vyre_file_open(const char *path, int flags, vyre_file_info *info) {
    int mode = (flags & VYRE_OPEN_WRITE) ? O_RDWR | ((flags & VYRE_OPEN_CREATE) ? O_CREAT : 0) : O_RDONLY;
    int fd;
    do {
        fd = open(path, mode | O_CLOEXEC | ((flags & VYRE_OPEN_DIRECT) ? O_DIRECT : 0), 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct statfs fs;
    describe_file(&st, fstatfs(fd, &fs) == 0 ? &fs : NULL, info);
    return fd;
}

int vyre_file_stat(const char *path, vyre_file_info *info) {
    struct stat st;
    if (stat(path, &st) != 0) return -errno;
    struct statfs fs;
    describe_file(&st, statfs(path, &fs) == 0 ? &fs : NULL, info);
    return 0;
}

long vyre_file_pread(int fd, void *buffer, size_t length, uint64_t offset) {
    ssize_t got;
    do {
        got = offset == UINT64_MAX ? read(fd, buffer, length) : pread(fd, buffer, length, (off_t)offset);
    } while (got < 0 && errno == EINTR);
    return got < 0 ? -errno : (long)got;
}

long vyre_file_pwrite(int fd, const void *buffer, size_t length, uint64_t offset) {
    ssize_t put;
    do {
        put = pwrite(fd, buffer, length, (off_t)offset);
    } while (put < 0 && errno == EINTR);
    return put < 0 ? -errno : (long)put;
}

int vyre_file_datasync(int fd) {
    int result;
    do {
        result = fdatasync(fd);
    } while (result < 0 && errno == EINTR);
    return result < 0 ? -errno : 0;
}

void vyre_file_close(int fd) { close(fd); }

int64_t vyre_file_next_data(int fd, uint64_t offset, uint64_t size) {
    off_t at = lseek(fd, (off_t)offset, SEEK_DATA);
    if (at < 0) return errno == ENXIO ? (int64_t)size : -errno;
    return (int64_t)at;
}

const char *vyre_errno_name(int error) {
    const char *name = strerrorname_np(error);
    return name ? name : "E?";
}

const char *vyre_errno_text(int error) { return strerror(error); }
