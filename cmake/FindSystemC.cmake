# Find the SystemC library (Debian's libsystemc-dev ships no CMake package)
# and provide it as the imported target SystemC::SystemC. Used by the build
# and installed next to virtiosimConfig.cmake, so that a project using the
# installed package finds SystemC the same way.
#
# Debian's SystemC 2.3.4 is built for C++17: code that includes it must say
# so (SC_CPLUSPLUS=201703L), or linking fails on
# sc_api_version_2_3_4_cxx201703L. The definition is an interface property
# of the target, so it reaches every target that links SystemC::SystemC,
# whatever C++ standard that target compiles with. SYSTEMC_CPLUSPLUS
# overrides it for a SystemC built otherwise.
find_library(SYSTEMC_LIBRARY systemc)
find_path(SYSTEMC_INCLUDE_DIR systemc)
set(SYSTEMC_CPLUSPLUS 201703L CACHE STRING "SC_CPLUSPLUS the SystemC library was built with")

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SystemC REQUIRED_VARS SYSTEMC_LIBRARY SYSTEMC_INCLUDE_DIR)

if(SystemC_FOUND AND NOT TARGET SystemC::SystemC)
  find_package(Threads REQUIRED)
  add_library(SystemC::SystemC UNKNOWN IMPORTED)
  set_target_properties(SystemC::SystemC PROPERTIES
    IMPORTED_LOCATION "${SYSTEMC_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${SYSTEMC_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS "SC_CPLUSPLUS=${SYSTEMC_CPLUSPLUS}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
