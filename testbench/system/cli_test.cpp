// The `virtiosim` command line: --help and -h answer with usage on stdout
// and exit 0 on every command and subcommand; a bad option exits 2 with a
// message on stderr that names it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <ostream>
#include <string>

#include "testbench/system/run_virtiosim.h"

namespace virtiosim::testing {
namespace {

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

Outcome run(const std::string& args) {
  const std::filesystem::path dir = fresh_dir(), out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd = std::string(VIRTIOSIM_BIN) + " " + args + " > " + out.string() + " 2> " + err.string();
  const int status = std::system(cmd.c_str());
  Outcome o{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
  std::filesystem::remove_all(dir);
  return o;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A test name from a command line: "vhost-user serve" -> "vhost_user_serve".
std::string test_name(const char* args) {
  std::string n = args[0] ? args : "virtiosim";
  std::replace_if(n.begin(), n.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return n;
}

struct HelpCase {
  const char* args;
  const char* usage;  // what the usage line must name
};

void PrintTo(const HelpCase& c, std::ostream* os) { *os << "virtiosim " << c.args; }

class Help : public ::testing::TestWithParam<HelpCase> {};

TEST_P(Help, PrintsUsageOnStdoutAndExitsZero) {
  for (const char* flag : {"--help", "-h"}) {
    const std::string args = std::string(GetParam().args) + " " + flag;
    const Outcome o = run(args);
    EXPECT_EQ(o.exit_code, 0) << args << "\n" << o.out << o.err;
    EXPECT_NE(lower(o.out).find(std::string("usage: ") + GetParam().usage), std::string::npos)
        << args << "\nstdout:\n" << o.out;
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryCommand, Help,
    ::testing::Values(HelpCase{"", "virtiosim <command>"}, HelpCase{"run", "virtiosim run"},
                      HelpCase{"params", "virtiosim params"}, HelpCase{"waves", "virtiosim waves"},
                      HelpCase{"waves summarize", "virtiosim waves"}, HelpCase{"waves events", "virtiosim waves"},
                      HelpCase{"waves kinds", "virtiosim waves"}, HelpCase{"waves gtkw", "virtiosim waves"},
                      HelpCase{"vhost-user", "virtiosim vhost-user"},
                      HelpCase{"vhost-user serve", "virtiosim vhost-user serve"},
                      HelpCase{"vhost-user drive", "virtiosim vhost-user drive"}),
    [](const ::testing::TestParamInfo<HelpCase>& i) { return test_name(i.param.args); });

struct BadCase {
  const char* args;
  const char* named;  // the argument the message must name
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << "virtiosim " << c.args; }

class BadArgument : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadArgument, ExitsTwoNamingIt) {
  const Outcome o = run(GetParam().args);
  EXPECT_EQ(o.exit_code, 2) << GetParam().args << "\n" << o.out << o.err;
  EXPECT_NE(o.err.find(GetParam().named), std::string::npos) << GetParam().args << "\nstderr:\n" << o.err;
}

INSTANTIATE_TEST_SUITE_P(
    EveryCommand, BadArgument,
    ::testing::Values(BadCase{"frobnicate", "frobnicate"}, BadCase{"run --bogus", "--bogus"},
                      BadCase{"run --queue-size", "--queue-size"}, BadCase{"params --bogus", "--bogus"},
                      BadCase{"waves summarize x.vcd --bogus", "--bogus"}, BadCase{"waves frobnicate", "frobnicate"},
                      BadCase{"vhost-user frobnicate", "frobnicate"}, BadCase{"vhost-user serve", "--socket"},
                      BadCase{"vhost-user serve --socket s --mode loud", "--mode"},
                      BadCase{"vhost-user serve --socket s --queues 0", "--queues"},
                      BadCase{"vhost-user drive --socket s --bogus", "--bogus"},
                      BadCase{"vhost-user drive --socket s --packets -1", "--packets"},
                      BadCase{"vhost-user drive --socket s --notify often", "--notify"},
                      BadCase{"vhost-user drive --socket s --rx-buffers 300", "--rx-buffers"},
                      BadCase{"vhost-user drive --socket s --ring split --queue-size 100", "--queue-size"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return test_name(i.param.args); });

}  // namespace
}  // namespace virtiosim::testing
