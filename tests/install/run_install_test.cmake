# Driven by tests/install/CMakeLists.txt:
#   cmake -DBUILD_DIR=... -DWORK_DIR=... -DCONSUMER_SOURCE_DIR=... -DGENERATOR=...
#         -DCXX_COMPILER=... [-DMAKE_PROGRAM=...] [-DBUILD_TYPE=...] [-DSANITIZE_FLAGS=...]
#         -P run_install_test.cmake
cmake_minimum_required(VERSION 3.25)

foreach(required BUILD_DIR WORK_DIR CONSUMER_SOURCE_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${required} OR "${${required}}" STREQUAL "")
    message(FATAL_ERROR "run_install_test.cmake: -D${required}=... is required")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run_step name)
  message(STATUS "install test: ${name}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "install test: '${name}' failed (${result}). ${install_hint}")
  endif()
endfunction()

# 1. Install into the temporary prefix.
set(config_args "")
if(BUILD_TYPE)
  set(config_args --config ${BUILD_TYPE})
endif()
set(install_hint "The install step needs every installed target built: run 'cmake --build' for the whole build tree first.")
run_step("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} ${config_args})
set(install_hint "")

# 2. The installed headers must be self-sufficient: every ordergate header
#    they include is installed too, and none needs a private dependency
#    (moodycamel's concurrentqueue is an implementation detail of gateway/src).
file(GLOB_RECURSE headers LIST_DIRECTORIES false ${prefix}/include/ordergate/*)
if(NOT headers)
  message(FATAL_ERROR "install test: no headers installed under ${prefix}/include/ordergate")
endif()
foreach(header IN LISTS headers)
  file(STRINGS ${header} includes REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS includes)
    if(line MATCHES "concurrentqueue|moodycamel")
      message(FATAL_ERROR "install test: installed header ${header} includes a private dependency: ${line}")
    endif()
    if(line MATCHES "[<\"](ordergate/[^>\"]+)[>\"]" AND NOT EXISTS ${prefix}/include/${CMAKE_MATCH_1})
      message(FATAL_ERROR "install test: installed header ${header} includes ${CMAKE_MATCH_1}, which is not installed")
    endif()
  endforeach()
endforeach()

# 3. Configure, build and run the consumer against the prefix only.
set(configure_args
  -S ${CONSUMER_SOURCE_DIR} -B ${consumer_build} -G ${GENERATOR}
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  -DCMAKE_PREFIX_PATH=${prefix}
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DORDERGATE_EXPECTED_PREFIX=${prefix})
if(MAKE_PROGRAM)
  list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(BUILD_TYPE)
  list(APPEND configure_args -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
if(SANITIZE_FLAGS)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${SANITIZE_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${SANITIZE_FLAGS}")
endif()
run_step("configure the consumer" ${CMAKE_COMMAND} ${configure_args})
run_step("build the consumer" ${CMAKE_COMMAND} --build ${consumer_build} ${config_args})
run_step("run the consumer" ${consumer_build}/bin/ordergate-consumer)
message(STATUS "install test: passed")
