// The virtiosim executable. SystemC's library provides main() and calls
// sc_main() with the command line; every subcommand starts here,
// simulating or not.
#include <systemc>

#include "sim/app/command.h"

int sc_main(int argc, char** argv) { return virtiosim::app::main(argc, argv); }
