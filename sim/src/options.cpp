#include "options.hpp"

#include <boost/program_options.hpp>
#include <iostream>

#include "http_types.hpp"

namespace ordergate::sim {

namespace po = boost::program_options;

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw UsageError(message);
}

}  // namespace

std::optional<SimOptions> parse_options(int argc, const char* const argv[]) {
  SimOptions o;
  std::string venues = "oanda,binance";

  po::options_description general("General");
  general.add_options()
      ("help,h", "print this help and exit")
      ("bind", po::value(&o.bind)->default_value(o.bind), "listen address")
      ("port", po::value(&o.port)->default_value(o.port), "listen port; 0 picks a free one (see the ready line)")
      ("venues", po::value(&venues)->default_value(venues), "venues to serve: oanda, binance or both (comma-separated)")
      ("no-admin", po::bool_switch(), "disable the test-only /sim/ endpoints")
      ("quiet", po::bool_switch(&o.quiet), "log startup and errors only, not every request")
      ("seed", po::value(&o.seed)->default_value(o.seed), "seed for the random walk and --error-rate");

  po::options_description tls("TLS (TLS 1.2 minimum)");
  tls.add_options()
      ("cert", po::value(&o.cert_file), "serve this certificate (PEM, chain allowed) instead of generating one")
      ("key", po::value(&o.key_file), "private key (PEM) for --cert")
      ("ca-cert", po::value(&o.ca_cert_file), "issue the generated server certificate from this CA (PEM)")
      ("ca-key", po::value(&o.ca_key_file), "private key (PEM) of --ca-cert")
      ("cert-host", po::value(&o.cert_hosts)->composing(),
       "subject alternative name of the generated certificate (repeatable; default localhost and 127.0.0.1)")
      ("cert-expired", po::bool_switch(&o.cert_expired), "generate a certificate that expired yesterday")
      ("key-type", po::value(&o.key_type)->default_value(o.key_type), "generated key type: ec (P-256) or rsa (2048)")
      ("write-ca", po::value(&o.write_ca), "write the CA certificate (PEM) here, for clients' ca_file")
      ("write-ca-key", po::value(&o.write_ca_key), "write the CA private key here (mode 0600), for a later --ca-key")
      ("write-cert", po::value(&o.write_cert), "write the served certificate here, for a later --cert")
      ("write-key", po::value(&o.write_key), "write the served private key here (mode 0600), for a later --key")
      ("print-pin", po::bool_switch(&o.print_pin), "print the public-key pin (sha256//...) and exit");

  po::options_description prices("Prices");
  prices.add_options()
      ("oanda-price", po::value(&o.oanda_prices)->composing(),
       "OANDA quote NAME=BID/ASK[/LIQUIDITY], e.g. EUR_USD=1.08450/1.08460 (repeatable)")
      ("binance-price", po::value(&o.binance_prices)->composing(),
       "Binance quote NAME=BID/ASK[/LEVEL_QTY], e.g. BTCUSDT=64000.00/64000.01/2 (repeatable)")
      ("halt", po::value(&o.halted)->composing(), "start with this instrument halted (repeatable)")
      ("no-default-prices", po::bool_switch(), "serve only the instruments given by --oanda-price/--binance-price")
      ("walk-ms", po::value(&o.walk_ms)->default_value(o.walk_ms), "random-walk step every N ms (0 = prices move only via /sim/price)");

  po::options_description oanda("OANDA v20");
  oanda.add_options()
      ("oanda-token-env", po::value(&o.oanda_token_env)->default_value(o.oanda_token_env),
       "environment variable holding the bearer token clients must send")
      ("oanda-account", po::value(&o.oanda_accounts)->composing(), "account id (repeatable; default 101-001-0000000-001)")
      ("oanda-balance", po::value(&o.oanda_balance)->default_value(o.oanda_balance), "account balance (USD)")
      ("oanda-margin-rate", po::value(&o.oanda_margin_rate)->default_value(o.oanda_margin_rate), "margin rate (0.02 = 50:1)")
      ("heartbeat-ms", po::value(&o.heartbeat_ms)->default_value(o.heartbeat_ms), "transaction stream heartbeat interval")
      ("oanda-rate-limit", po::value(&o.oanda_rate_limit)->default_value(o.oanda_rate_limit),
       "requests per second per connection before 429 (0 = unlimited)")
      ("oanda-lookup-finished", po::bool_switch(&o.oanda_lookup_finished),
       "let GET orders/@clientID find filled and cancelled orders too (real OANDA: pending only)");

  po::options_description binance("Binance spot");
  binance.add_options()
      ("binance-key-env", po::value(&o.binance_key_env)->default_value(o.binance_key_env),
       "environment variable holding the API key clients must send in X-MBX-APIKEY")
      ("binance-secret-env", po::value(&o.binance_secret_env)->default_value(o.binance_secret_env),
       "environment variable holding the HMAC secret key")
      ("binance-balance", po::value(&o.binance_balances)->composing(),
       "starting balance ASSET=AMOUNT (repeatable; default USDT=1000000 BTC=10 ETH=100)")
      ("binance-weight-limit", po::value(&o.binance_weight_limit)->default_value(o.binance_weight_limit),
       "request weight per window per IP")
      ("binance-weight-window-ms", po::value(&o.binance_weight_window_ms)->default_value(o.binance_weight_window_ms),
       "request weight window")
      ("binance-order-limit", po::value(&o.binance_order_limit)->default_value(o.binance_order_limit),
       "new orders per order window")
      ("binance-order-window-ms", po::value(&o.binance_order_window_ms)->default_value(o.binance_order_window_ms),
       "order-count window")
      ("binance-ban-ms", po::value(&o.binance_ban_ms)->default_value(o.binance_ban_ms),
       "first 418 ban after requests during a 429's Retry-After; doubles per offence")
      ("binance-clock-offset-ms", po::value(&o.binance_clock_offset_ms)->default_value(o.binance_clock_offset_ms),
       "shift the server clock (serverTime, recvWindow checks) by N ms")
      ("binance-order-429-without-retry-after", po::bool_switch(&o.binance_order_429_without_retry_after),
       "order-count 429s (-1015) carry no Retry-After and never lead to a 418, as Binance documents");

  po::options_description faults("Fault injection");
  faults.add_options()
      ("latency-ms", po::value(&o.latency_ms)->default_value(o.latency_ms), "delay every response by N ms")
      ("error-rate", po::value(&o.error_rate)->default_value(o.error_rate),
       "answer 503 to order requests (place, cancel) with probability P (seeded)")
      ("error-first", po::value(&o.error_first)->default_value(o.error_first), "answer 503 to the first N order requests")
      ("error-after-place", po::bool_switch(&o.error_after_place),
       "injected 503s happen after the order is placed (its fate is unknown to the client)")
      ("drop-after", po::value(&o.drop_after)->default_value(o.drop_after),
       "close each connection abruptly after N responses (0 = never)")
      ("idle-close-ms", po::value(&o.idle_close_ms)->default_value(o.idle_close_ms),
       "close connections idle for N ms (0 = never)")
      ("stall-ms", po::value(&o.stall_ms)->default_value(o.stall_ms), "delay responses on --stall-path by N ms")
      ("stall-path", po::value(&o.stall_path)->default_value(o.stall_path), "path prefix for --stall-ms");

  po::options_description all("ordergate-sim: HTTPS simulator of the OANDA v20 and Binance spot REST APIs\n"
                              "Credentials come from environment variables named by the --*-env flags.\n\nOptions");
  all.add(general).add(tls).add(prices).add(oanda).add(binance).add(faults);

  po::variables_map values;
  try {
    po::store(po::parse_command_line(argc, argv, all), values);
    po::notify(values);
  } catch (const po::error& error) {
    throw UsageError(std::string(error.what()) + " (see --help)");
  }
  if (values.count("help") != 0) {
    std::cout << all << '\n';
    return std::nullopt;
  }
  o.admin = !values["no-admin"].as<bool>();
  o.default_prices = !values["no-default-prices"].as<bool>();

  o.oanda = o.binance = false;
  for (std::string_view venue : split(venues, ',')) {
    if (venue == "oanda") {
      o.oanda = true;
    } else if (venue == "binance") {
      o.binance = true;
    } else {
      throw UsageError("--venues: unknown venue '" + std::string(venue) + "' (oanda, binance)");
    }
  }
  require(o.oanda || o.binance, "--venues: name at least one venue");

  const bool loaded = !o.cert_file.empty() || !o.key_file.empty();
  require(o.cert_file.empty() == o.key_file.empty(), "--cert and --key go together");
  require(o.ca_cert_file.empty() == o.ca_key_file.empty(), "--ca-cert and --ca-key go together");
  require(!loaded || (o.ca_cert_file.empty() && o.cert_hosts.empty() && !o.cert_expired && o.write_ca.empty() &&
                      o.write_ca_key.empty()),
          "--cert/--key serve given files; --ca-*, --cert-host, --cert-expired and --write-ca* apply only to a "
          "generated certificate");
  require(o.key_type == "ec" || o.key_type == "rsa", "--key-type is ec or rsa");
  require(o.error_rate >= 0.0 && o.error_rate <= 1.0, "--error-rate is a probability between 0 and 1");
  require(o.walk_ms >= 0 && o.latency_ms >= 0 && o.stall_ms >= 0 && o.idle_close_ms >= 0,
          "--walk-ms, --latency-ms, --stall-ms and --idle-close-ms cannot be negative");
  require(o.heartbeat_ms > 0, "--heartbeat-ms must be positive");
  require(o.oanda_rate_limit >= 0, "--oanda-rate-limit cannot be negative");
  require(o.binance_weight_limit > 0 && o.binance_order_limit > 0, "Binance limits must be positive");
  require(o.binance_weight_window_ms >= 1000 && o.binance_order_window_ms >= 1000,
          "Binance windows must be at least 1000 ms (Retry-After is in whole seconds)");
  require(o.binance_ban_ms >= 1000, "--binance-ban-ms must be at least 1000");
  require(!o.stall_path.empty() && o.stall_path.front() == '/', "--stall-path must start with '/'");
  for (const auto* name : {&o.oanda_token_env, &o.binance_key_env, &o.binance_secret_env}) {
    require(!name->empty(), "credential environment variable names cannot be empty");
  }
  return o;
}

}  // namespace ordergate::sim
