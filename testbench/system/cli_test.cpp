// The `virtiosim` command line (sim/app, CLI11): --help and -h answer with
// usage on stdout and exit 0 on every command and subcommand; a bad option
// exits 2 with a message on stderr that names it and nothing on stdout;
// --version, help, completion; the exit-code table of README.md ("Exit
// codes") on the failures a user meets first.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <ostream>
#include <string>
#include <thread>

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
    ::testing::Values(HelpCase{"", "virtiosim [options] <command>"}, HelpCase{"run", "virtiosim run"},
                      HelpCase{"params", "virtiosim params"}, HelpCase{"waves", "virtiosim waves"},
                      HelpCase{"waves summarize", "virtiosim waves"}, HelpCase{"waves events", "virtiosim waves"},
                      HelpCase{"waves kinds", "virtiosim waves"}, HelpCase{"waves gtkw", "virtiosim waves"},
                      HelpCase{"waves perfetto", "virtiosim waves"}, HelpCase{"report", "virtiosim report"},
                      HelpCase{"vhost-user", "virtiosim vhost-user"},
                      HelpCase{"vhost-user serve", "virtiosim vhost-user serve"},
                      HelpCase{"vhost-user drive", "virtiosim vhost-user drive"},
                      HelpCase{"vhost-user check", "virtiosim vhost-user check"},
                      HelpCase{"help", "virtiosim help"}, HelpCase{"completion", "virtiosim completion"}),
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
  EXPECT_EQ(o.out, "") << GetParam().args;
}

INSTANTIATE_TEST_SUITE_P(
    EveryCommand, BadArgument,
    ::testing::Values(BadCase{"frobnicate", "frobnicate"}, BadCase{"run --bogus", "--bogus"},
                      BadCase{"run --queue-size", "--queue-size"}, BadCase{"params --bogus", "--bogus"},
                      BadCase{"waves summarize x.vcd --bogus", "--bogus"}, BadCase{"waves frobnicate", "frobnicate"},
                      BadCase{"run --ring", "--ring"}, BadCase{"run --set", "--set"},
                      BadCase{"run extra", "extra"}, BadCase{"params --json --bogus", "--bogus"},
                      BadCase{"waves summarize", "FILE.vcd"}, BadCase{"waves events x.vcd --kind nope", "nope"},
                      BadCase{"waves events x.vcd --queue q7", "q7"}, BadCase{"waves kinds --bogus", "--bogus"},
                      BadCase{"vhost-user frobnicate", "frobnicate"}, BadCase{"vhost-user serve", "--socket"},
                      BadCase{"vhost-user serve --socket s --mode loud", "--mode"},
                      BadCase{"vhost-user serve --socket s --queues 0", "--queues"},
                      BadCase{"vhost-user drive --socket s --bogus", "--bogus"},
                      BadCase{"vhost-user drive --socket s --packets -1", "--packets"},
                      BadCase{"vhost-user drive --socket s --notify often", "--notify"},
                      BadCase{"vhost-user drive --socket s --rx-buffers 300", "--rx-buffers"},
                      BadCase{"vhost-user drive --socket s --ring split --queue-size 100", "--queue-size"},
                      BadCase{"vhost-user serve --socket s --bogus", "--bogus"},
                      BadCase{"vhost-user check --bogus", "--bogus"}, BadCase{"help frobnicate", "frobnicate"},
                      BadCase{"help waves frobnicate", "frobnicate"}, BadCase{"completion zsh", "zsh"},
                      BadCase{"completion", "SHELL"}, BadCase{"--bogus", "--bogus"},
                      BadCase{"vhost-user", "a command is required: serve drive check"},
                      BadCase{"waves", "a command is required: summarize events gtkw perfetto kinds"},
                      // Did you mean: the nearest names of what was given.
                      BadCase{"rnu", "unknown command 'rnu'; did you mean run?"},
                      BadCase{"waves evnets", "did you mean events?"},
                      BadCase{"run --qiuet", "unknown option '--qiuet'; did you mean --quiet?"},
                      BadCase{"vhost-user serve --socket s --moed echo", "did you mean --mode?"},
                      BadCase{"run --set fault.drop_barrier=x", "did you mean fault.drop_barriers?"},
                      BadCase{"run --dry-run --set ring=split --set queue_size=3", "power of two"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return test_name(i.param.args); });

// Every --help states the exit codes.
TEST(Cli, HelpDocumentsExitCodes) {
  for (const char* args : {"--help", "run --help", "params --help", "waves --help", "waves events --help",
                           "vhost-user serve --help", "vhost-user drive --help", "vhost-user check --help"}) {
    const Outcome o = run(args);
    EXPECT_NE(o.out.find("Exit codes: 0"), std::string::npos) << args << "\n" << o.out;
  }
}

// The run's help lists every option it had before CLI11.
TEST(Cli, RunHelpListsEveryOption) {
  const Outcome o = run("run --help");
  for (const char* opt : {"--config", "--set", "--ring", "--queue-size", "--packets", "--seed", "--vcd", "--report",
                          "--strict", "--quiet", "--error-json", "--junit"})
    EXPECT_NE(o.out.find(opt), std::string::npos) << opt << "\n" << o.out;
}

// --junit: one test case per monitor rule and one for the verdict; a
// finding fails its rule's case with the evidence, and with --strict the
// run exits 1. A clean run passes every case and exits 0.
TEST(Cli, JUnitHasOneCasePerRuleAndTheEvidence) {
  const std::filesystem::path dir = fresh_dir();
  const std::string bad_xml = (dir / "bad" / "run.xml").string(), clean_xml = (dir / "clean.xml").string();
  const SimRun bad = run_virtiosim("run --quiet --packets 200 --strict --set fault.corrupt_desc=avail_encoding "
                                   "--set stall_timeout_us=300 --junit " + bad_xml);
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  const std::string xml = slurp(bad_xml);
  EXPECT_NE(xml.find("<testcase classname=\"P2\" name=\"P2\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure message=\"1 finding (AVAIL/USED"), std::string::npos) << xml;
  EXPECT_NE(xml.find("queue=tx0 agent=0 addr=0x"), std::string::npos) << xml;  // the evidence
  EXPECT_NE(xml.find("name=\"run.verdict\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"P10.lost_kick\" time=\"0.000\" />"), std::string::npos) << xml;  // passed

  const SimRun clean = run_virtiosim("run --quiet --packets 200 --strict --junit " + clean_xml);
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  const std::string ok = slurp(clean_xml);
  EXPECT_NE(ok.find("failures=\"0\""), std::string::npos) << ok;
  EXPECT_EQ(ok.find("<failure"), std::string::npos) << ok;

  const SimRun unwritable = run_virtiosim("run --quiet --packets 20 --junit /proc/nope/x.xml", false);
  EXPECT_EQ(unwritable.exit_code, 2);
  EXPECT_NE(unwritable.output.find("/proc/nope/x.xml"), std::string::npos) << unwritable.output;
}

// Configuration options apply in command-line order: the later one wins.
TEST(Cli, ConfigurationOptionsApplyInOrder) {
  SimRun r = run_virtiosim("run --quiet --packets 20 --set ring=split --ring packed --set queue_size=64");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.get<std::string>("config.ring"), "packed");
  EXPECT_EQ(r.get<uint32_t>("config.queue_size"), 64u);
  r = run_virtiosim("run --quiet --packets 20 --ring packed --set ring=split --queue-size 64");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.get<std::string>("config.ring"), "split");
}

