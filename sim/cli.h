// `virtiosim run` and `virtiosim params`.
#pragma once

namespace virtiosim::sim {

int run_main(int argc, char** argv);     // argv[0] == "run"
int params_main(int argc, char** argv);  // argv[0] == "params"

}  // namespace virtiosim::sim
