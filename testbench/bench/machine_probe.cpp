// machine_probe: the two figures of this machine that the simulator's
// memory and clock parameters stand for, measured, so that a live
// comparison (scripts/validate.py's live row) models the machine it ran on
// rather than the defaults' server:
//
//  - core_ghz: the clock a core really runs at, from a chain of dependent
//    register adds (one cycle each on every x86-64 and Arm core since the
//    1990s), which the TSC's nominal rate does not give under turbo;
//  - transfer_ns: the one-way core-to-core transfer of a modified cache
//    line (memory.remote_transfer_ns), from two threads on two CPUs
//    handing a counter back and forth in one line: each hand-over moves the
//    line once.
//
// Usage: machine_probe [CPU_A CPU_B]   (default 0 1)
// Prints one JSON object; exit 1 when a thread cannot be pinned, 2 on bad
// usage. Each figure is the median of 7 trials.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kTrials = 7;

bool pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Dependent adds: each needs the one before it, so they run one per cycle.
double core_ghz() {
  constexpr uint64_t kLaps = 20'000'000, kAddsPerLap = 20;
  std::vector<double> ghz;
  for (int t = 0; t < kTrials; ++t) {
    uint64_t x = 0;
    const auto start = Clock::now();
    for (uint64_t i = 0; i < kLaps; ++i) {
#if defined(__x86_64__)
      asm volatile(
          "add $1, %0\n add $1, %0\n add $1, %0\n add $1, %0\n add $1, %0\n"
          "add $1, %0\n add $1, %0\n add $1, %0\n add $1, %0\n add $1, %0\n"
          "add $1, %0\n add $1, %0\n add $1, %0\n add $1, %0\n add $1, %0\n"
          "add $1, %0\n add $1, %0\n add $1, %0\n add $1, %0\n add $1, %0\n"
          : "+r"(x));
#elif defined(__aarch64__)
      asm volatile(
          "add %0, %0, #1\n add %0, %0, #1\n add %0, %0, #1\n add %0, %0, #1\n add %0, %0, #1\n"
          "add %0, %0, #1\n add %0, %0, #1\n add %0, %0, #1\n add %0, %0, #1\n add %0, %0, #1\n"
          "add %0, %0, #1\n add %0, %0, #1\n add %0, %0, #1\n add %0, %0, #1\n add %0, %0, #1\n"
          "add %0, %0, #1\n add %0, %0, #1\n add %0, %0, #1\n add %0, %0, #1\n add %0, %0, #1\n"
          : "+r"(x));
#else
#error "machine_probe: x86-64 or AArch64"
#endif
    }
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    if (x != kLaps * kAddsPerLap) std::abort();
    ghz.push_back(static_cast<double>(x) / ns);
  }
  return median(ghz);
}

// One line, two CPUs: A waits for an even value and writes the next odd
// one, B the other way round. Every write finds the line Modified in the
// other core's cache.
struct alignas(64) Line {
  std::atomic<uint64_t> value{0};
};

double transfer_ns(int cpu_a, int cpu_b, bool& pinned) {
  constexpr uint64_t kHandovers = 200'000;
  std::vector<double> ns;
  for (int t = 0; t < kTrials; ++t) {
    Line line;
    std::atomic<bool> ok_b{true};
    std::thread b([&] {
      if (!pin(cpu_b)) ok_b = false;
      for (uint64_t v = 1; v < kHandovers; v += 2) {
        while (line.value.load(std::memory_order_acquire) != v) {
        }
        line.value.store(v + 1, std::memory_order_release);
      }
    });
    const bool ok_a = pin(cpu_a);
    // The timed part starts with B's first hand-over seen.
    line.value.store(1, std::memory_order_release);
    while (line.value.load(std::memory_order_acquire) != 2) {
    }
    const auto start = Clock::now();
    for (uint64_t v = 3; v < kHandovers; v += 2) {
      line.value.store(v, std::memory_order_release);
      while (line.value.load(std::memory_order_acquire) != v + 1) {
      }
    }
    const double elapsed = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    b.join();
    pinned = pinned && ok_a && ok_b;
    ns.push_back(elapsed / static_cast<double>(kHandovers - 2));
  }
  return median(ns);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 1 && argc != 3) {
    std::fprintf(stderr, "usage: machine_probe [CPU_A CPU_B]\n");
    return 2;
  }
  const int cpu_a = argc == 3 ? std::atoi(argv[1]) : 0;
  const int cpu_b = argc == 3 ? std::atoi(argv[2]) : 1;
  if (!pin(cpu_a)) {
    std::fprintf(stderr, "machine_probe: cannot run on CPU %d\n", cpu_a);
    return 1;
  }
  const double ghz = core_ghz();
  bool pinned = true;
  const double transfer = transfer_ns(cpu_a, cpu_b, pinned);
  if (!pinned) {
    std::fprintf(stderr, "machine_probe: cannot run on CPUs %d and %d\n", cpu_a, cpu_b);
    return 1;
  }
  std::printf("{\"core_ghz\": %.3f, \"transfer_ns\": %.1f, \"cpus\": [%d, %d]}\n", ghz, transfer, cpu_a, cpu_b);
  return 0;
}
