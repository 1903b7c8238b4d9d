# add_mpi_test(NAME <name> SOURCES <files...> RANKS <n...>)
#
# Builds one GoogleTest binary (linked with the shared MPI test main) and registers it
# with CTest once per rank count, as <name>.np<N>. Extra launcher flags such as
# --oversubscribe come from MPIEXEC_PREFLAGS, never from the sources.
function(add_mpi_test)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;RANKS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE lloyd_core lloyd_test_main)
  target_compile_options(${ARG_NAME} PRIVATE ${LLOYD_WARNINGS})
  # Under AddressSanitizer a 3-4 rank test binary runs 2-3x slower: 300 s left one passing in
  # 112 s alone timing out on a loaded 2-core machine.
  set(timeout 300)
  if(LLOYD_SANITIZE)
    set(timeout 900)
  endif()
  foreach(ranks IN LISTS ARG_RANKS)
    add_test(NAME ${ARG_NAME}.np${ranks}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${ranks} ${MPIEXEC_PREFLAGS}
              $<TARGET_FILE:${ARG_NAME}> ${MPIEXEC_POSTFLAGS}
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(${ARG_NAME}.np${ranks} PROPERTIES PROCESSORS ${ranks} TIMEOUT ${timeout}
      ENVIRONMENT "LLOYD_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/data;PMIX_MCA_psec=^munge;OMPI_MCA_pml=ob1")
  endforeach()
endfunction()