// --error-json names the refused parameter for programs (python/virtiosim/run.py).
TEST(Cli, ErrorJsonNamesTheRefusedKey) {
  const std::filesystem::path dir = fresh_dir(), err = dir / "error.json";
  Outcome o = run("run --quiet --set memory.dram_ns=fast --error-json " + err.string());
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_EQ(o.err.rfind("virtiosim run: bad configuration for 'memory.dram_ns': ", 0), 0u) << o.err;
  EXPECT_EQ(slurp(err), "{\n  \"exit_code\": 2,\n  \"key\": \"memory.dram_ns\",\n  \"message\": "
                        "\"bad configuration for 'memory.dram_ns': 'fast' is not a number\"\n}\n");
  // Refused before any key: the key is null.
  o = run("run --bogus --error-json " + err.string());
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_NE(slurp(err).find("\"key\": null"), std::string::npos) << slurp(err);
  std::filesystem::remove_all(dir);
}

TEST(Cli, VersionIsTheProjectVersion) {
  const Outcome o = run("--version");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, std::string("virtiosim ") + VIRTIOSIM_PROJECT_VERSION + "\n");
}

// `help COMMAND...` is that command's --help.
TEST(Cli, HelpCommandIsTheCommandsHelp) {
  for (const char* words : {"", "run", "waves events", "vhost-user serve"}) {
    const Outcome help = run(std::string("help ") + words), flag = run(std::string(words) + " --help");
    EXPECT_EQ(help.exit_code, 0) << words << help.err;
    EXPECT_EQ(help.out, flag.out) << words;
  }
}

// An output that cannot be written is bad input, found before simulating:
// a billion packets would take hours.
TEST(Cli, UnwritableOutputIsRefusedBeforeSimulating) {
  for (const char* option : {"--report", "--junit", "--vcd", "--html", "--fst"}) {
    const auto start = std::chrono::steady_clock::now();
    const Outcome o = run(std::string("run --packets 1000000000 ") + option + " /proc/nope/x.out");
    EXPECT_EQ(o.exit_code, 2) << option << o.err;
    EXPECT_NE(o.err.find(std::string(option) + " /proc/nope/x.out: cannot write"), std::string::npos) << o.err;
    EXPECT_EQ(o.out, "");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << option;
  }
}

