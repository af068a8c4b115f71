// The floor of the side-by-side benchmark (bench-peers.sh): DPDK's rte_ring
// in single-producer / single-consumer mode moving bare pointers between two
// pinned threads, busy-polling, bursts of --batch. No descriptors, no
// buffers, no event suppression: what a ring of pointers costs, against
// which a virtqueue's extra work can be read.
//
// It takes ringtest's options (tools/virtio/ringtest/main.c) so the script
// runs it exactly as the ringtest programs: --run-cycles pointers,
// --ring-size entries (exactly: RING_F_EXACT_SZ, so as many in flight as a
// virtqueue of that size holds), --batch burst size for both enqueue and
// dequeue, --guest-affinity for the producer, --host-affinity for the
// consumer. Like ringtest it prints nothing and exits 0 when every pointer
// arrived; the caller times the process.
//
// The pointers are the sequence numbers 1..run-cycles; the consumer checks
// each one, so a lost, duplicated or reordered entry aborts the run.
//
// rte_ring_init on our own memory needs no EAL (no hugepages, no memzone):
// the ring is a header and an array, and the SP/SC paths touch nothing
// else.
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <rte_ring.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long run_cycles = 10000000;  // ringtest's default
static unsigned ring_size = 256;    // ringtest's default
static unsigned batch = 1;
static struct rte_ring* ring;

// The largest burst: one run of the ring.
enum { kMaxBatch = 4096 };

static void die(const char* what) {
  fprintf(stderr, "rte_ring_spsc: %s\n", what);
  exit(1);
}

static void pin(const char* cpu) {
  if (!cpu) return;
  char* end;
  const long c = strtol(cpu, &end, 0);
  if (*end || c < 0 || c >= CPU_SETSIZE) die("bad CPU number");
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(c, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set)) die("pthread_setaffinity_np failed");
}

// The same busy-wait as ringtest without --relax: a compiler barrier.
#define busy_wait() __asm__ volatile("" ::: "memory")

static void* producer(void* cpu) {
  pin(cpu);
  void* burst[kMaxBatch];
  uintptr_t next = 1;
  while (next <= (uintptr_t)run_cycles) {
    unsigned n = batch;
    if ((uintptr_t)run_cycles - next + 1 < n) n = (unsigned)((uintptr_t)run_cycles - next + 1);
    for (unsigned i = 0; i < n; ++i) burst[i] = (void*)(next + i);
    const unsigned done = rte_ring_sp_enqueue_burst(ring, burst, n, NULL);
    if (done == 0) busy_wait();
    next += done;
  }
  return NULL;
}

static void* consumer(void* cpu) {
  pin(cpu);
  void* burst[kMaxBatch];
  uintptr_t expect = 1;
  while (expect <= (uintptr_t)run_cycles) {
    const unsigned n = rte_ring_sc_dequeue_burst(ring, burst, batch, NULL);
    if (n == 0) busy_wait();
    for (unsigned i = 0; i < n; ++i, ++expect)
      if (burst[i] != (void*)expect) die("a pointer arrived out of order or twice");
  }
  return NULL;
}

static unsigned long number(const char* s, unsigned long max) {
  char* end;
  errno = 0;
  const unsigned long v = strtoul(s, &end, 0);
  if (errno || *end || v == 0 || v > max) {
    fprintf(stderr, "rte_ring_spsc: bad number '%s' (1..%lu)\n", s, max);
    exit(2);
  }
  return v;
}

int main(int argc, char** argv) {
  static const struct option opts[] = {
      {"run-cycles", required_argument, NULL, 'C'},    {"ring-size", required_argument, NULL, 'R'},
      {"batch", required_argument, NULL, 'b'},         {"guest-affinity", required_argument, NULL, 'G'},
      {"host-affinity", required_argument, NULL, 'H'}, {NULL, 0, NULL, 0}};
  const char* guest_cpu = NULL;
  const char* host_cpu = NULL;
  for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    switch (o) {
      case 'C':
        run_cycles = (long)number(optarg, INT_MAX);
        break;
      case 'R':
        ring_size = (unsigned)number(optarg, RTE_RING_SZ_MASK);
        break;
      case 'b':
        batch = (unsigned)number(optarg, kMaxBatch);
        break;
      case 'G':
        guest_cpu = optarg;
        break;
      case 'H':
        host_cpu = optarg;
        break;
      default:
        fprintf(stderr,
                "usage: rte_ring_spsc [--run-cycles C] [--ring-size R] [--batch b] "
                "[--guest-affinity G] [--host-affinity H]\n");
        return 2;
    }
  }
  if (optind < argc) die("unexpected argument");

  // RING_F_EXACT_SZ: room for exactly ring_size pointers (the array is the
  // next power of two above it).
  const ssize_t bytes = rte_ring_get_memsize(rte_align32pow2(ring_size + 1));
  if (bytes < 0) die("rte_ring_get_memsize failed");
  ring = aligned_alloc(RTE_CACHE_LINE_SIZE, (size_t)bytes);
  if (!ring) die("out of memory");
  if (rte_ring_init(ring, "peers", ring_size, RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ))
    die("rte_ring_init failed");
  if (rte_ring_get_capacity(ring) != ring_size) die("ring capacity differs from --ring-size");

  // As ringtest's main: the host (consumer) thread first, then the guest.
  pthread_t host, guest;
  if (pthread_create(&host, NULL, consumer, (void*)host_cpu) ||
      pthread_create(&guest, NULL, producer, (void*)guest_cpu))
    die("pthread_create failed");
  pthread_join(guest, NULL);
  pthread_join(host, NULL);
  free(ring);
  return 0;
}
