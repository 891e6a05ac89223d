# Fails when a library target has a dependency its rule in
# dependency_rules.cmake does not allow.
#
#   cmake -DDOT_FILE=graph.dot -P check_dependencies.cmake
#       checks an existing `cmake --graphviz` file, or
#   cmake -DSOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -DCXX_COMPILER=...
#         [-DMAKE_PROGRAM=...] [-DBUILD_SERVER=ON|OFF] [-DBUILD_SIM=ON|OFF]
#         -P check_dependencies.cmake
#       configures SOURCE_DIR (the libraries only: no tests, tools or
#       benchmarks) in WORK_DIR with --graphviz and checks that graph.
cmake_minimum_required(VERSION 3.25)

include(${CMAKE_CURRENT_LIST_DIR}/dependency_rules.cmake)

if(NOT DOT_FILE)
  foreach(required SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER)
    if(NOT DEFINED ${required} OR "${${required}}" STREQUAL "")
      message(FATAL_ERROR "check_dependencies.cmake: -D${required}=... is required")
    endif()
  endforeach()
  file(REMOVE_RECURSE ${WORK_DIR})
  file(MAKE_DIRECTORY ${WORK_DIR})
  # One graph file, not one per target.
  file(WRITE ${WORK_DIR}/CMakeGraphVizOptions.cmake
    "set(GRAPHVIZ_GENERATE_PER_TARGET FALSE)\nset(GRAPHVIZ_GENERATE_DEPENDERS FALSE)\n")
  set(DOT_FILE ${WORK_DIR}/ordergate.dot)
  set(configure_command ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR} -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    -DORDERGATE_BUILD_TESTS=OFF -DORDERGATE_BUILD_BENCH=OFF -DORDERGATE_BUILD_TOOLS=OFF
    --graphviz=${DOT_FILE})
  foreach(option SERVER SIM)
    if(DEFINED BUILD_${option} AND NOT "${BUILD_${option}}" STREQUAL "")
      list(APPEND configure_command -DORDERGATE_BUILD_${option}=${BUILD_${option}})
    endif()
  endforeach()
  if(MAKE_PROGRAM)
    list(APPEND configure_command -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
  endif()
  execute_process(COMMAND ${configure_command} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0 OR NOT EXISTS ${DOT_FILE})
    message(FATAL_ERROR "check_dependencies: configuring ${SOURCE_DIR} for its graph failed:\n${output}")
  endif()
endif()

# Lines of a `cmake --graphviz` file:
#   "node8" [ label = "ordergate_core\n(ordergate::core)", shape = octagon ];
#   "node14" -> "node12"  // ordergate_gateway -> ordergate_adapters
# The label's first line is the target's name; edges of every style count
# (solid: PUBLIC, dotted: PRIVATE, dashed: INTERFACE).
file(STRINGS ${DOT_FILE} lines)
set(graph_targets "")
set(edge_count 0)
foreach(line IN LISTS lines)
  if(line MATCHES "^[ \t]*\"(node[0-9]+)\" \\[ label = \"([^\"\\\\]+)")
    set(name_of_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
    list(APPEND graph_targets "${CMAKE_MATCH_2}")
  elseif(line MATCHES "^[ \t]*\"(node[0-9]+)\" -> \"(node[0-9]+)\"")
    set(from "${name_of_${CMAKE_MATCH_1}}")
    set(to "${name_of_${CMAKE_MATCH_2}}")
    if(from STREQUAL "" OR to STREQUAL "")
      message(FATAL_ERROR "check_dependencies: edge before its nodes in ${DOT_FILE}: ${line}")
    endif()
    string(MAKE_C_IDENTIFIER "${from}" key)
    list(APPEND dependencies_of_${key} "${to}")
    math(EXPR edge_count "${edge_count} + 1")
  endif()
endforeach()

set(violations "")
foreach(target IN LISTS ordergate_rule_required_targets)
  if(NOT target IN_LIST graph_targets)
    string(APPEND violations "\n  ${target} is not in the graph (${DOT_FILE})")
  endif()
endforeach()

# Every ordergate library needs a rule: a new target is a new layer to place.
foreach(target IN LISTS graph_targets)
  if(target MATCHES "^ordergate_" AND NOT target IN_LIST ordergate_rule_targets
     AND NOT target MATCHES "^ordergate_(build_options|tomlplusplus_header_only)$")
    string(APPEND violations "\n  ${target} has no rule in tests/architecture/dependency_rules.cmake")
  endif()
endforeach()

set(checked "")
foreach(target IN LISTS ordergate_rule_targets)
  if(NOT target IN_LIST graph_targets)
    continue()
  endif()
  string(MAKE_C_IDENTIFIER "${target}" key)
  set(dependencies ${dependencies_of_${key}})
  list(REMOVE_DUPLICATES dependencies)
  list(REMOVE_ITEM dependencies ordergate_build_options)
  foreach(dependency IN LISTS dependencies)
    if(NOT dependency IN_LIST ordergate_rule_${target})
      set(allowed "${ordergate_rule_${target}}")
      if(allowed STREQUAL "")
        set(allowed "the standard library only")
      endif()
      list(JOIN allowed ", " allowed)
      string(APPEND violations "\n  ${target} must not depend on ${dependency} (allowed: ${allowed})")
    endif()
  endforeach()
  list(APPEND checked "${target}")
endforeach()

if(violations)
  message(FATAL_ERROR "check_dependencies: the dependency rules are broken:${violations}\n"
    "Fix the CMakeLists.txt that added the edge, or change the architecture on purpose:"
    " tests/architecture/dependency_rules.cmake, README.md and docs/architecture.md together.")
endif()
list(JOIN checked ", " checked_text)
message(STATUS "check_dependencies: ${edge_count} edges; within the rules: ${checked_text}")
