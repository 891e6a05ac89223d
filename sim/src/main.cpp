// ordergate-sim: an HTTPS simulator of the OANDA v20 and Binance spot REST
// APIs, for the broker adapters' tests and for trying the gateway locally.
// See docs/simulator.md. One io_context thread runs everything.

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "binance_venue.hpp"
#include "market.hpp"
#include "oanda_venue.hpp"
#include "options.hpp"
#include "router.hpp"
#include "server.hpp"
#include "tls_identity.hpp"

namespace {

using namespace ordergate;
using namespace ordergate::sim;

constexpr int kExitUsage = 2;
constexpr auto kTickInterval = std::chrono::milliseconds(20);

/// Reads a credential from the environment variable `name`; the value never
/// appears in any message.
security::Secret credential(const std::string& name, const char* flag) {
  const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): start-up option parsing, before any thread
  if (value == nullptr || *value == '\0') {
    throw UsageError("environment variable " + name + " (named by " + flag +
                     ") is not set or empty; export the credential there");
  }
  return security::Secret(value);
}

Decimal decimal_option(const std::string& text, const char* flag) {
  const auto value = parse_decimal(text);
  if (!value || value->is_negative()) throw UsageError(std::string(flag) + ": '" + text + "' is not a decimal");
  return *value;
}

TlsIdentity make_identity(const SimOptions& options) {
  TlsIdentity identity;
  if (!options.cert_file.empty()) {
    identity = load_identity(options.cert_file, options.key_file);
  } else {
    CertificateRequest request;
    if (!options.cert_hosts.empty()) request.hosts = options.cert_hosts;
    request.expired = options.cert_expired;
    request.key_type = options.key_type == "rsa" ? KeyType::rsa_2048 : KeyType::ec_p256;
    if (!options.ca_cert_file.empty()) {
      request.ca_cert_pem = read_text_file(options.ca_cert_file);
      request.ca_key_pem = read_text_file(options.ca_key_file);
    }
    identity = generate_identity(request);
  }
  if (!options.write_ca.empty()) write_text_file(options.write_ca, identity.ca_cert_pem, 0644);
  if (!options.write_ca_key.empty()) write_text_file(options.write_ca_key, identity.ca_key_pem, 0600);
  if (!options.write_cert.empty()) write_text_file(options.write_cert, identity.cert_pem, 0644);
  if (!options.write_key.empty()) write_text_file(options.write_key, identity.key_pem, 0600);
  return identity;
}

