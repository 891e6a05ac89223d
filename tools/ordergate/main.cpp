// ordergate: the gateway process and its operator tools.

#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>

#include "commands.hpp"

namespace {

struct Command {
  const char* name;
  int (*run)(const ordergate::cli::Args&);
  const char* help;
};

constexpr Command kCommands[] = {
    {"run", ordergate::cli::run_command, "run the gateway (embedded default without --config)"},
    {"token", ordergate::cli::token_command, "token new --principal NAME: make a client token"},
    {"doctor", ordergate::cli::doctor_command, "doctor --config FILE [--json]: pre-deployment checklist"},
    {"secrets", ordergate::cli::secrets_command, "keygen | encrypt | decrypt: Fernet-encrypted secrets files"},
    {"audit", ordergate::cli::audit_command, "verify FILE... | tail FILE: check or review the audit journal"},
    {"cluster", ordergate::cli::cluster_command, "status --config FILE: members and shared state in Redis"},
};

void usage(std::FILE* out) {
  std::fprintf(out, "usage: ordergate <command> [options]\n\ncommands:\n");
  for (const Command& command : kCommands) std::fprintf(out, "  %-8s %s\n", command.name, command.help);
  std::fprintf(out, "\n'ordergate <command> --help' describes a command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string_view name = argv[1];
  for (const Command& command : kCommands) {
    if (name != command.name) continue;
    ordergate::cli::Args args(argv + 2, argv + argc);
    try {
      return command.run(args);
    } catch (const std::exception& e) {
      // Exceptions at this edge carry messages written for operators; they
      // never contain secret values (see docs/security.md).
      std::fprintf(stderr, "ordergate %s: %s\n", command.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "ordergate: unknown command '%.*s'\n\n", static_cast<int>(name.size()), name.data());
  usage(stderr);
  return 2;
}
