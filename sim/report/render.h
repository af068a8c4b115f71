// Stage 3 of the report: the JSON report and the summary for people, from
// a run's figures and verdict. The JSON holds the full configuration and
// seed, versions, what moved (packets, bytes, rates), what it cost (kicks,
// interrupts, memory accesses, cache-line transfers, barriers per packet),
// latency, errors, and wall-clock figures kept apart under "wall" so the
// rest is identical for identical runs.
#pragma once

#include <string>

#include "sim/platform.h"
#include "sim/report/collect.h"
#include "sim/report/junit_cases.h"
#include "sim/report/verdict.h"

namespace virtiosim::sim {

std::string render_json(const RunFigures& run, const Verdict& verdict);     // ends with a newline
std::string render_summary(const RunFigures& run, const Verdict& verdict);  // a few lines

// Verdict, report, summary and JUnit cases of a collected run.
RunOutcome report(const RunFigures& run);

}  // namespace virtiosim::sim