int run(const SimOptions& options) {
  const Logger log(options.quiet);
  const TlsIdentity identity = make_identity(options);
  if (options.print_pin) {
    std::printf("%s\n", identity.pin.c_str());
    return 0;
  }

  // A simulator that cannot authenticate anyone is useless: refuse to start.
  std::optional<security::Secret> oanda_token;
  std::optional<security::Secret> binance_key;
  std::optional<security::Secret> binance_secret;
  if (options.oanda) oanda_token = credential(options.oanda_token_env, "--oanda-token-env");
  if (options.binance) {
    binance_key = credential(options.binance_key_env, "--binance-key-env");
    binance_secret = credential(options.binance_secret_env, "--binance-secret-env");
  }

  PriceBoard board(options.seed);
  if (options.default_prices) add_default_instruments(board);
  try {
    for (const auto& spec : options.oanda_prices) board.add(parse_instrument_spec(spec, Venue::oanda));
    for (const auto& spec : options.binance_prices) board.add(parse_instrument_spec(spec, Venue::binance));
  } catch (const std::invalid_argument& error) {
    throw UsageError(error.what());
  }
  for (const auto& name : options.halted) {
    if (!board.set_halted(Venue::oanda, name, true) && !board.set_halted(Venue::binance, name, true)) {
      throw UsageError("--halt: unknown instrument '" + name + "'");
    }
  }

  Stats stats;
  FaultInjector faults(options.seed, options.error_rate, options.error_first, options.error_after_place);

  std::unique_ptr<OandaVenue> oanda;
  if (options.oanda) {
    OandaConfig config;
    if (!options.oanda_accounts.empty()) config.accounts = options.oanda_accounts;
    config.balance = decimal_option(options.oanda_balance, "--oanda-balance");
    config.margin_rate = decimal_option(options.oanda_margin_rate, "--oanda-margin-rate");
    config.heartbeat_ms = options.heartbeat_ms;
    config.requests_per_second = options.oanda_rate_limit;
    config.lookup_finished_by_client_id = options.oanda_lookup_finished;
    oanda = std::make_unique<OandaVenue>(std::move(config), std::move(*oanda_token), board, faults, stats, log);
  }
  std::unique_ptr<BinanceVenue> binance;
  if (options.binance) {
    BinanceConfig config;
    if (!options.binance_balances.empty()) {
      config.balances.clear();
      for (const auto& spec : options.binance_balances) {
        const std::size_t equals = spec.find('=');
        if (equals == std::string::npos || equals == 0) {
          throw UsageError("--binance-balance: expected ASSET=AMOUNT, got '" + spec + "'");
        }
        config.balances[spec.substr(0, equals)] = decimal_option(spec.substr(equals + 1), "--binance-balance");
      }
    }
    config.weight_limit = options.binance_weight_limit;
    config.weight_window_ms = options.binance_weight_window_ms;
    config.order_limit = options.binance_order_limit;
    config.order_window_ms = options.binance_order_window_ms;
    config.ban_ms = options.binance_ban_ms;
    config.clock_offset_ms = options.binance_clock_offset_ms;
    config.order_limit_retry_after = !options.binance_order_429_without_retry_after;
    binance = std::make_unique<BinanceVenue>(std::move(config), std::move(*binance_key), std::move(*binance_secret),
                                             board, faults, stats, log);
  }
  std::unique_ptr<Admin> admin;
  if (options.admin) admin = std::make_unique<Admin>(board, oanda.get(), binance.get(), faults, stats, log);
  Router router(oanda.get(), binance.get(), admin.get());

  ServerOptions server_options;
  server_options.bind_address = options.bind;
  server_options.port = options.port;
  server_options.latency = std::chrono::milliseconds(options.latency_ms);
  server_options.stall = std::chrono::milliseconds(options.stall_ms);
  server_options.stall_prefix = options.stall_path;
  server_options.drop_after = options.drop_after;
  server_options.idle_close = std::chrono::milliseconds(options.idle_close_ms);

  boost::asio::io_context io(1);
  Server server(io, identity, router, server_options, stats, log);
  server.start();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    log.info(std::string("stopping on ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM"));
    server.stop();
    io.stop();
  });

  // One periodic tick drives heartbeats, GTD expiry and the random walk.
  boost::asio::steady_timer ticker(io);
  auto next_walk = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.walk_ms);
  std::function<void()> schedule = [&] {
    ticker.expires_after(kTickInterval);
    ticker.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      if (options.walk_ms > 0 && std::chrono::steady_clock::now() >= next_walk) {
        next_walk += std::chrono::milliseconds(options.walk_ms);
        board.walk();
      }
      if (oanda) oanda->on_timer(wall_ns());
      schedule();
    });
  };
  schedule();

  log.info("listening on " + options.bind + ":" + std::to_string(server.port()) + " (venues:" +
           (options.oanda ? " oanda" : "") + (options.binance ? " binance" : "") + ")");
  if (options.write_ca.empty() && options.cert_file.empty()) {
    log.info("no --write-ca given: clients have no way to trust the generated CA");
  }
  std::printf("ordergate-sim ready port=%u ca=%s pin=%s\n", static_cast<unsigned>(server.port()),
              options.write_ca.empty() ? "-" : options.write_ca.c_str(), identity.pin.c_str());
  std::fflush(stdout);

  io.run();
  return 0;
}

}  // namespace

int main(int argc, char* argv[]) {
  std::signal(SIGPIPE, SIG_IGN);
  try {
    const auto options = parse_options(argc, argv);
    if (!options) return 0;
    return run(*options);
  } catch (const UsageError& error) {
    std::fprintf(stderr, "ordergate-sim: %s\n", error.what());
    return kExitUsage;
  } catch (const TlsError& error) {
    std::fprintf(stderr, "ordergate-sim: %s\n", error.what());
    return kExitUsage;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ordergate-sim: %s\n", error.what());
    return 1;
  }
}
