#include "sim/report/verdict.h"

#include "sim/report/collect.h"

namespace virtiosim::sim {

Accounting& Accounting::operator+=(const Accounting& o) {
  sent += o.sent, completed += o.completed, taken_back += o.taken_back;
  received += o.received, received_bad += o.received_bad, dropped += o.dropped, lost_at_reset += o.lost_at_reset;
  return *this;
}

namespace {

Balance balance(uint64_t accounted, uint64_t sent) {
  return accounted < sent ? Balance::short_of : accounted == sent ? Balance::exact : Balance::beyond;
}

}  // namespace

Conservation conservation(const Accounting& a, uint64_t sent, bool loopback) {
  Conservation c;
  c.tx_buffers = balance(a.completed + a.taken_back, sent);
  if (loopback) c.frames = balance(a.received + a.received_bad + a.dropped + a.lost_at_reset, sent);
  return c;
}

Verdict judge(const RunFigures& run) {
  Verdict v;
  v.errors = run.run_errors;
  std::vector<std::string>& errors = v.errors;
  if (run.cfg.monitor.strict && run.monitor.violations > 0 && !run.monitor.first.empty())
    errors.push_back("strict: " + std::to_string(run.monitor.violations) + " conformance violations, first " +
                     run.monitor.first.front().rule + " (" + run.monitor.first.front().what + ")");
  if (run.rx_corrupt) errors.push_back(std::to_string(run.rx_corrupt) + " received frames failed verification");
  if (run.rx_duplicate) errors.push_back(std::to_string(run.rx_duplicate) + " frames received twice");
  if (run.rx_unexpected)
    errors.push_back(std::to_string(run.rx_unexpected) + " frames that were never sent on that queue");
  const Accounting& t = run.traffic;
  const Conservation c = conservation(t, t.sent, run.cfg.wire == device::Wire::loopback);
  if (errors.empty() && c.tx_buffers != Balance::exact)
    errors.push_back("TX buffers: sent " + std::to_string(t.sent) + " != completed " + std::to_string(t.completed) +
                     " + taken back at a queue reset " + std::to_string(t.taken_back));
  if (errors.empty() && c.frames != Balance::exact)
    errors.push_back("conservation: sent " + std::to_string(t.sent) + " != received " + std::to_string(t.received) +
                     " + dropped " + std::to_string(t.dropped) + " + taken back unsent at a queue reset " +
                     std::to_string(t.lost_at_reset));
  v.ok = errors.empty();
  return v;
}

}  // namespace virtiosim::sim
