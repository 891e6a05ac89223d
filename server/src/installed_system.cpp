// `ordergate doctor --system`: the checks of a server where the package is
// installed (docs/deployment.md): the unit's hardening, owners and modes of
// the configuration and the state directory, the paths the sandbox lets the
// process write, and the systemd credentials the configuration needs.

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ordergate/security/credentials.hpp"
#include "ordergate/server/doctor.hpp"

namespace ordergate {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUnitName = "ordergate.service";
constexpr const char* kServiceUser = "ordergate";
constexpr const char* kConfigDirectory = "/etc/ordergate";
constexpr const char* kConfigFile = "/etc/ordergate/ordergate.toml";
constexpr const char* kStateDirectory = "/var/lib/ordergate";
constexpr const char* kRuntimeDirectory = "/run/ordergate";

// The [Service] settings of a unit and its drop-ins. Settings that add up
// (LoadCredential=, SystemCallFilter=, ...) keep every value; an empty
// assignment resets them, as systemd does.
struct UnitSettings {
  std::map<std::string, std::vector<std::string>, std::less<>> values;

  [[nodiscard]] std::optional<std::string> last(std::string_view key) const {
    const auto found = values.find(key);
    if (found == values.end() || found->second.empty()) return std::nullopt;
    return found->second.back();
  }
  [[nodiscard]] std::vector<std::string> all(std::string_view key) const {
    const auto found = values.find(key);
    return found == values.end() ? std::vector<std::string>{} : found->second;
  }
  [[nodiscard]] bool assigned(std::string_view key) const { return values.find(key) != values.end(); }
};

std::string trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t\r");
  return std::string(text.substr(begin, end - begin + 1));
}

void read_unit_file(const fs::path& path, UnitSettings& settings) {
  std::ifstream file(path);
  std::string line;
  bool service = false;
  while (std::getline(file, line)) {
    const std::string text = trim(line);
    if (text.empty() || text[0] == '#' || text[0] == ';') continue;
    if (text[0] == '[') {
      service = text == "[Service]";
      continue;
    }
    const auto equals = text.find('=');
    if (!service || equals == std::string::npos) continue;
    const std::string key = trim(std::string_view(text).substr(0, equals));
    const std::string value = trim(std::string_view(text).substr(equals + 1));
    auto& values = settings.values[key];
    if (value.empty()) {
      values.clear();
    } else {
      values.push_back(value);
    }
  }
}

fs::path under(const fs::path& root, std::string_view path) { return root / fs::path(path).relative_path(); }

