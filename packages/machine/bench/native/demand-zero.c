/* The real kernel's demand-zero fault, the baseline of the machine bench's
 * fault row: maps PAGES private anonymous pages, writes one byte to each
 * (one fault per page), unmaps them, ROUNDS times; prints the nanoseconds
 * per fault of each round, one per line. The frames are the kernel's own
 * recycled ones after the first round, as the bench's recycled row's are.
 *
 * Build:  cc -O2 -o demand-zero demand-zero.c
 * Use:    ./demand-zero [PAGES [ROUNDS]]     (100000 and 5 by default) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
  long pages = argc > 1 ? atol(argv[1]) : 100000;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  const long page = 4096;
  if (pages <= 0 || rounds <= 0) { fprintf(stderr, "usage: demand-zero [PAGES [ROUNDS]]\n"); return 2; }
  for (int r = 0; r < rounds; r++) {
    volatile char *a = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) { perror("mmap"); return 1; }
    /* No transparent huge pages: one fault per 4 KiB page, as in the bench. */
    madvise((void *)a, pages * page, MADV_NOHUGEPAGE);
    double t = now_ns();
    for (long i = 0; i < pages; i++) a[i * page] = 1;
    double ns = (now_ns() - t) / pages;
    munmap((void *)a, pages * page);
    printf("%.1f\n", ns);
  }
  return 0;
}
