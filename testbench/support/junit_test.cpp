#include "support/junit.h"

#include <gtest/gtest.h>
#include <pugixml.hpp>

namespace virtiosim::junit {
namespace {

TEST(JUnit, CountsOutcomesAndKeepsEvidence) {
  TestSuite s{"virtiosim", {}, ""};
  s.cases.push_back({"P2", "wrap-at-end", 0.5, Outcome::passed, "", ""});
  s.cases.push_back({"P6", "chain-too-long", 0.25, Outcome::failure, "used id 7 twice",
                     "slot=3 id=7 flags=0x8080 <&> \"quoted\""});
  s.cases.push_back({"VU4", "inflight", 0, Outcome::skipped, "INFLIGHT_SHMFD not offered", ""});
  s.cases.push_back({"VU1", "garbage", 0, Outcome::error, "connection refused", ""});
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(to_xml(s).c_str()));
  const pugi::xml_node ts = doc.child("testsuite");
  EXPECT_STREQ(ts.attribute("name").value(), "virtiosim");
  EXPECT_EQ(ts.attribute("tests").as_int(), 4);
  EXPECT_EQ(ts.attribute("failures").as_int(), 1);
  EXPECT_EQ(ts.attribute("errors").as_int(), 1);
  EXPECT_EQ(ts.attribute("skipped").as_int(), 1);
  EXPECT_STREQ(ts.attribute("time").value(), "0.750");
  const pugi::xml_node failed = ts.find_child_by_attribute("testcase", "name", "chain-too-long");
  ASSERT_TRUE(failed);
  EXPECT_STREQ(failed.attribute("classname").value(), "P6");
  EXPECT_STREQ(failed.child("failure").attribute("message").value(), "used id 7 twice");
  // Markup in the evidence survives the round trip.
  EXPECT_STREQ(failed.child("failure").text().get(), "slot=3 id=7 flags=0x8080 <&> \"quoted\"");
  EXPECT_FALSE(ts.find_child_by_attribute("testcase", "name", "wrap-at-end").first_child());
}

TEST(JUnit, UnwritablePathIsAnError) {
  std::string error;
  EXPECT_FALSE(write(TestSuite{"x", {}, ""}, "/proc/nope/x.xml", error));
  EXPECT_NE(error.find("/proc/nope/x.xml"), std::string::npos);
}

}  // namespace
}  // namespace virtiosim::junit
