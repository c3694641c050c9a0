set(RAYK_JOB_MAIN_SOURCE ${CMAKE_CURRENT_LIST_DIR}/rayk_job_main.cc)

# rayk_add_job(<name> SOURCES <files...> [LIBRARIES <targets...>])
#
# Builds a job in the shape workers can load: the sources (main() and the
# RAYK_REMOTE functions) go into the shared library lib<name>_job.so, and the
# executable <name> links it and runs its main(). Workers load the library
# by path; `rayk run lib<name>_job.so -- args` runs the same job without the
# executable.
#
# Libraries are linked with --no-as-needed, here and in whatever links the
# job library. A library's RAYK_REMOTE lines register its functions only when
# the library is loaded, and a linker with --as-needed (Debian's and Ubuntu's
# default) drops a library none of whose symbols is referenced: a driver that
# calls only functions defined inline in a library's headers (an actor class
# written in its header) would lose the library, and with it the
# registrations, silently. PUBLIC, so that an executable linking
# lib<name>_job.so keeps it too.
function(rayk_add_job name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${name}_job SHARED ${ARG_SOURCES})
  if(TARGET rayk_kernel)
    target_link_libraries(${name}_job PUBLIC rayk_kernel ${ARG_LIBRARIES})
  else()
    target_link_libraries(${name}_job PUBLIC rayk::rayk ${ARG_LIBRARIES})
  endif()
  target_link_options(${name}_job PUBLIC "LINKER:--no-as-needed")
  add_executable(${name} ${RAYK_JOB_MAIN_SOURCE})
  target_link_libraries(${name} PRIVATE ${name}_job)
endfunction()
