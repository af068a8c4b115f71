#include "support/junit.h"

#include <pugixml.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace virtiosim::junit {

namespace {

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

const char* element(Outcome o) {
  switch (o) {
    case Outcome::failure: return "failure";
    case Outcome::error: return "error";
    case Outcome::skipped: return "skipped";
    case Outcome::passed: break;
  }
  return nullptr;
}

}  // namespace

std::string to_xml(const TestSuite& suite) {
  size_t failures = 0, errors = 0, skipped = 0;
  double total = 0;
  for (const TestCase& c : suite.cases) {
    failures += c.outcome == Outcome::failure;
    errors += c.outcome == Outcome::error;
    skipped += c.outcome == Outcome::skipped;
    total += c.seconds;
  }
  pugi::xml_document doc;
  pugi::xml_node decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  pugi::xml_node ts = doc.append_child("testsuite");
  ts.append_attribute("name") = suite.name.c_str();
  ts.append_attribute("tests") = static_cast<unsigned long long>(suite.cases.size());
  ts.append_attribute("failures") = static_cast<unsigned long long>(failures);
  ts.append_attribute("errors") = static_cast<unsigned long long>(errors);
  ts.append_attribute("skipped") = static_cast<unsigned long long>(skipped);
  ts.append_attribute("time") = seconds_text(total).c_str();
  for (const TestCase& c : suite.cases) {
    pugi::xml_node tc = ts.append_child("testcase");
    tc.append_attribute("classname") = c.classname.c_str();
    tc.append_attribute("name") = c.name.c_str();
    tc.append_attribute("time") = seconds_text(c.seconds).c_str();
    if (const char* e = element(c.outcome)) {
      pugi::xml_node r = tc.append_child(e);
      if (!c.message.empty()) r.append_attribute("message") = c.message.c_str();
      if (!c.text.empty()) r.append_child(pugi::node_pcdata).set_value(c.text.c_str());
    }
  }
  if (!suite.system_out.empty())
    ts.append_child("system-out").append_child(pugi::node_pcdata).set_value(suite.system_out.c_str());
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_default, pugi::encoding_utf8);
  return out.str();
}

bool write(const TestSuite& suite, const std::string& path, std::string& error) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) {
    error = "cannot write JUnit file " + path;
    return false;
  }
  f << to_xml(suite);
  f.close();
  if (!f) {
    error = "cannot write JUnit file " + path;
    return false;
  }
  return true;
}

}  // namespace virtiosim::junit
