// Native throughput of the ring core over NativeMemory.
//
//   TwoThread/<ring>/<num>/<batch>  a driver thread (the benchmark thread,
//       pinned to core 0) and a device thread (pinned to core 1) busy-poll
//       one ring; one-descriptor buffers the device does not touch, as Linux
//       tools/virtio/ringtest does. batch = buffers added before each
//       kick_prepare(), and completions pushed before each flush() (the
//       device flushes early when the ring runs dry). Notifications are
//       disabled on both sides (busy-poll), but kick_prepare() and
//       should_signal() still run, barrier and event-area read included.
//       Reported as items_per_second (buffers per second).
//   RoundTrip/<ring>/<num>  one thread: add -> pop -> push_used -> flush ->
//       get_used per buffer, in ns per buffer.
//
// After the runs a table gives the packed/split throughput ratio for each
// configuration, measured in this process. Both rings negotiate EVENT_IDX.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "models/ring/chain.h"
#include "models/ring/errors.h"
#include "models/ring/features.h"
#include "models/ring/layout.h"
#include "models/ring/native_memory.h"
#include "models/ring/packed_device.h"
#include "models/ring/packed_driver.h"
#include "models/ring/split_device.h"
#include "models/ring/split_driver.h"
#include "testbench/ring/guest_memory.h"
#include "testbench/ring/ring_types.h"

namespace {

using namespace virtiosim::ring;
using virtiosim::testing::GuestMemory;

using virtiosim::testing::PackedRing;
using virtiosim::testing::SplitRing;

constexpr Features kFeatures{feature_bit(VIRTIO_RING_F_EVENT_IDX) | feature_bit(VIRTIO_F_VERSION_1)};

// One ring, and a data area the descriptors point into.
template <class Ring>
struct Rig {
  explicit Rig(uint32_t num)
      : gm(Ring::Layout::contiguous_bytes(num) + 2 * 4096 + 4096),
        layout(Ring::Layout::place(gm.alloc(Ring::Layout::contiguous_bytes(num), 4096), num)),
        data(gm.alloc(4096, 4096)),
        drv(gm.native(), layout, kFeatures),
        dev(gm.native(), layout, kFeatures) {}

  GuestMemory gm;
  typename Ring::Layout layout;
  uint64_t data;
  typename Ring::Driver drv;
  typename Ring::Device dev;
};

// ------------------------------------------------------------- CPU pinning

bool pin_to(pthread_t t, unsigned cpu) {
  if (std::thread::hardware_concurrency() < 2) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(t, sizeof set, &set) == 0;
}

// Restores the calling thread's CPU affinity when it goes out of scope.
class AffinityGuard {
 public:
  AffinityGuard() { saved_ = pthread_getaffinity_np(pthread_self(), sizeof set_, &set_) == 0; }
  ~AffinityGuard() {
    if (saved_) pthread_setaffinity_np(pthread_self(), sizeof set_, &set_);
  }
  AffinityGuard(const AffinityGuard&) = delete;
  AffinityGuard& operator=(const AffinityGuard&) = delete;

