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
