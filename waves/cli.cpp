#include "waves/cli.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "waves/record/gtkw.h"
#include "waves/read/ring_events.h"

namespace virtiosim::waves {

namespace {

constexpr const char* kUsage =
    "usage: virtiosim waves summarize FILE.vcd [--json]\n"
    "       virtiosim waves events FILE.vcd [--queue rx0|tx0|N] [--kind KIND]\n"
    "       virtiosim waves gtkw FILE.vcd\n"
    "       virtiosim waves kinds\n"
    "Decodes the ring events of a `virtiosim run --vcd` file: per queue, slots made available,\n"
    "seen by the device, used written, used seen by the driver, kicks, interrupts and event\n"
    "suppression area writes (`kinds` lists them). `events` prints one CSV line per event;\n"
    "`gtkw` rewrites FILE.gtkw. Exit codes: 0 ok, 1 unreadable VCD, 2 bad arguments.\n";

int usage_error(const std::string& what) {
  std::fprintf(stderr, "virtiosim waves: %s\n%s", what.c_str(), kUsage);
  return 2;
}

}  // namespace

int waves_main(int argc, char** argv) {
  if (argc < 2) return usage_error("missing command");
  // --help anywhere, as for every command: `waves summarize --help` too.
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") return std::fputs(kUsage, stdout), 0;
  }
  const std::string cmd = argv[1];
  if (cmd == "kinds") {
    for (unsigned k = 0; k < kEventKinds; ++k)
      std::printf("%-18s %-24s %s\n", name(static_cast<EventKind>(k)), signal_of(static_cast<EventKind>(k)),
                  describe(static_cast<EventKind>(k)));
    std::printf("not decoded: %s\n", kNotDecoded);
    return 0;
  }
  if (cmd != "summarize" && cmd != "events" && cmd != "gtkw") return usage_error("unknown command '" + cmd + "'");
  if (argc < 3) return usage_error(cmd + " needs FILE.vcd");
  const std::string file = argv[2];
  bool json = false;
  std::optional<long> queue;
  std::optional<EventKind> kind;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && cmd == "summarize") {
      json = true;
    } else if (a == "--queue" && cmd == "events" && i + 1 < argc) {
      const std::string q = argv[++i];
      char* end = nullptr;
      const long n = std::strtol(q.c_str(), &end, 10);
      if (!q.empty() && !*end) queue = n;
      else if ((q.rfind("rx", 0) == 0 || q.rfind("tx", 0) == 0) && q.size() > 2)
        queue = 2 * std::atol(q.c_str() + 2) + (q[0] == 't');
      else return usage_error("--queue takes rxN, txN or a virtqueue index, got '" + q + "'");
    } else if (a == "--kind" && cmd == "events" && i + 1 < argc) {
      kind = parse_event_kind(argv[++i]);
      if (!kind) return usage_error(std::string("unknown event kind '") + argv[i] + "' (virtiosim waves kinds)");
    } else {
      return usage_error("unknown option '" + a + "'");
    }
  }
  try {
    if (cmd == "summarize") {
      const Summary s = summarize(file);
      std::fputs((json ? s.to_json() + "\n" : s.to_text()).c_str(), stdout);
    } else if (cmd == "gtkw") {
      for (const std::string& p : write_gtkw(file)) std::printf("%s\n", p.c_str());
    } else {
      VcdReader reader(file);
      RingEventDecoder dec(reader);
      std::puts("time_ps,queue,name,kind,count,from,from_wrap,to,to_wrap,flags,off_wrap");
      RingEvent e;
      while (dec.next(e)) {
        if ((queue && e.queue != *queue) || (kind && e.kind != *kind)) continue;
        std::printf("%" PRIu64 ",%u,%s,%s,%u,%" PRIu64 ",%d,%" PRIu64 ",%d,%u,%u\n", e.time_ps, e.queue,
                    queue_name(e.queue).c_str(), name(e.kind), e.count, e.from, e.from_wrap, e.to, e.to_wrap,
                    e.flags, e.off_wrap);
      }
    }
  } catch (const VcdError& e) {
    std::fprintf(stderr, "virtiosim waves: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace virtiosim::waves
