/* The byte-scanner bound for `make bench`: one thread, mmap each file, for every line find the values
 * of two keys ("language" and "source") with memchr/memmem — no JSON validation, no catalog. Prints
 * bytes scanned and a checksum so the work cannot be optimised away. Usage: bytescan FILE... */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    unsigned long long bytes = 0, lines = 0, sum = 0;
    static const char k1[] = "\"language\": \"", k2[] = "\"source\": \"";
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) { perror(argv[i]); return 1; }
        struct stat st;
        fstat(fd, &st);
        size_t n = (size_t)st.st_size;
        if (n == 0) { close(fd); continue; }
        const char *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        const char *s = p, *end = p + n;
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            if (!nl) nl = end;
            const char *a = memmem(s, (size_t)(nl - s), k1, sizeof k1 - 1);
            const char *b = memmem(s, (size_t)(nl - s), k2, sizeof k2 - 1);
            if (a) sum += (unsigned char)a[sizeof k1 - 1];
            if (b) sum += (unsigned char)b[sizeof k2 - 1];
            lines++;
            s = nl + 1;
        }
        bytes += n;
        munmap((void *)p, n);
        close(fd);
    }
    printf("%llu bytes %llu lines checksum %llu\n", bytes, lines, sum);
    return 0;
}
