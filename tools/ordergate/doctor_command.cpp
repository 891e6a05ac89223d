// ordergate doctor: the pre-deployment checklist.

#include <unistd.h>

#include <cstdio>
#include <string>

#include "commands.hpp"
#include "ordergate/server/doctor.hpp"

namespace ordergate::cli {
namespace {

constexpr const char* kDoctorHelp =
    "usage: ordergate doctor --config FILE [--json] [--system [--root DIR]]\n"
    "\n"
    "Checks a configuration before deployment and prints one line per check:\n"
    "PASS, WARN or FAIL, with what to do. Exit status 0 when nothing FAILs,\n"
    "1 otherwise, so it can gate a CI pipeline. --json prints the results as\n"
    "a JSON array instead.\n"
    "\n"
    "--system also checks the installed service (on by itself for a file under\n"
    "/etc/ordergate/): the hardening of ordergate.service and its drop-ins,\n"
    "owners and modes of /etc/ordergate and /var/lib/ordergate, the paths the\n"
    "sandbox lets it write, and the systemd credentials the configuration\n"
    "needs. --root DIR checks a system unpacked under DIR instead of /.\n";

std::string json_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buffer;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

int doctor_command(const Args& args) {
  std::string config_path;
  bool json = false;
  DoctorOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kDoctorHelp, stdout);
      return 0;
    }
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_path = args[++i];
    } else if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--system") {
      options.system = true;
    } else if (args[i] == "--root" && i + 1 < args.size()) {
      options.root = args[++i];
    } else {
      std::fputs(kDoctorHelp, stderr);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fputs(kDoctorHelp, stderr);
    return 2;
  }
  const std::vector<CheckResult> results = run_doctor(config_path, options);
  bool failed = false;
  if (json) std::fputs("[", stdout);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const CheckResult& result = results[i];
    failed = failed || result.status == CheckStatus::fail;
    const std::string_view status = to_string(result.status);
    if (json) {
      std::printf("%s\n  {\"check\":\"%s\",\"status\":\"%.*s\",\"message\":\"%s\"}", i == 0 ? "" : ",",
                  json_escape(result.name).c_str(), static_cast<int>(status.size()), status.data(),
                  json_escape(result.message).c_str());
    } else {
      std::printf("%.*s  %-20s %s\n", static_cast<int>(status.size()), status.data(), result.name.c_str(),
                  result.message.c_str());
    }
  }
  if (json) std::fputs("\n]\n", stdout);
  return failed ? 1 : 0;
}

}  // namespace ordergate::cli