 private:
  cpu_set_t set_{};
  bool saved_ = false;
};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// --------------------------------------------------------------- two threads

template <class Ring>
void two_thread(benchmark::State& state, uint32_t num, uint32_t batch) {
  Rig<Ring> rig(num);
  // Each flag on a line of its own: the device thread polls `stop` on every
  // loop, and a driver-thread local next to it (token, u) would bounce it.
  alignas(64) std::atomic<bool> stop{false};
  alignas(64) std::atomic<bool> device_failed{false};
  AffinityGuard restore;
  const bool driver_pinned = pin_to(pthread_self(), 0);

  std::thread device([&] {
    auto& dev = rig.dev;
    Chain chain;
    dev.disable_notifications();
    while (!stop.load(std::memory_order_relaxed)) {
      uint32_t n = 0;
      while (n < batch) {
        auto r = dev.pop(chain);
        if (!r.ok() || (r.value && dev.push_used(chain.used(0)) != RingError::ok)) {
          device_failed.store(true);
          return;
        }
        if (!r.value) break;
        ++n;
      }
      if (n == 0) {
        cpu_relax();
        continue;
      }
      if (dev.flush() != RingError::ok) {
        device_failed.store(true);
        return;
      }
      benchmark::DoNotOptimize(dev.should_signal());
    }
  });
  const bool device_pinned = pin_to(device.native_handle(), 1);

  auto& drv = rig.drv;
  drv.disable_cb();
  const Segment seg{rig.data, 64};
  uint64_t token = 0, completed = 0;
  UsedBuffer u;
  auto reap = [&] {
    for (;;) {
      auto r = drv.get_used(u);
      if (!r.ok()) return false;
      if (!r.value) return true;
      ++completed;
    }
  };
  bool ok = true;
  for (auto _ : state) {
    for (uint32_t added = 0; added < batch && ok;) {
      const RingError e = drv.add(std::span(&seg, 1), {}, token);
      if (e == RingError::ok) {
        ++token, ++added;
      } else if (e == RingError::no_space) {
        ok = reap() && !device_failed.load(std::memory_order_relaxed);
        cpu_relax();
      } else {
        ok = false;
      }
    }
    benchmark::DoNotOptimize(drv.kick_prepare());
    ok = ok && reap();
    if (!ok) break;
  }
  stop.store(true);
  device.join();
  if (!ok || device_failed.load() || drv.broken() || rig.dev.broken()) {
    state.SkipWithError("ring error during the run");
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch);
  state.counters["kicks_per_buf"] = benchmark::Counter(
      static_cast<double>(drv.stats().kicks + drv.stats().kicks_suppressed) / static_cast<double>(token));
  state.SetLabel(driver_pinned && device_pinned ? "pinned 0,1" : "unpinned");
}

// ---------------------------------------------------------- one-thread round trip

template <class Ring>
void round_trip(benchmark::State& state, uint32_t num) {
  Rig<Ring> rig(num);
  auto& drv = rig.drv;
  auto& dev = rig.dev;
  const Segment seg{rig.data, 64};
  Chain chain;
  UsedBuffer u;
  uint64_t token = 0;
  for (auto _ : state) {
    const RingError a = drv.add(std::span(&seg, 1), {}, token++);
    const auto p = dev.pop(chain);
    const RingError pu = dev.push_used(chain.used(0));
    const RingError f = dev.flush();
    const auto g = drv.get_used(u);
    if (a != RingError::ok || !p.ok() || !p.value || pu != RingError::ok || f != RingError::ok || !g.ok() ||
        !g.value) {
      state.SkipWithError("ring error during the run");
      return;
    }
    benchmark::DoNotOptimize(u);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// ------------------------------------------------------------- registration

constexpr uint32_t kSizes[] = {256, 1024};
constexpr uint32_t kBatches[] = {1, 4, 32};
constexpr uint32_t kRoundTripSize = 256;

struct Key {
  std::string test;  // "TwoThread" or "RoundTrip"
  uint32_t num;
  uint32_t batch;                       // 0 for RoundTrip
  bool operator<(const Key& o) const {  // TwoThread rows first
    return std::make_tuple(test != "TwoThread", num, batch) <
           std::make_tuple(o.test != "TwoThread", o.num, o.batch);
  }
};
// benchmark name -> (configuration, ring name)
std::map<std::string, std::pair<Key, std::string>> g_registered;

template <class Ring>
void register_two_thread(uint32_t num, uint32_t batch) {
  const std::string name =
      std::string("TwoThread/") + Ring::kName + "/" + std::to_string(num) + "/" + std::to_string(batch);
  benchmark::RegisterBenchmark(name.c_str(), two_thread<Ring>, num, batch)->UseRealTime();
  g_registered[name] = {{"TwoThread", num, batch}, Ring::kName};
}

template <class Ring>
void register_round_trip(uint32_t num) {
  const std::string name = std::string("RoundTrip/") + Ring::kName + "/" + std::to_string(num);
  benchmark::RegisterBenchmark(name.c_str(), round_trip<Ring>, num)->Unit(benchmark::kNanosecond);
  g_registered[name] = {{"RoundTrip", num, 0}, Ring::kName};
}

// Each configuration for every ring type back to back, so that a ratio
// compares runs that were close in time on a noisy machine.
template <class... Rings>
void register_all() {
  for (uint32_t num : kSizes)
    for (uint32_t batch : kBatches) (register_two_thread<Rings>(num, batch), ...);
  (register_round_trip<Rings>(kRoundTripSize), ...);
}

// ------------------------------------------------- collecting the results

// The console output as usual, plus every iteration run kept for the table.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  explicit CollectingReporter(OutputOptions opts) : ConsoleReporter(opts) {}

  struct Sample {
    double items_per_second = 0;
    int runs = 0;
  };

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      auto it = r.counters.find("items_per_second");
      if (it == r.counters.end()) continue;
      Sample& s = samples_[r.run_name.function_name];  // as registered
      s.items_per_second += it->second.value;          // summed, averaged on read
      ++s.runs;
    }
  }