std::optional<fs::path> find_unit(const fs::path& root) {
  for (const char* directory : {"/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}) {
    const fs::path path = under(root, std::string(directory) + "/" + kUnitName);
    std::error_code error;
    if (fs::is_regular_file(path, error)) return path;
  }
  return std::nullopt;
}

UnitSettings read_unit(const fs::path& root, const fs::path& unit) {
  UnitSettings settings;
  read_unit_file(unit, settings);
  // Drop-ins (systemctl edit ordergate) in name order.
  std::vector<fs::path> dropins;
  for (const char* directory : {"/lib/systemd/system", "/usr/lib/systemd/system", "/etc/systemd/system"}) {
    const fs::path folder = under(root, std::string(directory) + "/" + kUnitName + ".d");
    std::error_code error;
    for (fs::directory_iterator entry(folder, error), end; !error && entry != end; entry.increment(error)) {
      if (entry->path().extension() == ".conf") dropins.push_back(entry->path());
    }
  }
  std::sort(dropins.begin(), dropins.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  for (const fs::path& dropin : dropins) read_unit_file(dropin, settings);
  return settings;
}

bool is_yes(const std::optional<std::string>& value) {
  return value && (*value == "yes" || *value == "true" || *value == "on" || *value == "1");
}

std::vector<std::string> words(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& value : values) {
    std::size_t at = 0;
    while (at < value.size()) {
      const auto begin = value.find_first_not_of(' ', at);
      if (begin == std::string::npos) break;
      const auto end = std::min(value.find(' ', begin), value.size());
      out.push_back(value.substr(begin, end - begin));
      at = end;
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

CheckResult check_hardening(const fs::path& unit, const UnitSettings& settings) {
  std::vector<std::string> problems;
  const auto user = settings.last("User");
  if (!user || *user == "root" || *user == "0") problems.push_back("User= must name the dedicated user 'ordergate'");
  if (!is_yes(settings.last("NoNewPrivileges"))) problems.push_back("NoNewPrivileges=yes");
  if (!settings.assigned("CapabilityBoundingSet") || !settings.all("CapabilityBoundingSet").empty()) {
    problems.push_back("CapabilityBoundingSet= (empty: no capabilities)");
  }
  if (!settings.all("AmbientCapabilities").empty()) problems.push_back("no AmbientCapabilities=");
  if (settings.last("ProtectSystem") != "strict") problems.push_back("ProtectSystem=strict");
  const auto home = settings.last("ProtectHome");
  if (!home || (*home != "yes" && *home != "read-only" && *home != "tmpfs")) problems.push_back("ProtectHome=yes");
  if (!is_yes(settings.last("PrivateTmp"))) problems.push_back("PrivateTmp=yes");
  if (!is_yes(settings.last("PrivateDevices"))) problems.push_back("PrivateDevices=yes");
  if (!is_yes(settings.last("MemoryDenyWriteExecute"))) problems.push_back("MemoryDenyWriteExecute=yes");
  const auto families = words(settings.all("RestrictAddressFamilies"));
  const bool families_ok =
      !families.empty() && std::all_of(families.begin(), families.end(), [](const std::string& family) {
        return family == "AF_UNIX" || family == "AF_INET" || family == "AF_INET6";
      });
  if (!families_ok) problems.push_back("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6");
  const auto filters = words(settings.all("SystemCallFilter"));
  if (std::find(filters.begin(), filters.end(), "@system-service") == filters.end()) {
    problems.push_back("SystemCallFilter=@system-service");
  }
  const auto umask = settings.last("UMask");
  if (!umask || (*umask != "0077" && *umask != "077" && *umask != "0027" && *umask != "027")) {
    problems.push_back("UMask=0077");
  }
  if (settings.last("Type") != "notify") problems.push_back("Type=notify (READY=1 after reconciliation)");
  const auto paths = words(settings.all("ReadWritePaths"));
  for (const std::string& path : paths) {
    if (path != kStateDirectory && path != std::string("-") + kStateDirectory) {
      problems.push_back("ReadWritePaths= only " + std::string(kStateDirectory) + " (found " + path + ")");
    }
  }
  if (!problems.empty()) {
    return {"unit_hardening", CheckStatus::fail,
            unit.string() + " lacks: " + join(problems, "; ") +
                " (the packaged unit has them; a drop-in may have removed them: systemctl cat ordergate)"};
  }
  std::string message = unit.string() + ": dedicated user, no capabilities, NoNewPrivileges, ProtectSystem=strict, "
                        "ProtectHome, PrivateTmp, MemoryDenyWriteExecute, system-call filter, UMask " + *umask;
  if (!settings.last("WatchdogSec")) {
    return {"unit_hardening", CheckStatus::warn, message + "; no WatchdogSec=: a stuck gateway is not restarted"};
  }
  return {"unit_hardening", CheckStatus::pass, message + ", WatchdogSec=" + *settings.last("WatchdogSec")};
}

struct Expected {
  const char* path;
  bool directory;
  std::string owner;  // "root" or the service's user
  std::string group;  // the service's group
  mode_t mode;        // the exact mode wanted
  mode_t also;        // a stricter mode also accepted (0 none)
};

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::optional<uid_t> uid_of(const std::string& name) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the doctor is single-threaded
  const passwd* entry = ::getpwnam(name.c_str());
  return entry == nullptr ? std::nullopt : std::optional<uid_t>(entry->pw_uid);
}

std::optional<gid_t> gid_of(const std::string& name) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the doctor is single-threaded
  const group* entry = ::getgrnam(name.c_str());
  return entry == nullptr ? std::nullopt : std::optional<gid_t>(entry->gr_gid);
}

CheckResult check_path(const fs::path& root, const Expected& expected) {
  const fs::path path = under(root, expected.path);
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) {
    if (std::string_view(expected.path) == kStateDirectory) {
      return {"system_files", CheckStatus::warn,
              path.string() + " does not exist yet: the package's postinst and StateDirectory= create it"};
    }
    return {"system_files", CheckStatus::fail, path.string() + " does not exist: reinstall the package"};
  }
  const bool type_ok = expected.directory ? S_ISDIR(status.st_mode) : S_ISREG(status.st_mode);
  if (!type_ok) {
    return {"system_files", CheckStatus::fail,
            path.string() + (expected.directory ? " is not a directory" : " is not a regular file (a link?)")};
  }
  std::vector<std::string> problems;
  const auto uid = uid_of(expected.owner);
  const auto gid = gid_of(expected.group);
  if (!uid || !gid) {
    problems.push_back("owner not checked (no user " + expected.owner + " or group " + expected.group + ")");
  } else if (status.st_uid != *uid || status.st_gid != *gid) {
    problems.push_back("owned by " + std::to_string(status.st_uid) + ":" + std::to_string(status.st_gid) + ", not " +
                       expected.owner + ":" + expected.group + " (chown " + expected.owner + ":" + expected.group +
                       " " + path.string() + ")");
  }
  const mode_t mode = status.st_mode & 07777;
  if (mode != expected.mode && mode != expected.also) {
    problems.push_back("mode " + octal(mode) + ", not " + octal(expected.mode) + " (chmod " +
                       octal(expected.mode) + " " + path.string() + ")");
  }
  if (!problems.empty()) return {"system_files", CheckStatus::fail, path.string() + ": " + join(problems, "; ")};
  return {"system_files", CheckStatus::pass,
          path.string() + ": " + expected.owner + ":" + expected.group + " " + octal(mode)};
}

// Appends the parts: messages built in loops without temporaries.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

bool inside(std::string_view path, std::string_view directory) {
  return path.size() > directory.size() && path.starts_with(directory) && path[directory.size()] == '/';
}

// The sandbox lets the process write only the state directory and create
// its socket only in the runtime directory.
CheckResult check_sandbox_paths(const ProcessConfig& config) {
  std::vector<std::string> problems;
  if (config.audit.enabled && !inside(config.audit.path, kStateDirectory)) {
    problems.push_back("[audit] path " + config.audit.path);
  }
  if (!config.gateway.state_path.empty() && !inside(config.gateway.state_path.string(), kStateDirectory)) {
    problems.push_back("[state] path " + config.gateway.state_path.string());
  }
  if (!problems.empty()) {
    return {"sandbox_paths", CheckStatus::fail,
            join(problems, ", ") + " outside " + kStateDirectory +
                ": ProtectSystem=strict makes the rest of the system read-only for the service"};
  }
  if (!inside(config.server.socket_path, kRuntimeDirectory)) {
    return {"sandbox_paths", CheckStatus::fail,
            "socket_path " + (config.server.socket_path.empty() ? std::string("(default)") : config.server.socket_path) +
                " is not in " + kRuntimeDirectory + " (RuntimeDirectory=ordergate): set socket_path = \"" +
                kRuntimeDirectory + "/ordergate.sock\""};
  }
  return {"sandbox_paths", CheckStatus::pass,
          "journal and state under " + std::string(kStateDirectory) + ", socket " + config.server.socket_path};
}

// The name in LoadCredential=NAME:PATH, LoadCredentialEncrypted=NAME:PATH,
// SetCredential=NAME:VALUE; and the path when there is one.
std::map<std::string, std::string, std::less<>> unit_credentials(const UnitSettings& settings) {
  std::map<std::string, std::string, std::less<>> found;
  for (const char* key : {"LoadCredential", "LoadCredentialEncrypted", "SetCredential", "SetCredentialEncrypted"}) {
    const bool load = std::string_view(key).starts_with("Load");
    for (const std::string& value : settings.all(key)) {
      const auto colon = value.find(':');
      const std::string name = value.substr(0, colon);
      found.emplace(name, load && colon != std::string::npos ? value.substr(colon + 1) : std::string());
    }
  }
  return found;
}

void check_credentials(const fs::path& root, const ProcessConfig& config, const std::optional<UnitSettings>& unit,
                       std::vector<CheckResult>& results) {
  if (!config.credentials.systemd_credentials) return;
  if (!unit) {
    results.push_back({"systemd_credentials", CheckStatus::fail,
                       "[secrets] systemd_credentials = true but no ordergate.service unit is installed to pass them"});
    return;
  }
  const auto passed = unit_credentials(*unit);
  const std::string prefix(security::environment_prefix(config.credentials.environment));
  for (const auto& [key, name] : doctor_credential_names(config)) {
    const std::string variable = prefix + name;
    const auto found = passed.find(variable);
    if (found == passed.end()) {
      results.push_back({"systemd_credentials", CheckStatus::fail,
                         concat(key, ": ", variable, " is not passed by the unit: add LoadCredentialEncrypted=", variable,
                                ":/etc/credstore.encrypted/", variable, " in a drop-in (docs/secrets.md)")});
      continue;
    }
    if (found->second.empty() || found->second[0] != '/') {
      results.push_back({"systemd_credentials", CheckStatus::pass, concat(key, ": ", variable, " is passed by the unit")});
      continue;
    }
    std::error_code error;
    if (!fs::is_regular_file(under(root, found->second), error)) {
      results.push_back({"systemd_credentials", CheckStatus::fail,
                         concat(key, ": ", variable, " is loaded from ", found->second,
                                ", which does not exist: create it with systemd-creds encrypt (docs/secrets.md)")});
      continue;
    }
    results.push_back({"systemd_credentials", CheckStatus::pass,
                       concat(key, ": ", variable, " is passed by the unit from ", found->second)});
  }
}

}  // namespace

