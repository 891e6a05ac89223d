# Driven by tests/install/CMakeLists.txt:
#   cmake -DBUILD_DIR=... -DWORK_DIR=... -DCONSUMERS_DIR=... -DGENERATOR=...
#         -DCXX_COMPILER=... [-DMAKE_PROGRAM=...] [-DBUILD_TYPE=...] [-DSANITIZE_FLAGS=...]
#         [-DWITH_SERVER=ON|OFF] -P run_install_test.cmake
cmake_minimum_required(VERSION 3.25)

foreach(required BUILD_DIR WORK_DIR CONSUMERS_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${required} OR "${${required}}" STREQUAL "")
    message(FATAL_ERROR "run_install_test.cmake: -D${required}=... is required")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
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

# 3. Configure, build and run each consumer against the prefix only.
function(build_and_run_consumer name executable)
  set(source_dir ${CONSUMERS_DIR}/${name})
  set(build_dir ${WORK_DIR}/${name}-build)
  set(configure_args
    -S ${source_dir} -B ${build_dir} -G ${GENERATOR}
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
  run_step("configure ${name}" ${CMAKE_COMMAND} ${configure_args})
  run_step("build ${name}" ${CMAKE_COMMAND} --build ${build_dir} ${config_args})
  run_step("run ${name}" ${build_dir}/bin/${executable})
endfunction()

# What a consumer's build really did, from Ninja: its compile commands, its
# link command and every header its sources read (the compiler's dependency
# output). Sets <prefix>_compile, <prefix>_link and <prefix>_headers.
function(read_consumer_build name executable prefix)
  set(build_dir ${WORK_DIR}/${name}-build)
  execute_process(COMMAND ${MAKE_PROGRAM} -C ${build_dir} -t commands ${executable}
    OUTPUT_VARIABLE commands RESULT_VARIABLE result)
  if(NOT result EQUAL 0 OR commands STREQUAL "")
    message(FATAL_ERROR "install test: 'ninja -t commands ${executable}' failed in ${build_dir}")
  endif()
  execute_process(COMMAND ${MAKE_PROGRAM} -C ${build_dir} -t deps
    OUTPUT_VARIABLE headers RESULT_VARIABLE result)
  if(NOT result EQUAL 0 OR NOT headers MATCHES "ordergate/")
    message(FATAL_ERROR "install test: 'ninja -t deps' in ${build_dir} lists no ordergate header")
  endif()
  string(REPLACE "\n" ";" commands "${commands}")
  set(compile "")
  set(link "")
  foreach(command IN LISTS commands)
    if(command MATCHES " -c ")
      string(APPEND compile "${command}\n")
    elseif(command MATCHES " -o bin/${executable}( |$)")
      string(APPEND link "${command}\n")
    endif()
  endforeach()
  if(compile STREQUAL "" OR link STREQUAL "")
    message(FATAL_ERROR "install test: no compile or no link command for ${executable}:\n${commands}")
  endif()
  set(${prefix}_compile "${compile}" PARENT_SCOPE)
  set(${prefix}_link "${link}" PARENT_SCOPE)
  set(${prefix}_headers "${headers}" PARENT_SCOPE)
endfunction()

function(expect_absent what text pattern)
  if(text MATCHES "${pattern}")
    message(FATAL_ERROR "install test: ${what} mentions '${CMAKE_MATCH_0}':\n${text}")
  endif()
endfunction()

function(expect_present what text pattern)
  if(NOT text MATCHES "${pattern}")
    message(FATAL_ERROR "install test: ${what} lacks '${pattern}':\n${text}")
  endif()
endfunction()

set(toml_pattern "[^ ;]*(toml\\+\\+|tomlplusplus|TOML_)[^ ;]*")
set(simdjson_pattern "[^ ;]*(simdjson|SIMDJSON_)[^ ;]*")

# 3a. The in-process library alone: the engine and the brokers, none of the
#     process's parsers. toml++ is neither on its compile nor on its link
#     line, simdjson not on its compile line; no header it reads is theirs.
#     (simdjson stays a link-only dependency of the static ordergate::adapters.)
build_and_run_consumer(gateway_consumer ordergate-consumer)
if(GENERATOR STREQUAL "Ninja")
  read_consumer_build(gateway_consumer ordergate-consumer gateway)
  expect_absent("the gateway consumer's compile command" "${gateway_compile}" "${toml_pattern}")
  expect_absent("the gateway consumer's compile command" "${gateway_compile}" "${simdjson_pattern}")
  expect_absent("the gateway consumer's link command" "${gateway_link}" "${toml_pattern}")
  expect_absent("the headers the gateway consumer reads" "${gateway_headers}" "[^ \n]*(toml\\+\\+|simdjson)[^ \n]*")
  expect_present("the gateway consumer's link command" "${gateway_link}" "libordergate_gateway\\.a")
  message(STATUS "install test: the gateway consumer's compile and link commands have no toml++, its compile commands no simdjson")
else()
  message(STATUS "install test: compile and link commands not checked (they are read from Ninja, not ${GENERATOR})")
endif()

# 3b. The process library: config file, doctor. Here toml++ is on the link
#     line, which also shows that the checks above can see it.
if(WITH_SERVER)
  build_and_run_consumer(server_consumer ordergate-server-consumer)
  if(GENERATOR STREQUAL "Ninja")
    read_consumer_build(server_consumer ordergate-server-consumer server)
    expect_present("the server consumer's link command" "${server_link}" "${toml_pattern}")
    expect_absent("the server consumer's compile command" "${server_compile}" "${toml_pattern}")
  endif()
endif()
message(STATUS "install test: passed")
