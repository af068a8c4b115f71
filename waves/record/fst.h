// FST waves (GTKWave's compressed format, ~13x smaller than our VCDs) by
// converting the VCD a run wrote with GTKWave's own `vcd2fst`.
//
// Why a conversion and not an FST writer: writing FST directly would mean
// a second writer beside waves/record/vcd_writer.h over fstapi; vcd2fst is
// the maintained converter of the project that defines FST (package
// gtkwave, which the waves already rely on), and the VCD it reads is the
// one every other reader of ours is tested on. Cost: the VCD sits on disk
// until converted.
#pragma once

#include <string>

namespace virtiosim::waves {

// True for a path that asks for FST ("out/run.fst").
bool is_fst_path(const std::string& path);

// Runs `vcd2fst VCD FST` (found on PATH); throws VcdError naming the
// command's failure (missing vcd2fst: install the gtkwave package).
void convert_vcd_to_fst(const std::string& vcd_path, const std::string& fst_path);

}  // namespace virtiosim::waves
