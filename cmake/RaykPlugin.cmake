set(RAYK_JOB_MAIN_SOURCE ${CMAKE_CURRENT_LIST_DIR}/rayk_job_main.cc)

# rayk_add_plugin(<kind> <name> SOURCES <files...> [LIBRARIES <targets...>])
#
# Builds a rayk plugin: a MODULE library named rayk_<kind>_<name>.so (no "lib"
# prefix), with hidden visibility so that only its descriptor is exported,
# linked against the kernel. Inside the rayk tree it lands in the build's
# lib/rayk/plugins/ and is installed beside the kernel; out of tree (through
# find_package(rayk)) it lands in the caller's build directory.
function(rayk_add_plugin kind name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT kind MATCHES "^(scheduler|store|transport|gcs)$")
    message(FATAL_ERROR "rayk_add_plugin: kind '${kind}' is not one of scheduler, store, transport, gcs")
  endif()
  set(target rayk_${kind}_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(TARGET rayk_kernel)
    target_link_libraries(${target} PRIVATE rayk_kernel ${ARG_LIBRARIES})
    set_target_properties(${target} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${RAYK_PLUGIN_OUTPUT_DIR}
      INSTALL_RPATH "$ORIGIN/../..")
    install(TARGETS ${target} LIBRARY DESTINATION ${RAYK_PLUGIN_INSTALL_DIR})
    set_property(GLOBAL APPEND PROPERTY RAYK_PLUGIN_TARGETS ${target})
  else()
    target_link_libraries(${target} PRIVATE rayk::rayk ${ARG_LIBRARIES})
  endif()
endfunction()

# rayk_add_job(<name> SOURCES <files...> [LIBRARIES <targets...>])
#
# Builds a job in the shape workers can load: the sources (main() and the
# RAYK_REMOTE functions) go into the shared library lib<name>_job.so, and the
# executable <name> links it and runs its main(). Workers load the library
# by path; `rayk run lib<name>_job.so -- args` runs the same job without the
# executable.
function(rayk_add_job name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${name}_job SHARED ${ARG_SOURCES})
  if(TARGET rayk_kernel)
    target_link_libraries(${name}_job PUBLIC rayk_kernel ${ARG_LIBRARIES})
  else()
    target_link_libraries(${name}_job PUBLIC rayk::rayk ${ARG_LIBRARIES})
  endif()
  add_executable(${name} ${RAYK_JOB_MAIN_SOURCE})
  target_link_libraries(${name} PRIVATE ${name}_job)
endfunction()
