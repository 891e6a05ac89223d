#pragma once

/// \file
/// Command line of ordergate-sim. Credentials are never flags: the command
/// line names the environment variables that hold them.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ordergate::sim {

struct SimOptions {
  // Network
  std::string bind = "127.0.0.1";
  std::uint16_t port = 0;
  bool oanda = true;
  bool binance = true;
  bool admin = true;
  bool quiet = false;
  std::uint64_t seed = 1;

  // TLS
  std::string cert_file;
  std::string key_file;
  std::string ca_cert_file;
  std::string ca_key_file;
  std::vector<std::string> cert_hosts;
  bool cert_expired = false;
  std::string key_type = "ec";
  std::string write_ca;
  std::string write_ca_key;
  std::string write_cert;
  std::string write_key;
  bool print_pin = false;

  // Prices
  std::vector<std::string> oanda_prices;
  std::vector<std::string> binance_prices;
  std::vector<std::string> halted;
  bool default_prices = true;
  std::int64_t walk_ms = 0;

  // OANDA
  std::string oanda_token_env = "SIM_OANDA_TOKEN";
  std::vector<std::string> oanda_accounts;
  std::string oanda_balance = "100000";
  std::string oanda_margin_rate = "0.02";
  std::int64_t heartbeat_ms = 5000;
  std::int64_t oanda_rate_limit = 100;
  bool oanda_lookup_finished = false;

  // Binance
  std::string binance_key_env = "SIM_BINANCE_KEY";
  std::string binance_secret_env = "SIM_BINANCE_SECRET";
  std::vector<std::string> binance_balances;
  std::int64_t binance_weight_limit = 6000;
  std::int64_t binance_weight_window_ms = 60'000;
  std::int64_t binance_order_limit = 50;
  std::int64_t binance_order_window_ms = 10'000;
  std::int64_t binance_ban_ms = 120'000;
  std::int64_t binance_clock_offset_ms = 0;
  bool binance_order_429_without_retry_after = false;

  // Faults
  std::int64_t latency_ms = 0;
  double error_rate = 0.0;
  std::uint64_t error_first = 0;
  bool error_after_place = false;
  std::uint64_t drop_after = 0;
  std::int64_t idle_close_ms = 0;
  std::int64_t stall_ms = 0;
  std::string stall_path = "/";
};

/// A command line that cannot be used; the message says which flag and why.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses and checks the command line. Returns nullopt after printing
/// `--help` to stdout. Throws UsageError.
[[nodiscard]] std::optional<SimOptions> parse_options(int argc, const char* const argv[]);

}  // namespace ordergate::sim
