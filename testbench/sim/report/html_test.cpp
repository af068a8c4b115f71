// The HTML page of synthetic reports: what it shows, escaped; findings
// linked to their rule's statement; fault effects; the timeline's data.
#include <gtest/gtest.h>

#include <string>

#include "sim/report/html.h"
#include "sim/report/render.h"
#include "testbench/sim/report/synthetic_run.h"

namespace virtiosim::sim {
namespace {

using testing::synthetic_run;

json::Json report_of(const RunFigures& r) { return json::Json::parse(render_json(r, judge(r))); }

bool has(const std::string& page, const std::string& what) { return page.find(what) != std::string::npos; }

TEST(Html, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(Html, FiguresCarryTheirIds) {
  const std::string page = render_html(report_of(synthetic_run()));
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_TRUE(has(page, "id=\"packets-tx\">1000<")) << page;
  EXPECT_TRUE(has(page, "id=\"kicks-per-packet\">0.01<"));
  EXPECT_TRUE(has(page, "id=\"violations\">0<"));
  EXPECT_TRUE(has(page, "id=\"result\" class=\"ok\">ok<"));
}

TEST(Html, SelfContained) {
  std::string page = render_html(report_of(synthetic_run()));
  const std::string svg_namespace = "http://www.w3.org/2000/svg";  // a name, not fetched
  for (size_t i; (i = page.find(svg_namespace)) != std::string::npos;) page.erase(i, svg_namespace.size());
  EXPECT_FALSE(has(page, "http:"));
  EXPECT_FALSE(has(page, "https:"));
  EXPECT_FALSE(has(page, "<link"));
  EXPECT_FALSE(has(page, "src="));
}

TEST(Html, ConfigurationWithUnitsFromTheDeclarations) {
  const std::string page = render_html(report_of(synthetic_run()));
  EXPECT_TRUE(has(page, "<td><code>queue_size</code></td><td class=\"n\">256</td><td class=\"unit\">entries</td>"
                        "<td class=\"why\">descriptors per virtqueue (P1; split: power of two)</td>"))
      << page;
  EXPECT_TRUE(has(page, "<td><code>driver.offered_pps</code></td><td class=\"n\">0</td><td class=\"unit\">packets/s"));
}

TEST(Html, FeaturesByName) {
  const std::string page = render_html(report_of(synthetic_run()));  // bits 28, 29, 32
  EXPECT_TRUE(has(page, "<li><code>VIRTIO_RING_F_INDIRECT_DESC</code></li>\n<li><code>VIRTIO_RING_F_EVENT_IDX</code>"
                        "</li>\n<li><code>VIRTIO_F_VERSION_1</code></li>"))
      << page;
}

TEST(Html, FindingsLinkToTheirRuleStatement) {
  RunFigures r = synthetic_run();
  r.monitor.violations = 2;
  r.monitor.by_rule = {{"P6.2", 1}, {"P10.ignored_suppression", 1}};
  r.monitor.first.push_back(Violation{"P6.2", "flags <NEXT> & \"avail\"", 5500, 1, 0x1000, 2, 3, "tx0"});
  const std::string page = render_html(report_of(r));
  EXPECT_TRUE(has(page, "<tr class=\"finding-row\" data-rule=\"P6.2\">")) << page;
  EXPECT_TRUE(has(page, "<a class=\"rule-link\" href=\"#rule-P6.2\"><code>P6.2</code></a>"));
  EXPECT_TRUE(has(page, "<a class=\"rule-link\" href=\"#rule-P10.ignored_suppression\">"));
  EXPECT_TRUE(has(page, "<div class=\"rule fired\" id=\"rule-P6.2\"><code>P6.2</code>: a descriptor of a list not "
                        "available like its head"));
  EXPECT_TRUE(has(page, "<div class=\"rule\" id=\"rule-VU2\">"));
  EXPECT_TRUE(has(page, "flags &lt;NEXT&gt; &amp; &quot;avail&quot;"));
  EXPECT_FALSE(has(page, "<NEXT>"));
}

// Agents by the names the models give them, in the findings and the
// timeline's data; a report without names says "agent<id>".
TEST(Html, AgentsByName) {
  RunFigures r = synthetic_run();
  r.agents = {"driver_vcpu0", "vhost_worker0"};
  r.monitor.violations = 1;
  r.monitor.by_rule = {{"P6.2", 1}};
  r.monitor.first.push_back(Violation{"P6.2", "x", 5500, 1, 0x1000, 2, 3, "tx0"});
  json::Json report = report_of(r);
  EXPECT_TRUE(has(render_html(report), "<td>vhost_worker0</td>"));
  EXPECT_TRUE(has(render_html(report), "\"agents\": [\"driver_vcpu0\", \"vhost_worker0\"]"));
  report.erase("agents");
  EXPECT_TRUE(has(render_html(report), "<td>agent1</td>"));
}

TEST(Html, EveryFaultEffectListed) {
  RunFigures r = synthetic_run();
  r.faults.device_restarts = 334;
  r.faults.kicks_lost = 5;
  r.traffic.lost_at_reset = 22;
  r.monitor.spurious_interrupts = 9;
  const std::string page = render_html(report_of(r));
  EXPECT_TRUE(has(page, "<tr data-effect=\"kicks_lost\"><th>kicks_lost</th><td class=\"n\">5</td></tr>")) << page;
  EXPECT_TRUE(has(page, "<tr data-effect=\"device_restarts\"><th>device_restarts</th><td class=\"n\">334</td>"));
  EXPECT_TRUE(has(page, "<tr data-effect=\"lost_at_reset\"><th>lost_at_reset</th><td class=\"n\">22</td>"));
  EXPECT_TRUE(has(page, "<tr data-effect=\"spurious_interrupts\"><th>spurious_interrupts</th><td class=\"n\">9</td>"));
  EXPECT_FALSE(has(page, "data-effect=\"interrupts_lost\""));  // zero: not an effect
  EXPECT_TRUE(has(render_html(report_of(synthetic_run())), "id=\"fault-effects-none\""));
}

TEST(Html, QueueingNoteAtFullLoad) {
  RunFigures r = synthetic_run();
  r.device_busy_ps = 1000 * 10 * 1000;  // 10 ns a packet against a 250 ns mean
  EXPECT_TRUE(has(render_html(report_of(r)), "id=\"queueing-note\""));
  r.device_busy_ps = 1000 * 100 * 1000;
  EXPECT_FALSE(has(render_html(report_of(r)), "id=\"queueing-note\""));
}

TEST(Html, HistogramBarPerBin) {
  const std::string page = render_html(report_of(synthetic_run()));
  size_t bars = 0;
  for (size_t i = 0; (i = page.find("<rect class=\"bar\"", i)) != std::string::npos; ++i) ++bars;
  EXPECT_EQ(bars, 40u);
  EXPECT_TRUE(has(page, "data-count=\"1\"><title>100 to 110 ns: 1 packets</title>"));
}

TEST(Html, TimelineDataCannotCloseItsScript) {
  json::Json j = report_of(synthetic_run());
  j["timeline"]["events"] = {{{"time_ns", 1.5}, {"agent", 0}, {"op", "write"}, {"where", "</script><b>"}}};
  const std::string page = render_html(j);
  EXPECT_TRUE(has(page, "\"where\": \"<\\/script><b>\"")) << page;
  EXPECT_FALSE(has(page, "</script><b>"));
}

TEST(Html, NotAReportThrows) {
  EXPECT_THROW(render_html(json::Json::object()), json::Json::exception);
  json::Json j = report_of(synthetic_run());
  j["packets"].erase("tx");
  EXPECT_THROW(render_html(j), json::Json::exception);
}

}  // namespace
}  // namespace virtiosim::sim
