// The run as JUnit test cases (`virtiosim run --junit FILE`): one case per
// rule the conformance monitor checks, passed when the rule has no finding,
// skipped when it was switched off (monitor.disable), failed otherwise
// with every kept finding as evidence (time, queue, agent, address, value
// read and expected); findings of ring errors outside the rule list go to
// one `ring.error` case; a last case, `run.verdict`, fails with the
// verdict's errors (frames lost, a stall, --strict), so the XML fails
// exactly when the run's exit code is 1.
#pragma once

#include "sim/report/collect.h"
#include "sim/report/verdict.h"
#include "support/junit.h"

namespace virtiosim::sim {

junit::TestSuite junit_cases(const RunFigures& run, const Verdict& verdict);

}  // namespace virtiosim::sim
