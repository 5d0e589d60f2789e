#define _GNU_SOURCE
#include <string.h>

#include "mixtera_simd.h"

const void *mixtera_memrchr(const void *p, int c, size_t n) { return memrchr(p, c, n); }

#if defined(__SSE2__)
#include <emmintrin.h>

size_t mixtera_find_string_special(const uint8_t *p, size_t n) {
    size_t i = 0;
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    /* Bytes below 0x20: unsigned min(x, 0x1F) == x. */
    const __m128i ctl = _mm_set1_epi8(0x1F);
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                 _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v));
        int mask = _mm_movemask_epi8(m);
        if (mask != 0) return i + (size_t)__builtin_ctz((unsigned)mask);
    }
    for (; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\' || c < 0x20) return i;
    }
    return n;
}

#else

size_t mixtera_find_string_special(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\' || c < 0x20) return i;
    }
    return n;
}

#endif

#if defined(__GLIBC__)
#include <malloc.h>
void mixtera_tune_allocator(void) {
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
}
#else
void mixtera_tune_allocator(void) {}
#endif

void mixtera_prefetch(const void *p, size_t n) {
    const char *c = (const char *)p;
    for (size_t i = 0; i < n; i += 64) __builtin_prefetch(c + i, 0, 3);
}

#if defined(__linux__)
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

struct mixtera_populate {
    pthread_t thread;
    void *p;
    size_t n;
};

static void *mixtera_populate_main(void *arg) {
    struct mixtera_populate *job = (struct mixtera_populate *)arg;
    (void)madvise(job->p, job->n, MADV_POPULATE_READ);
    return NULL;
}

void *mixtera_populate_async(const void *p, size_t n) {
    struct mixtera_populate *job = malloc(sizeof *job);
    if (job == NULL) return NULL;
    job->p = (void *)p;
    job->n = n;
    if (pthread_create(&job->thread, NULL, mixtera_populate_main, job) != 0) {
        free(job);
        return NULL;
    }
    return job;
}

void mixtera_populate_join(void *handle) {
    if (handle == NULL) return;
    struct mixtera_populate *job = (struct mixtera_populate *)handle;
    pthread_join(job->thread, NULL);
    free(job);
}
#else
void *mixtera_populate_async(const void *p, size_t n) {
    (void)p;
    (void)n;
    return NULL;
}
void mixtera_populate_join(void *handle) { (void)handle; }
#endif
