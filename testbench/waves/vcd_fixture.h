// VCD files for the wave tests: a file in a per-run temporary folder, and
// one queue in the tracer's shape (its signal names spelled out, not taken
// from waves/signals.h: the names are a file format users and Python read).
#pragma once

#include <gtest/gtest.h>

#include <bitset>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace virtiosim::waves {

inline std::filesystem::path write(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("virtiosim_waves_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::create_directories(dir);
  const auto p = dir / name;
  std::ofstream(p) << text;
  return p;
}

// One queue in the tracer's shape; `body` holds the value changes after time 0.
inline std::string queue_vcd(bool packed, uint32_t size, const std::string& body) {
  std::ostringstream o;
  o << "$date x $end\n$timescale 1 ps $end\n$scope module SystemC $end\n$scope module tx0 $end\n";
  const char* sigs[] = {"driver.next_avail_idx", "driver.avail_wrap_counter", "driver.last_used_idx",
                        "driver.used_wrap_counter", "device.last_avail_idx", "device.avail_wrap_counter",
                        "device.last_used_idx", "device.used_wrap_counter", "driver_area.flags",
                        "driver_area.off_wrap", "device_area.flags", "device_area.off_wrap", "kicks",
                        "interrupts", "queue_size", "packed"};
  // Flat names with dots inside one scope read the same as nested scopes.
  for (int i = 0; i < 16; ++i) {
    const bool bit = std::string(sigs[i]).find("wrap_counter") != std::string::npos || i == 15;
    o << "$var wire " << (bit ? 1 : 32) << " s" << i << " " << sigs[i] << (bit ? "" : " [31:0]") << " $end\n";
  }
  o << "$upscope $end\n$upscope $end\n$enddefinitions $end\n#0\n$dumpvars\n";
  for (int i = 0; i < 16; ++i) {
    const bool bit = std::string(sigs[i]).find("wrap_counter") != std::string::npos || i == 15;
    if (bit) o << (i == 15 ? (packed ? "1" : "0") : "1") << "s" << i << "\n";
    else o << "b0 s" << i << "\n";
  }
  o << "$end\n#100\nb" << std::bitset<32>(size).to_string() << " s14\n" << body;
  return o.str();
}

}  // namespace virtiosim::waves
