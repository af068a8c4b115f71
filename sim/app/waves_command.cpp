// `virtiosim waves`: ring events decoded from a run's VCD, its GTKWave
// save file and its Perfetto trace (the reading side of waves/, no
// simulation).
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "sim/app/command.h"
#include "waves/read/perfetto.h"
#include "waves/read/ring_events.h"
#include "waves/read/vcd_reader.h"
#include "waves/record/gtkw.h"

namespace virtiosim::app {

namespace {

class WavesCommand : public Command {
 public:
  explicit WavesCommand(CLI::App& parent)
      : Command(parent, "waves", "ring events decoded from a run's VCD") {
    app->require_subcommand(1);
    app->footer(
        "Decodes the ring events of a `virtiosim run --vcd` file: per queue, slots made available, seen by the\n"
        "device, used written, used seen by the driver, kicks, interrupts and event suppression area writes\n"
        "(`kinds` lists them). Reads VCD only: for FST waves, run again with --vcd (or `fst2vcd FILE.fst`).\n"
        "Exit codes: 0 ok, 1 unreadable VCD, 2 bad arguments.");
    summarize_ = app->add_subcommand("summarize", "per queue: events, counts and the longest delays");
    summarize_->add_option("FILE.vcd", file_, "a `virtiosim run --vcd` file")->required();
    summarize_->add_flag("--json", json_, "one JSON object instead of text");
    events_ = app->add_subcommand("events", "one CSV line per ring event");
    events_->add_option("FILE.vcd", file_, "a `virtiosim run --vcd` file")->required();
    events_->add_option("--queue", queue_text_, "only this queue: rxN, txN or a virtqueue index")->type_name("Q");
    events_->add_option("--kind", kind_text_, "only this kind of event (`virtiosim waves kinds`)")->type_name("KIND");
    gtkw_ = app->add_subcommand("gtkw", "rewrite FILE.gtkw, the GTKWave save file next to the VCD");
    gtkw_->add_option("FILE.vcd", file_, "a `virtiosim run --vcd` file")->required();
    perfetto_ = app->add_subcommand("perfetto", "Chrome trace-event JSON for ui.perfetto.dev / chrome://tracing");
    perfetto_->add_option("FILE.vcd", file_, "a `virtiosim run --vcd` file")->required();
    perfetto_->add_option("-o,--output", output_, "the JSON file to write")->type_name("FILE")->required();
    perfetto_->footer(
        "Tracks: `monitor` (a finding per violation step, by rule), one per queue (every ring event by kind:\n"
        "kicks, interrupts, used batches, ...; a counter of buffers in flight), one counter per memory agent\n"
        "(driver_vcpu0, vhost_worker0, ...: store-buffer depth).");
    kinds_ = app->add_subcommand("kinds", "the event kinds, the signal each is decoded from, and what it means");
    for (CLI::App* sub : {summarize_, events_, gtkw_, perfetto_, kinds_})
      sub->footer(sub->get_footer().empty() ? app->get_footer() : sub->get_footer() + "\n" + app->get_footer());
  }

  int run() override {
    if (kinds_->parsed()) {
      for (unsigned k = 0; k < waves::kEventKinds; ++k) {
        const auto kind = static_cast<waves::EventKind>(k);
        std::printf("%-18s %-24s %s\n", waves::name(kind), waves::signal_of(kind), waves::describe(kind));
      }
      std::printf("not decoded: %s\n", waves::kNotDecoded);
      return kOk;
    }
    std::optional<long> queue;
    std::optional<waves::EventKind> kind;
    if (events_->count("--queue")) {
      const std::string& q = queue_text_;
      char* end = nullptr;
      const long n = std::strtol(q.c_str(), &end, 10);
      if (!q.empty() && !*end) queue = n;
      else if ((q.rfind("rx", 0) == 0 || q.rfind("tx", 0) == 0) && q.size() > 2)
        queue = 2 * std::atol(q.c_str() + 2) + (q[0] == 't');
      else return bad_arguments("--queue takes rxN, txN or a virtqueue index, got '" + q + "'");
    }
    if (events_->count("--kind")) {
      kind = waves::parse_event_kind(kind_text_);
      if (!kind) return bad_arguments("unknown event kind '" + kind_text_ + "' (virtiosim waves kinds)");
    }
    try {
      if (summarize_->parsed()) {
        const waves::Summary s = waves::summarize(file_);
        std::fputs((json_ ? s.to_json() + "\n" : s.to_text()).c_str(), stdout);
      } else if (gtkw_->parsed()) {
        for (const std::string& p : waves::write_gtkw(file_)) std::printf("%s\n", p.c_str());
      } else if (perfetto_->parsed()) {
        std::ofstream out(output_, std::ios::trunc);
        if (!out) throw waves::VcdError("cannot write " + output_);
        const waves::PerfettoStats s = waves::write_perfetto(file_, out);
        std::printf("%s: %" PRIu64 " events (%" PRIu64 " kicks, %" PRIu64 " interrupts, %" PRIu64 " findings)\n",
                    output_.c_str(), s.events, s.kicks, s.interrupts, s.findings);
      } else {
        waves::VcdReader reader(file_);
        waves::RingEventDecoder dec(reader);
        // A queue the VCD does not trace would print nothing: name the ones it does.
        if (queue && std::none_of(dec.queues().begin(), dec.queues().end(),
                                  [&](const waves::QueueInfo& q) { return q.queue == *queue; })) {
          std::string traced;
          for (const waves::QueueInfo& q : dec.queues())
            traced += (traced.empty() ? "" : ", ") + waves::queue_name(q.queue) + " (" + std::to_string(q.queue) + ")";
          return bad_arguments("--queue " + queue_text_ + ": not in " + file_ + "; it traces " + traced);
        }
        std::puts("time_ps,queue,name,kind,count,from,from_wrap,to,to_wrap,flags,off_wrap");
        waves::RingEvent e;
        while (dec.next(e)) {
          if ((queue && e.queue != *queue) || (kind && e.kind != *kind)) continue;
          std::printf("%" PRIu64 ",%u,%s,%s,%u,%" PRIu64 ",%d,%" PRIu64 ",%d,%u,%u\n", e.time_ps, e.queue,
                      waves::queue_name(e.queue).c_str(), waves::name(e.kind), e.count, e.from, e.from_wrap, e.to,
                      e.to_wrap, e.flags, e.off_wrap);
        }
      }
    } catch (const waves::VcdError& e) {
      std::fprintf(stderr, "virtiosim waves: %s\n", e.what());
      return kFailed;
    }
    return kOk;
  }

 private:
  CLI::App *summarize_ = nullptr, *events_ = nullptr, *gtkw_ = nullptr, *perfetto_ = nullptr, *kinds_ = nullptr;
  std::string file_, queue_text_, kind_text_, output_;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> add_waves_command(CLI::App& parent) { return std::make_unique<WavesCommand>(parent); }

}  // namespace virtiosim::app
