# Run at every build (cmake -P): writes OUTPUT (a header defining LLOYD_VERSION and
# LLOYD_GIT_COMMIT) from VERSION and the commit SOURCE_DIR is at, rewriting it only when it
# changes, so that `lloyd --version` names the commit of the build, not of the last configure.
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE status)
if(NOT status EQUAL 0 OR NOT commit)
  set(commit unknown)
endif()
set(text "#pragma once\n#define LLOYD_VERSION \"${VERSION}\"\n#define LLOYD_GIT_COMMIT \"${commit}\"\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUTPUT}" "${text}")
endif()
