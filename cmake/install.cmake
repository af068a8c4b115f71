# cmake --install BUILD [--prefix P] (make install PREFIX=P): the
# executable, the libraries with their headers, an exported CMake package
# and the Python package (python/CMakeLists.txt).
#
#   P/bin/virtiosim
#   P/share/bash-completion/completions/virtiosim  (`virtiosim completion bash`)
#   P/lib/libvirtiosim_*.a
#   P/include/virtiosim/{models,transport,sim,waves,support}/...  (as in the tree)
#   P/lib/cmake/virtiosim/  virtiosimConfig.cmake, its version file, the
#                           targets, FindSystemC.cmake
#
# find_package(virtiosim) gives virtiosim::<name> for each library
# virtiosim_<name>: virtiosim::ring (the ring core, no SystemC),
# virtiosim::sim (the platform, the device registry and every model),
# virtiosim::app (the command line, virtiosim::app::main), ...
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(VIRTIOSIM_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/virtiosim)
set(VIRTIOSIM_EXPORTED_LIBRARIES
    virtiosim_systemc virtiosim_ring virtiosim_memory virtiosim_memory_sc virtiosim_net virtiosim_pci
    virtiosim_device virtiosim_driver virtiosim_ring_watch virtiosim_check virtiosim_json virtiosim_junit
    virtiosim_waves_read virtiosim_waves_gtkw virtiosim_waves_record virtiosim_vhost_user virtiosim_sim
    virtiosim_app)
foreach(t ${VIRTIOSIM_EXPORTED_LIBRARIES})
  string(REGEX REPLACE "^virtiosim_" "" name ${t})
  set_target_properties(${t} PROPERTIES EXPORT_NAME ${name})
endforeach()

install(TARGETS virtiosim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_BINARY_DIR}/sim/virtiosim.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME virtiosim)
install(TARGETS ${VIRTIOSIM_EXPORTED_LIBRARIES} EXPORT virtiosimTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/virtiosim)
# Headers keep their paths ("models/ring/virtqueue.h"): the same includes
# compile in the tree and against the installed package.
install(DIRECTORY models transport sim support waves
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/virtiosim
        FILES_MATCHING PATTERN "*.h")
install(EXPORT virtiosimTargets NAMESPACE virtiosim:: DESTINATION ${VIRTIOSIM_INSTALL_CMAKEDIR})

configure_package_config_file(cmake/virtiosimConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/virtiosimConfig.cmake
                              INSTALL_DESTINATION ${VIRTIOSIM_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/virtiosimConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/virtiosimConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/virtiosimConfigVersion.cmake
              cmake/FindSystemC.cmake
        DESTINATION ${VIRTIOSIM_INSTALL_CMAKEDIR})


# Its test (label install): stage an install, build examples/custom_device
# against it, run it. Added after python/, whose interpreter it uses.
add_subdirectory(testbench/install)
