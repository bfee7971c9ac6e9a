// The io_uring and file calls VyreStream makes, behind plain C types: liburing's own header is
// included only by CURing.c, so Swift modules that import this one never see its kernel
// headers (whose fd_set and time types clash with Glibc's and Foundation's).
#ifndef VYRE_CURING_H
#define VYRE_CURING_H

#include <stddef.h>
#include <stdint.h>

/// An io_uring instance (liburing's `struct io_uring`), opaque.
typedef struct vyre_uring vyre_uring;

/// One completion: the submission's user data and its result (bytes, or a negative errno).
typedef struct vyre_completion {
    uint64_t user_data;
    int32_t result;
} vyre_completion;

/// Sets up a ring with room for `entries` submissions; 0 and `*out`, or a negative errno.
int vyre_uring_open(unsigned entries, vyre_uring **out);
void vyre_uring_close(vyre_uring *ring);
/// Submission entries the kernel gave the ring.
unsigned vyre_uring_entries(const vyre_uring *ring);
/// Registers `count` fixed buffers; 0 or a negative errno.
int vyre_uring_register_buffers(vyre_uring *ring, void *const *bases, const size_t *lengths, unsigned count);
/// What a queued submission does.
typedef enum vyre_io_op {
    /// `length` bytes at `offset` of `fd` into `buffer`.
    VYRE_IO_READ = 0,
    /// `length` bytes of `buffer` to `fd` at `offset`.
    VYRE_IO_WRITE = 1,
    /// `fdatasync(fd)`.
    VYRE_IO_DATASYNC = 2,
    /// Nothing (with `drain`, a barrier behind every earlier submission).
    VYRE_IO_NOP = 3,
} vyre_io_op;

/// Queues `op` (a read or write at the file's current position when `offset` is UINT64_MAX),
/// through fixed buffer `fixed_index` when it is not negative (reads and writes);
/// with `drain`, it starts only after every earlier submission has completed (IOSQE_IO_DRAIN).
/// 0, or -EBUSY when the submission queue is full.
int vyre_uring_prep(vyre_uring *ring, vyre_io_op op, int fd, void *buffer, unsigned length, uint64_t offset,
                    int fixed_index, int drain, uint64_t user_data);
/// Submits what is queued, waits for at least `wait_for` completions, and moves up to `capacity`
/// of those ready into `out`; the number moved, or a negative errno.
int vyre_uring_submit_and_reap(vyre_uring *ring, unsigned wait_for, vyre_completion *out, unsigned capacity);

/// What `vyre_file_open` learned about a file.
typedef struct vyre_file_info {
    uint64_t size;
    /// Bytes the file's blocks take on disk: less than `size` for a sparse file.
    uint64_t allocated;
    uint32_t block_size;
    /// 1 for a regular file, 2 for a directory, 0 for anything else (a FIFO, a device).
    uint32_t kind;
    /// 1 on a file system whose sizes are not the files' bytes (proc, sysfs, debugfs, tracefs,
    /// configfs, securityfs: a sysfs file says 4096 and holds a few bytes).
    uint32_t pseudo;
} vyre_file_info;

/// `vyre_file_open` flags.
enum {
    VYRE_OPEN_DIRECT = 1,
    /// Read and write, not only read.
    VYRE_OPEN_WRITE = 2,
    /// Create the file (mode 0644) when it does not exist; with VYRE_OPEN_WRITE.
    VYRE_OPEN_CREATE = 4,
};

/// Opens `path` as `flags` say (read-only when 0) and stats it; the descriptor, or a negative errno.
int vyre_file_open(const char *path, int flags, vyre_file_info *info);
/// Stats `path` (following symbolic links) without opening it, as `vyre_file_open` would: 0, or a
/// negative errno. Opening a FIFO could block; a stat does not.
int vyre_file_stat(const char *path, vyre_file_info *info);
/// Reads up to `length` bytes at `offset` (at the file's current position when `offset` is
/// UINT64_MAX, as for a pipe); the bytes read, or a negative errno.
long vyre_file_pread(int fd, void *buffer, size_t length, uint64_t offset);
/// Writes up to `length` bytes at `offset`; the bytes written, or a negative errno.
long vyre_file_pwrite(int fd, const void *buffer, size_t length, uint64_t offset);
/// `fdatasync`; 0 or a negative errno.
int vyre_file_datasync(int fd);
void vyre_file_close(int fd);
/// The first offset at or after `offset` that holds data (SEEK_DATA): `size` when only a hole
/// follows, or a negative errno.
int64_t vyre_file_next_data(int fd, uint64_t offset, uint64_t size);
/// The system's name of a (positive) errno, such as "ENOENT", and its text.
const char *vyre_errno_name(int error);
const char *vyre_errno_text(int error);

#endif
