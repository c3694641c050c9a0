# Compiler flags for everything rayk builds in this tree: the kernel, plugins,
# the CLI, examples, benchmarks, tests and test fixtures. Directory-wide, so a
# new target cannot forget them. Third-party headers come in as system
# includes (/usr/include and imported targets), so they raise no warnings.

# -Werror keeps the tree warning-free; turn it off (-DRAYK_WERROR=OFF) to build
# with a newer compiler whose new warnings have not been fixed yet.
option(RAYK_WERROR "Treat compiler warnings in rayk's own code as errors" ON)
add_compile_options(-Wall -Wextra)
if(RAYK_WERROR)
  add_compile_options(-Werror)
endif()

# -DRAYK_SANITIZE=address,undefined or -DRAYK_SANITIZE=thread builds every
# target, and so every process rayk spawns (daemons, workers), instrumented.
# scripts/sanitize.sh builds and runs the tests this way.
set(RAYK_SANITIZE "" CACHE STRING
  "Sanitizers for every rayk target: address, undefined, address,undefined or thread")
if(RAYK_SANITIZE)
  string(REPLACE "," ";" sanitizers "${RAYK_SANITIZE}")
  foreach(sanitizer ${sanitizers})
    if(NOT sanitizer MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "RAYK_SANITIZE: '${sanitizer}' is not a sanitizer rayk supports; "
        "use -DRAYK_SANITIZE=address,undefined or -DRAYK_SANITIZE=thread")
    endif()
  endforeach()
  if("thread" IN_LIST sanitizers AND "address" IN_LIST sanitizers)
    message(FATAL_ERROR "RAYK_SANITIZE: thread and address cannot be combined; "
      "build them in two build folders (scripts/sanitize.sh asan|tsan)")
  endif()
  # Frame pointers give whole stacks in reports; -fno-sanitize-recover makes
  # UBSan abort on the first finding instead of printing and carrying on, so a
  # finding fails the test that caused it.
  set(RAYK_SANITIZE_FLAGS -fsanitize=${RAYK_SANITIZE} -fno-omit-frame-pointer
    -fno-sanitize-recover=all)
  add_compile_options(${RAYK_SANITIZE_FLAGS})
  # GCC's own manual: sanitizers make -Wmaybe-uninitialized report false
  # positives (GCC 12 flags std::variant<..., std::string> moves in
  # plugin_host/config.cc). The ordinary build still checks it.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
    # GCC 12 warns (-Wtsan) that TSan does not model std::atomic_thread_fence,
    # which Boost.Asio's handler invocation uses (the metrics HTTP server).
    # The server runs its io_context on one thread, so the fences order
    # nothing TSan needs to see; the warning is not a finding.
    if("thread" IN_LIST sanitizers)
      add_compile_options(-Wno-tsan)
    endif()
  endif()
  add_link_options(-fsanitize=${RAYK_SANITIZE})
endif()
