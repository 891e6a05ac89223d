#include "broker_kinds.hpp"

#include <array>

#include "ordergate/adapters/binance/binance_broker.hpp"
#include "ordergate/adapters/oanda/oanda_broker.hpp"
#include "table_reader.hpp"

namespace ordergate::server_detail {
namespace {

void read_connection(TableReader& reader, adapters::tls::TlsSettings& connection) {
  connection.base_url = reader.required_string("base_url");
  if (connection.base_url.rfind("https://", 0) != 0) {
    reader.fail(reader.find("base_url"), "base_url",
                "must start with https:// (orders and credentials never travel unencrypted)");
  }
  connection.ca_file = reader.string("ca_file", "");
  connection.pin = reader.string("pin", "");
  if (!connection.pin.empty() && connection.pin.rfind("sha256//", 0) != 0) {
    reader.fail(reader.find("pin"), "pin", "expected sha256//<base64 of the SHA-256 of the public key>");
  }
  connection.pool_size = static_cast<std::size_t>(reader.integer("pool_size", 2, 1, 16));
  connection.connect_timeout_ns = reader.duration("connect_timeout", connection.connect_timeout_ns);
  connection.request_timeout_ns = reader.duration("request_timeout", connection.request_timeout_ns);
  connection.reconnect_min_ns = reader.duration("reconnect_min", connection.reconnect_min_ns);
  connection.reconnect_max_ns = reader.duration("reconnect_max", connection.reconnect_max_ns);
}

std::vector<std::pair<std::string, std::string>> read_symbol_map(TableReader& reader) {
  std::vector<std::pair<std::string, std::string>> map;
  if (const toml::table* table = reader.table("symbol_map")) {
    for (const auto& [key, value] : *table) {
      if (!value.is_string()) reader.fail(&value, "symbol_map." + std::string(key.str()), "expected a string");
      map.emplace_back(std::string(key.str()), std::string(*value.value<std::string_view>()));
    }
  }
  return map;
}

template <class Settings>
const Settings& settings_of(const BrokerEntry& entry) {
  const Settings* settings = entry.settings_as<Settings>();
  if (settings == nullptr) throw ConfigError("brokers." + entry.name + ": settings do not match kind '" + entry.kind + "'");
  return *settings;
}

// ---- oanda: OANDA v20 REST ----------------------------------------------------

void read_oanda(TableReader& reader, BrokerEntry& entry) {
  adapters::oanda::OandaSettings settings;
  read_connection(reader, settings.connection);
  settings.connection.log_name = entry.name;
  settings.account_id = reader.required_string("account_id");
  entry.credentials.push_back({"token_env", reader.required_string("token_env")});
  settings.instruments = reader.strings("instruments", {});
  settings.symbol_map = read_symbol_map(reader);
  settings.max_requests_per_second =
      static_cast<std::uint32_t>(reader.integer("max_requests_per_second", settings.max_requests_per_second, 1, 10'000));
  settings.pricing_interval_ns = reader.duration("pricing_interval", settings.pricing_interval_ns);
  settings.transaction_poll_interval_ns = reader.duration("transaction_poll_interval", settings.transaction_poll_interval_ns);
  settings.keepalive_interval_ns = reader.duration("keepalive_interval", settings.keepalive_interval_ns);
  settings.cancel_on_stop = reader.boolean("cancel_on_stop", settings.cancel_on_stop);
  entry.settings = std::make_shared<BrokerSettingsOf<adapters::oanda::OandaSettings>>(std::move(settings));
}

BrokerFactory build_oanda(const BrokerEntry& entry, const ResolveCredential& credential, adapters::tls::LogFunction log) {
  adapters::oanda::OandaSettings settings = settings_of<adapters::oanda::OandaSettings>(entry).clone();
  settings.token = credential("token_env");
  settings.log = std::move(log);
  return adapters::oanda::make_oanda_factory(std::move(settings));
}

// ---- binance: Binance spot REST -----------------------------------------------

void read_binance(TableReader& reader, BrokerEntry& entry) {
  adapters::binance::BinanceSettings settings;
  read_connection(reader, settings.connection);
  settings.connection.log_name = entry.name;
  entry.credentials.push_back({"api_key_env", reader.required_string("api_key_env")});
  entry.credentials.push_back({"secret_key_env", reader.required_string("secret_key_env")});
  settings.instruments = reader.strings("instruments", {});
  settings.symbol_map = read_symbol_map(reader);
  settings.recv_window_ms = reader.integer("recv_window_ms", settings.recv_window_ms, 1, 60'000);
  settings.weight_limit_1m = reader.integer("weight_limit_1m", settings.weight_limit_1m, 1, 1'000'000);
  settings.order_limit_10s = reader.integer("order_limit_10s", settings.order_limit_10s, 1, 1'000'000);
  settings.pricing_interval_ns = reader.duration("pricing_interval", settings.pricing_interval_ns);
  settings.order_poll_interval_ns = reader.duration("order_poll_interval", settings.order_poll_interval_ns);
  settings.keepalive_interval_ns = reader.duration("keepalive_interval", settings.keepalive_interval_ns);
  settings.cancel_on_stop = reader.boolean("cancel_on_stop", settings.cancel_on_stop);
  entry.settings = std::make_shared<BrokerSettingsOf<adapters::binance::BinanceSettings>>(std::move(settings));
}

BrokerFactory build_binance(const BrokerEntry& entry, const ResolveCredential& credential,
                            adapters::tls::LogFunction log) {
  adapters::binance::BinanceSettings settings = settings_of<adapters::binance::BinanceSettings>(entry).clone();
  settings.api_key = credential("api_key_env");
  settings.secret_key = credential("secret_key_env");
  settings.log = std::move(log);
  return adapters::binance::make_binance_factory(std::move(settings));
}

// ---- the registry ---------------------------------------------------------------

constexpr std::array<BrokerKind, 2> kBrokerKinds = {{
    {"oanda", read_oanda, build_oanda},
    {"binance", read_binance, build_binance},
}};

// "\"oanda\" or \"binance\"", for messages.
std::string kind_list() {
  std::string list;
  for (std::size_t i = 0; i < kBrokerKinds.size(); ++i) {
    if (i > 0) list += i + 1 == kBrokerKinds.size() ? " or " : ", ";
    list += '"' + std::string(kBrokerKinds[i].name) + '"';
  }
  return list;
}

}  // namespace

std::span<const BrokerKind> broker_kinds() noexcept { return kBrokerKinds; }

const BrokerKind* find_broker_kind(std::string_view name) noexcept {
  for (const BrokerKind& kind : kBrokerKinds) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

BrokerEntry read_broker(TableReader& reader, std::string name) {
  BrokerEntry entry;
  entry.name = std::move(name);
  entry.kind = reader.required_string("kind");
  const BrokerKind* kind = find_broker_kind(entry.kind);
  if (kind == nullptr) reader.fail(reader.find("kind"), "kind", "must be " + kind_list());
  kind->read(reader, entry);
  if (reader.find("reconcile_interval") != nullptr) {
    entry.reconcile_interval_ns = reader.duration("reconcile_interval", 0);
  }
  entry.reconcile_after_disconnect_ns = reader.duration("reconcile_after_disconnect", 0);
  const std::string on_mismatch = reader.string("on_position_mismatch", "alert");
  if (on_mismatch != "alert" && on_mismatch != "reduce") {
    reader.fail(reader.find("on_position_mismatch"), "on_position_mismatch", "must be \"alert\" or \"reduce\"");
  }
  entry.reduce_on_mismatch = on_mismatch == "reduce";
  reader.reject_unknown();
  return entry;
}

void read_embedded_paper(TableReader& reader, adapters::PaperConfig& paper, const std::string& source) {
  paper.random_walk = reader.boolean("random_walk", false);
  paper.seed = static_cast<std::uint64_t>(reader.integer("seed", 1, 0, INT64_MAX));
  paper.walk_max_ticks = static_cast<std::uint32_t>(reader.integer("walk_max_ticks", 2, 0, 1000));
  paper.tick_interval_ns = reader.duration("tick_interval", paper.tick_interval_ns);
  // Relative to the working directory, like [audit] path and [state] path.
  paper.state_file = reader.string("state_file", "");
  if (const toml::array* quotes = reader.array_of_tables("quotes")) {
    std::size_t index = 0;
    for (const toml::node& node : *quotes) {
      TableReader quote(*node.as_table(), reader.full("quotes") + "[" + std::to_string(index++) + "]", source);
      adapters::PaperQuoteSpec spec;
      spec.symbol = quote.required_string("symbol");
      spec.bid = quote.decimal("bid");
      spec.ask = quote.decimal("ask");
      quote.reject_unknown();
      paper.quotes.push_back(spec);
    }
  }
  reader.reject_unknown();
}

}  // namespace ordergate::server_detail
