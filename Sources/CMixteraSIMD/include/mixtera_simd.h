#ifndef MIXTERA_SIMD_H
#define MIXTERA_SIMD_H
#include <stddef.h>
#include <stdint.h>

/// Index of the first byte in p[0..<n] that is '"', '\\' or below 0x20 (n when there is none).
/// The JSONL scanner uses it to skip the plain parts of strings 16 bytes at a time, and JSON.writeString
/// to find the runs it copies without escaping.
size_t mixtera_find_string_special(const uint8_t *p, size_t n);



/// Raises glibc's mmap and trim thresholds so freed multi-megabyte decode buffers are reused from the
/// heap instead of being unmapped and faulted in again (no-op elsewhere).
void mixtera_tune_allocator(void);

/// Hints the CPU to load p[0..<n] into cache (one prefetch per 64-byte line; never faults).
void mixtera_prefetch(const void *p, size_t n);

/// The last byte equal to `c` in p[0..<n], or NULL (glibc's memrchr, which the Glibc module does not export).
const void *mixtera_memrchr(const void *p, int c, size_t n);

/// Starts a background thread that maps the pages of the file mapping p[0..<n] (MADV_POPULATE_READ,
/// Linux ≥ 5.14; a no-op elsewhere or when the call fails). Returns a handle for
/// mixtera_populate_join, or NULL when no thread was started. The mapping must stay mapped until joined.
void *mixtera_populate_async(const void *p, size_t n);

/// Waits for the thread of mixtera_populate_async and frees the handle (NULL is ignored).
void mixtera_populate_join(void *handle);
#endif