std::vector<CheckResult> check_installed_system(const ProcessConfig* config, const DoctorOptions& options) {
  std::vector<CheckResult> results;
  const fs::path& root = options.root;
  std::optional<UnitSettings> settings;
  if (const auto unit = find_unit(root)) {
    settings = read_unit(root, *unit);
    results.push_back(check_hardening(*unit, *settings));
  } else {
    results.push_back({"unit_hardening", CheckStatus::warn,
                       std::string(kUnitName) + " is not installed under " + root.string() +
                           ": the unit's hardening is not checked"});
  }
  // The unit names the user and group; the package's are 'ordergate'.
  const std::string user = settings ? settings->last("User").value_or(kServiceUser) : kServiceUser;
  const std::string group = settings ? settings->last("Group").value_or(user) : user;
  if (!uid_of(user) || !gid_of(group)) {
    results.push_back({"service_user", CheckStatus::fail,
                       "user " + user + " or group " + group +
                           " does not exist: the package's postinst creates them (dpkg-reconfigure ordergate)"});
  } else {
    results.push_back({"service_user", CheckStatus::pass, "user " + user + ", group " + group});
  }
  results.push_back(check_path(root, {kConfigDirectory, true, "root", group, 0750, 0}));
  results.push_back(check_path(root, {kConfigFile, false, "root", group, 0640, 0}));
  results.push_back(check_path(root, {kStateDirectory, true, user, group, 0750, 0700}));
  if (config != nullptr) {
    results.push_back(check_sandbox_paths(*config));
    check_credentials(root, *config, settings, results);
  }
  return results;
}

}  // namespace ordergate
