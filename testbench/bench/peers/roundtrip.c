// One thread driving a ring prototype through ringtest's interface
// (tools/virtio/ringtest/main.h), for instruction counts: bench-peers
// times two threads, which a loaded machine disturbs; callgrind counts
// what one buffer costs in instructions, the same on any machine
// (count-instructions.sh).
//
// Each round: add --batch buffers (add_inbuf), then the host side takes
// them (avail_empty, then use_buf until it has none, as main.c's host
// loop), then the guest side takes them back (used_empty, then get_buf
// once per buffer). Every phase must move exactly --batch buffers, or the
// program exits 1. --run-cycles buffers in all (a multiple of --batch).
//
// Linked either with a ringtest ring object (ring.o, virtio_ring_0_9.o,
// virtio_ring_inorder.o from ringtest's Makefile) or with our
// ringtest_adapter.cpp, both with LTO as in the two-thread programs.
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

// What main.c provides to a ring prototype.
unsigned ring_size = 256;
int batch = 1;

static void die(const char* what) {
  fprintf(stderr, "roundtrip: %s\n", what);
  exit(1);
}

// Notifications belong to main.c's --sleep mode, which this does not have.
void kick(void) { die("kick without --sleep"); }
void call(void) { die("call without --sleep"); }

// The ring prototype (main.h).
void alloc_ring(void);
int add_inbuf(unsigned, void*, void*);
void* get_buf(unsigned*, void**);
bool used_empty(void);
bool avail_empty(void);
bool use_buf(unsigned*, void**);

static long number(const char* s) {
  char* end;
  const long v = strtol(s, &end, 0);
  if (*end || v <= 0 || v >= INT_MAX) die("bad number");
  return v;
}

int main(int argc, char** argv) {
  static const struct option opts[] = {{"run-cycles", required_argument, NULL, 'C'},
                                       {"ring-size", required_argument, NULL, 'R'},
                                       {"batch", required_argument, NULL, 'b'},
                                       {NULL, 0, NULL, 0}};
  long cycles = 1000000;
  for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    switch (o) {
      case 'C':
        cycles = number(optarg);
        break;
      case 'R':
        ring_size = (unsigned)number(optarg);
        break;
      case 'b':
        batch = (int)number(optarg);
        break;
      default:
        die("usage: roundtrip [--run-cycles C] [--ring-size R] [--batch b]");
    }
  }
  if (ring_size & (ring_size - 1)) die("--ring-size must be a power of 2");
  if ((unsigned)batch > ring_size || cycles % batch) die("--batch must fit the ring and divide --run-cycles");
  alloc_ring();
  static char buf[] = "Buffer\n", data[] = "Hello, world!";
  unsigned len;
  void* b;
  for (long done = 0; done < cycles; done += batch) {
    for (int i = 0; i < batch; ++i)
      if (add_inbuf(0, buf, data) != 0) die("add_inbuf found the ring full");
    if (avail_empty()) die("nothing available after add_inbuf");
    int used = 0;
    while (use_buf(&len, &b)) ++used;
    if (used != batch) die("use_buf took a different number of buffers");
    if (used_empty()) die("nothing used after use_buf");
    // Exactly as many get_buf as are outstanding: ringtest's rings count
    // on main.c never asking with none outstanding (ring.c would take the
    // next slot's cleared flags for a used buffer).
    for (int i = 0; i < batch; ++i)
      if (get_buf(&len, &b) != data) die("get_buf did not give back the buffer added");
  }
  return 0;
}