  std::optional<double> items_per_second(const std::string& name) const {
    auto it = samples_.find(name);
    if (it == samples_.end() || it->second.runs == 0) return std::nullopt;
    return it->second.items_per_second / it->second.runs;
  }

 private:
  std::map<std::string, Sample> samples_;
};

void print_ratios(const CollectingReporter& rep) {
  // configuration -> ring -> buffers per second
  std::map<Key, std::map<std::string, double>> table;
  for (const auto& [name, what] : g_registered)
    if (auto v = rep.items_per_second(name)) table[what.first][what.second] = *v;
  if (table.empty()) return;

  std::printf("\npacked/split, same process (mean over repetitions; >1: packed faster)\n");
  std::printf("%-10s %6s %6s %14s %14s %13s\n", "test", "num", "batch", "packed", "split", "packed/split");
  for (const auto& [key, rings] : table) {
    const auto p = rings.find("packed"), s = rings.find("split");
    const bool rt = key.test == "RoundTrip";
    auto cell = [rt](double v) {
      char buf[32];
      if (rt)
        std::snprintf(buf, sizeof buf, "%.2f ns/buf", 1e9 / v);
      else
        std::snprintf(buf, sizeof buf, "%.2f M/s", v / 1e6);
      return std::string(buf);
    };
    const std::string batch = rt ? "-" : std::to_string(key.batch);
    const std::string ps = p != rings.end() ? cell(p->second) : "n/a";
    const std::string ss = s != rings.end() ? cell(s->second) : "n/a";
    char ratio[32] = "n/a";
    if (p != rings.end() && s != rings.end() && s->second > 0)
      std::snprintf(ratio, sizeof ratio, "%.2f", p->second / s->second);
    std::printf("%-10s %6u %6s %14s %14s %13s\n", key.test.c_str(), key.num, batch.c_str(), ps.c_str(),
                ss.c_str(), ratio);
  }
  std::fflush(stdout);
}

}  // namespace

// The library picks console colours from --benchmark_color only for the
// reporter it creates itself; do the same for ours (auto: colour on a tty).
benchmark::ConsoleReporter::OutputOptions console_options(int argc, char** argv) {
  bool color = isatty(STDOUT_FILENO) != 0;
  const std::string flag = "--benchmark_color=";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind(flag, 0) != 0) continue;
    const std::string v = a.substr(flag.size());
    if (v == "true" || v == "yes" || v == "1")
      color = true;
    else if (v == "false" || v == "no" || v == "0")
      color = false;
  }
  return color ? benchmark::ConsoleReporter::OO_Defaults : benchmark::ConsoleReporter::OO_Tabular;
}

int main(int argc, char** argv) {
  register_all<PackedRing, SplitRing>();
  const auto options = console_options(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  CollectingReporter reporter(options);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  print_ratios(reporter);
  return 0;
}
