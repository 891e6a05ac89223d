# Compiler settings shared by every ordergate target, attached through an
# interface target so consumers of the installed package do not inherit them.
add_library(ordergate_build_options INTERFACE)
target_compile_options(ordergate_build_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual)
if(ORDERGATE_WARNINGS_AS_ERRORS)
  target_compile_options(ordergate_build_options INTERFACE -Werror)
endif()
if(ORDERGATE_SANITIZE)
  target_compile_options(ordergate_build_options INTERFACE
    -fsanitize=${ORDERGATE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(ordergate_build_options INTERFACE -fsanitize=${ORDERGATE_SANITIZE})
  if(ORDERGATE_SANITIZE MATCHES "undefined" AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # clang 14's -fsanitize=function (part of `undefined`) cannot assemble
    # some large files at -O0 ("Cannot represent a difference across
    # sections"); GCC has no such check, so this loses nothing GCC checked.
    target_compile_options(ordergate_build_options INTERFACE -fno-sanitize=function)
  endif()
  if(ORDERGATE_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # moodycamel's queue uses std::atomic_thread_fence, which GCC warns that
    # ThreadSanitizer cannot model; our own code uses no standalone fence.
    target_compile_options(ordergate_build_options INTERFACE -Wno-tsan)
  endif()
endif()

# Small copies and clears of a size known when compiling (an Order zeroed
# at the start of submit, a command cell) as unrolled moves up to 256
# bytes, not GCC's default `rep stos` / `rep movs` from 33 bytes on, whose
# start-up costs tens of cycles each on the hot path; larger ones call
# the C library (docs/benchmarks.md: 8 ns off a refused order). Given to the
# link too, which compiles again under link-time optimisation.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(ORDERGATE_STRINGOPS
    -mmemset-strategy=unrolled_loop:256:noalign,libcall:-1:noalign
    -mmemcpy-strategy=unrolled_loop:256:noalign,libcall:-1:noalign)
  target_compile_options(ordergate_build_options INTERFACE ${ORDERGATE_STRINGOPS})
  target_link_options(ordergate_build_options INTERFACE ${ORDERGATE_STRINGOPS})
endif()

# Link-time optimisation. The hot path crosses the libraries (the guards'
# checks, the rate windows, the duplicate index are called from the
# gateway's submit), and only the linker can inline across them. The
# libraries carry fat objects: normal code, which the tests and any
# consumer of the installed package link as usual, and the compiler's
# intermediate form, which a link with -flto optimises as one program
# (docs/benchmarks.md, link-time optimisation).
if(ORDERGATE_LTO AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  message(WARNING "ORDERGATE_LTO needs GCC (fat LTO objects); building without it")
  set(ORDERGATE_LTO OFF)
endif()

# Links `target` (an executable) with link-time optimisation when
# ORDERGATE_LTO is on.
function(ordergate_link_lto target)
  if(ORDERGATE_LTO)
    target_compile_options(${target} PRIVATE -flto=auto)
    target_link_options(${target} PRIVATE -flto=auto)
  endif()
endfunction()

# Adds an ordergate library target `ordergate_<name>` with the alias
# `ordergate::<name>`, public headers in <dir>/include and exported as `<name>`.
function(ordergate_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  add_library(ordergate_${name} ${ARG_SOURCES})
  add_library(ordergate::${name} ALIAS ordergate_${name})
  set_target_properties(ordergate_${name} PROPERTIES
    EXPORT_NAME ${name}
    OUTPUT_NAME ordergate_${name}
    POSITION_INDEPENDENT_CODE ON)
  target_include_directories(ordergate_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(ordergate_${name} PUBLIC cxx_std_20)
  target_link_libraries(ordergate_${name} PRIVATE $<BUILD_INTERFACE:ordergate_build_options>)
  if(ORDERGATE_LTO)
    target_compile_options(ordergate_${name} PRIVATE -flto=auto -ffat-lto-objects)
  endif()
  install(TARGETS ordergate_${name} EXPORT ordergate_targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()
