// Uses the installed ordergate package's process library (ordergate::server):
// parses a configuration text, refuses a bad one with its file and line,
// runs the doctor on it written to a file, and applies the production rules.
// Exit code 0 only if all holds.

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <unistd.h>

#include <ordergate/server/config_file.hpp>
#include <ordergate/server/doctor.hpp>

namespace {

constexpr std::string_view kConfig = R"(environment = "development"

[gateway]
order_capacity = 64

[[instruments]]
name = "EUR/USD"
tick_size = "0.00001"
lot_step = "1"
min_quantity = "1"
max_quantity = "50000000"
max_order_quantity = "1000000"
max_notional = "2000000"
max_position = "5000000"
price_band_bps = 100
max_open_orders = 100
max_quote_age = "5s"

[[accounts]]
name = "paper"
broker = "paper"

[[paper.quotes]]
symbol = "EUR/USD"
bid = "1.08460"
ask = "1.08463"

[[principals]]
name = "strategy"
token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
permissions = ["trade", "cancel"]
accounts = ["paper"]
symbols = ["EUR/USD"]
rate_limits = ["20/1s"]
)";

bool fail(const std::string& what) {
  std::fprintf(stderr, "ordergate-server-consumer: %s\n", what.c_str());
  return false;
}

bool parses_a_configuration() {
  const ordergate::ProcessConfig config = ordergate::parse_config_text(kConfig, "consumer.toml");
  if (config.environment != "development") return fail("environment is not development");
  if (config.gateway.instruments.size() != 1 || config.gateway.instruments[0].name != "EUR/USD") {
    return fail("the instrument EUR/USD was not read");
  }
  if (config.auth.size() != 1 || config.auth[0].name != "strategy" || !config.auth[0].has_token) {
    return fail("the principal 'strategy' and its token hash were not read");
  }
  if (!ordergate::production_violations(config).empty()) {
    return fail("a development configuration has production violations");
  }
  std::string production(kConfig);
  production.replace(production.find("development"), std::string_view("development").size(), "production");
  if (ordergate::production_violations(ordergate::parse_config_text(production, "production.toml")).empty()) {
    return fail("a production configuration without an audit journal has no production violations");
  }
  return true;
}

bool refuses_an_unknown_key_naming_file_and_line() {
  std::string bad(kConfig);
  bad.insert(bad.find("order_capacity"), "order_capacityy = 64\n");
  try {
    (void)ordergate::parse_config_text(bad, "bad.toml");
  } catch (const ordergate::ConfigError& error) {
    const std::string message = error.what();
    if (message.find("bad.toml:4") == std::string::npos || message.find("order_capacityy") == std::string::npos) {
      return fail("the error does not name bad.toml:4 and the key: " + message);
    }
    return true;
  }
  return fail("an unknown key was accepted");
}

bool the_doctor_passes_it_with_a_warning_about_audit() {
  const std::filesystem::path directory =
      std::filesystem::temp_directory_path() / ("ordergate-server-consumer-" + std::to_string(::getpid()));
  std::filesystem::create_directories(directory);
  const std::filesystem::path path = directory / "ordergate.toml";
  {
    std::ofstream file(path);
    file << kConfig;
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const std::vector<ordergate::CheckResult> results = ordergate::run_doctor(path.string());
  std::error_code ignored;
  std::filesystem::remove_all(directory, ignored);

  bool config_passed = false;
  bool audit_warned = false;
  for (const ordergate::CheckResult& result : results) {
    if (result.status == ordergate::CheckStatus::fail) return fail("doctor: FAIL " + result.name + ": " + result.message);
    if (result.name == "config") config_passed = result.status == ordergate::CheckStatus::pass;
    if (result.name == "audit") audit_warned = result.status == ordergate::CheckStatus::warn;
  }
  if (!config_passed) return fail("doctor: the config check did not PASS");
  if (!audit_warned) return fail("doctor: no WARN about the disabled audit journal");
  return true;
}

}  // namespace

int main() {
  try {
    if (!parses_a_configuration() || !refuses_an_unknown_key_naming_file_and_line() ||
        !the_doctor_passes_it_with_a_warning_about_audit()) {
      return 1;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ordergate-server-consumer: %s\n", error.what());
    return 1;
  }
  std::puts("ordergate-server-consumer: parsed, refused and checked as expected");
  return 0;
}
