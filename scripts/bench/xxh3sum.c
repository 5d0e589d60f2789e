/* The fingerprint part of a scan, alone, for `make bench`: XXH3-64 (libxxhash, seed 0) of each whole file,
 * read through mmap like the scanners do. Prints one hex digest per file so the work cannot be optimised
 * away. Usage: xxh3sum FILE... */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) { perror(argv[i]); return 1; }
        struct stat st;
        if (fstat(fd, &st) != 0) { perror(argv[i]); return 1; }
        XXH64_hash_t h = XXH3_64bits(NULL, 0);
        if (st.st_size > 0) {
            void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) { perror(argv[i]); return 1; }
            h = XXH3_64bits(p, (size_t)st.st_size);
            munmap(p, (size_t)st.st_size);
        }
        close(fd);
        printf("%016llx  %s\n", (unsigned long long)h, argv[i]);
    }
    return 0;
}
