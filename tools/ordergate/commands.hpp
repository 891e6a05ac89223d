#pragma once

// Subcommands of the `ordergate` CLI. Each lives in its own file and returns
// the process exit status. Arguments are those after the subcommand name.

#include <string>
#include <vector>

namespace ordergate::cli {

using Args = std::vector<std::string>;

int run_command(const Args& args);      // run the gateway process (run_command.cpp)
int token_command(const Args& args);    // client tokens (token_command.cpp)
int doctor_command(const Args& args);   // pre-deployment checklist (doctor_command.cpp)
int secrets_command(const Args& args);  // Fernet keys and encrypted secrets files (secrets_command.cpp)
int audit_command(const Args& args);    // audit journal: verify, tail (audit_command.cpp)
int cluster_command(const Args& args);  // cluster members and shared state (cluster_command.cpp)

}  // namespace ordergate::cli
