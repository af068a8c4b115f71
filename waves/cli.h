// `virtiosim waves`: ring events decoded from a run's VCD, and its GTKWave save file.
#pragma once

namespace virtiosim::waves {

int waves_main(int argc, char** argv);  // argv[0] == "waves"

}  // namespace virtiosim::waves
