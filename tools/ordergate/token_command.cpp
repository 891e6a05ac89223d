// ordergate token: make and hash client tokens.

#include <cstdio>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "ordergate/security/token.hpp"

namespace ordergate::cli {
namespace {

constexpr const char* kTokenHelp =
    "usage: ordergate token new --principal NAME\n"
    "       ordergate token hash < token.txt\n"
    "\n"
    "new   makes a 32-byte random token (base64url, never beginning with '-'),\n"
    "      prints it once, and prints the token_sha256 line to paste into that\n"
    "      principal's [[principals]] entry.\n"
    "      The configuration only ever holds the hash.\n"
    "hash  reads a token from standard input and prints its token_sha256 line.\n";

}  // namespace

int token_command(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kTokenHelp, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "new") {
    if (args.size() != 3 || args[1] != "--principal" || args[2].empty()) {
      std::fputs(kTokenHelp, stderr);
      return 2;
    }
    const security::Secret token = security::generate_token();
    const std::string digest = security::to_hex(security::token_digest(token.reveal()));
    std::printf("token for principal '%s' (shown once; give it to the strategy, keep it out of files):\n",
                args[2].c_str());
    std::printf("%.*s\n\n", static_cast<int>(token.size()), token.reveal().data());
    std::printf("add to its [[principals]] entry:\ntoken_sha256 = \"%s\"\n", digest.c_str());
    return 0;
  }
  if (args[0] == "hash" && args.size() == 1) {
    std::string line;
    std::getline(std::cin, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) {
      std::fputs("ordergate token hash: no token on standard input\n", stderr);
      return 1;
    }
    std::printf("token_sha256 = \"%s\"\n", security::to_hex(security::token_digest(line)).c_str());
    security::wipe(line.data(), line.size());
    return 0;
  }
  std::fputs(kTokenHelp, stderr);
  return 2;
}

}  // namespace ordergate::cli
