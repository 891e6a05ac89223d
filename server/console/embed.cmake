# Writes console_assets.hpp: the console's page, script and style sheet as
# string constants, so the binary serves them with no file on disk.
# Run by server/CMakeLists.txt at build time:
#   cmake -DSOURCE_DIR=... -DOUTPUT=... -P embed.cmake
set(text "#pragma once\n// Generated from server/console/ by embed.cmake: do not edit.\n#include <string_view>\nnamespace ordergate::server_detail::console_assets {\n")
foreach(pair "kIndexHtml;index.html" "kConsoleJs;console.js" "kConsoleCss;console.css")
  list(GET pair 0 name)
  list(GET pair 1 file)
  file(READ "${SOURCE_DIR}/${file}" content)
  string(FIND "${content}" ")ogasset\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${file} contains the raw-string delimiter )ogasset\"")
  endif()
  string(APPEND text "inline constexpr std::string_view ${name} = R\"ogasset(${content})ogasset\";\n")
endforeach()
string(APPEND text "}  // namespace ordergate::server_detail::console_assets\n")
file(WRITE "${OUTPUT}.tmp" "${text}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
