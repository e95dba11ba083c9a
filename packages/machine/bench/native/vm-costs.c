/* What the real kernel's page-table work costs on this machine, beside
 * demand-zero.c's fault: the best, over ROUNDS rounds, of the nanoseconds per
 * call or per page of
 *   - getpid(2), the cost of entering the kernel at all;
 *   - a read fault on fresh anonymous memory, which maps the shared zero page
 *     (no frame taken, nothing zeroed: a walk and a PTE write);
 *   - a write to those pages, which replaces the zero page with a new zeroed
 *     frame (a copy-on-write fault);
 *   - mprotect(2) of one mapped page (its PTE rewritten and its TLB entry
 *     flushed, no fault);
 *   - a write fault on fresh memory (demand-zero.c's fault).
 * On a VM whose guest page-table writes trap to the hypervisor (shadow
 * paging), the PTE-writing rows cost several times getpid; on bare metal
 * they are a few hundred nanoseconds. packages/machine/README.md quotes it.
 *
 * Build:  cc -O2 -o vm-costs vm-costs.c
 * Use:    ./vm-costs [PAGES [ROUNDS]]     (1000 and 50 by default) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static volatile char *fresh(long bytes) {
  volatile char *a = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED) { perror("mmap"); exit(1); }
  /* No transparent huge pages: one fault per 4 KiB page. */
  madvise((void *)a, bytes, MADV_NOHUGEPAGE);
  return a;
}

static void keep_best(double *best, double t, long n) {
  double per = (now_ns() - t) / n;
  if (per < *best) *best = per;
}

int main(int argc, char **argv) {
  long pages = argc > 1 ? atol(argv[1]) : 1000;
  int rounds = argc > 2 ? atoi(argv[2]) : 50;
  const long page = 4096;
  if (pages <= 0 || rounds <= 0) { fprintf(stderr, "usage: vm-costs [PAGES [ROUNDS]]\n"); return 2; }
  double getpid_ns = 1e12, read_ns = 1e12, cow_ns = 1e12, mprotect_ns = 1e12, write_ns = 1e12;
  long sum = 0;
  for (int r = 0; r < rounds; r++) {
    double t = now_ns();
    for (long i = 0; i < pages; i++) syscall(SYS_getpid);
    keep_best(&getpid_ns, t, pages);

    volatile char *a = fresh(pages * page);
    t = now_ns();
    for (long i = 0; i < pages; i++) sum += a[i * page];
    keep_best(&read_ns, t, pages);
    t = now_ns();
    for (long i = 0; i < pages; i++) a[i * page] = 1;
    keep_best(&cow_ns, t, pages);
    t = now_ns();
    for (long i = 0; i < pages; i++) mprotect((void *)(a + i * page), page, PROT_READ);
    keep_best(&mprotect_ns, t, pages);
    munmap((void *)a, pages * page);

    a = fresh(pages * page);
    t = now_ns();
    for (long i = 0; i < pages; i++) a[i * page] = 1;
    keep_best(&write_ns, t, pages);
    munmap((void *)a, pages * page);
  }
  printf("getpid %.0f ns\n", getpid_ns);
  printf("read fault (zero page) %.0f ns\n", read_ns);
  printf("write after the zero page (copy-on-write) %.0f ns\n", cow_ns);
  printf("mprotect of one page %.0f ns\n", mprotect_ns);
  printf("write fault (demand-zero) %.0f ns\n", write_ns);
  return sum == -1;
}