// --quiet hides the summary, not why a run failed.
TEST(Cli, QuietFailedRunSaysWhyOnStderr) {
  const Outcome o = run("run --quiet --packets 1000 --set fault.lose_interrupt_every=3");
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err.rfind("virtiosim run: failed: stall: no progress", 0), 0u) << o.err;
}

TEST(Cli, DryRunSimulatesNothing) {
  const Outcome o = run("run --dry-run --packets 1000000000 --set ring=split --set queue_size=512");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out + o.err, "");
}

// `params` shows the words a choice or a list accepts.
TEST(Cli, ParamsListsAcceptedWords) {
  const Outcome o = run("params");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_NE(o.out.find("accepted: packed|split\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("accepted: comma-separated driver_publish|driver_kick_check|"), std::string::npos) << o.out;
}

// What bash completion offers: COMPREPLY of the generated _virtiosim for
// the words typed so far (the last one being completed).
std::string complete(const std::string& words) {
  const std::filesystem::path dir = fresh_dir(), out = dir / "out.txt";
  const std::string cmd = std::string("bash -c 'source <(") + VIRTIOSIM_BIN + " completion bash); COMP_WORDS=(" + words +
                          "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _virtiosim 2>/dev/null; "
                          "printf \"%s \" \"${COMPREPLY[@]}\"' > " + out.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const std::string offered = slurp(out);
  std::filesystem::remove_all(dir);
  return " " + offered;
}

TEST(Cli, BashCompletionFollowsTheDeclarations) {
  EXPECT_NE(complete("virtiosim \"\"").find(" vhost-user "), std::string::npos);
  EXPECT_NE(complete("virtiosim run --set fault.dr").find(" fault.drop_barriers= "), std::string::npos);
  EXPECT_EQ(complete("virtiosim run --ring \"\""), " packed split ");
  EXPECT_EQ(complete("virtiosim vhost-user serve --mode \"\""), " echo sink ");
  EXPECT_NE(complete("virtiosim vhost-user drive --no").find(" --notify "), std::string::npos);
  EXPECT_NE(complete("virtiosim waves \"\"").find(" summarize "), std::string::npos);
  EXPECT_NE(complete("virtiosim help \"\"").find(" completion "), std::string::npos);
}

// A queue the VCD does not trace is an error naming those it does.
TEST(Cli, WavesEventsOfAnUntracedQueue) {
  const std::filesystem::path dir = fresh_dir(), vcd = dir / "w.vcd";
  ASSERT_EQ(run("run --quiet --packets 20 --vcd " + vcd.string()).exit_code, 0);
  const Outcome o = run("waves events " + vcd.string() + " --queue tx9");
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_NE(o.err.find("--queue tx9: not in"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("rx0 (0), tx0 (1)"), std::string::npos) << o.err;
  EXPECT_EQ(o.out, "");
  std::filesystem::remove_all(dir);
}

// `virtiosim vhost-user serve` in the background, its output in files.
class Serve {
 public:
  Serve(const std::filesystem::path& socket, const std::filesystem::path& log) {
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      execl(VIRTIOSIM_BIN, VIRTIOSIM_BIN, "vhost-user", "serve", "--socket", socket.c_str(), nullptr);
      _exit(127);
    }
    // It says so once its socket and its signal handlers are set up.
    for (int i = 0; i < 1000 && slurp(log).find("listening on") == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // SIGKILL leaves the socket file behind, as a crash would.
  int stop(int sig = SIGTERM) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_;
};

// One serve a socket; a socket file nobody serves is replaced; drive
// against serve's default mode (sink) fails within seconds, naming
// --mode echo.
TEST(Cli, ServeOwnsItsSocketAndDriveNamesEcho) {
  const std::filesystem::path dir = fresh_dir(), socket = dir / "vu.sock";
  Serve first(socket, dir / "first.log");
  ASSERT_TRUE(std::filesystem::exists(socket)) << slurp(dir / "first.log");
  const Outcome second = run("vhost-user serve --socket " + socket.string());
  EXPECT_EQ(second.exit_code, 2) << second.err;
  EXPECT_NE(second.err.find("in use by another serve"), std::string::npos) << second.err;

  const auto start = std::chrono::steady_clock::now();
  const Outcome drive = run("vhost-user drive --packets 1000 --socket " + socket.string());
  EXPECT_EQ(drive.exit_code, 1) << drive.out << drive.err;
  EXPECT_NE(drive.err.find("no echo: the back-end took"), std::string::npos) << drive.err;
  EXPECT_NE(drive.err.find("(serve --mode echo)"), std::string::npos) << drive.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));  // not --timeout's 30

  first.stop(SIGKILL);
  ASSERT_TRUE(std::filesystem::exists(socket));  // stale: nobody listens
  Serve again(socket, dir / "again.log");
  EXPECT_EQ(again.stop(), 0) << slurp(dir / "again.log");
  EXPECT_NE(slurp(dir / "again.log").find("listening on"), std::string::npos) << slurp(dir / "again.log");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace virtiosim::testing
