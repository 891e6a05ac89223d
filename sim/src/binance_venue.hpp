#pragma once

/// \file
/// The Binance spot REST subset the gateway's adapter uses: new order, cancel,
/// cancel-replace (STOP_ON_FAILURE), query, open orders, account, book ticker, exchange info, time and ping;
/// HMAC-SHA256 request signing, recvWindow timing, request-weight and
/// order-count windows with 429 and escalating 418 bans, and the
/// X-MBX-USED-WEIGHT-1M / X-MBX-ORDER-COUNT-10S headers. Orders match against
/// a synthetic book of fixed-size levels one tick apart.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "http_types.hpp"
#include "json_writer.hpp"
#include "market.hpp"
#include "ordergate/security/secret.hpp"
#include "sim_context.hpp"

namespace ordergate::sim {

struct BinanceConfig {
  std::map<std::string, Decimal> balances = {
      {"USDT", Decimal::from_integer(1'000'000)}, {"BTC", Decimal::from_integer(10)}, {"ETH", Decimal::from_integer(100)}};
  std::int64_t weight_limit = 6000;
  std::int64_t weight_window_ms = 60'000;
  std::int64_t order_limit = 50;
  std::int64_t order_window_ms = 10'000;
  /// First 418 ban; each further offence doubles it (up to three days).
  std::int64_t ban_ms = 120'000;
  /// Order-count 429s carry Retry-After and count toward 418 bans. Binance's
  /// documentation says they do not; false reproduces that.
  bool order_limit_retry_after = true;
  /// Added to the wall clock for serverTime and timestamp checks.
  std::int64_t clock_offset_ms = 0;
};

class BinanceVenue {
 public:
  BinanceVenue(BinanceConfig config, security::Secret api_key, security::Secret secret_key, PriceBoard& board,
               FaultInjector& faults, Stats& stats, const Logger& log);

  /// Handles any request whose path starts with /api/.
  [[nodiscard]] HttpResponse handle(const HttpRequest& request);

  void write_orders(JsonWriter& out, const std::string& client_id) const;
  [[nodiscard]] std::size_t order_count(const std::string& client_id) const;

 private:
  struct Fill {
    Decimal price;
    Decimal qty;
    std::int64_t trade_id = 0;
  };

  struct Order {
    std::int64_t order_id = 0;
    std::string symbol;
    std::string client_order_id;
    std::string side;  ///< BUY, SELL
    std::string type;  ///< MARKET, LIMIT, LIMIT_MAKER
    std::string time_in_force;
    Decimal price;  ///< zero for MARKET
    Decimal orig_qty;
    Decimal executed_qty;
    Decimal cumulative_quote;
    std::string status;
    std::int64_t time = 0;
    std::int64_t update_time = 0;
    [[nodiscard]] bool is_open() const { return status == "NEW" || status == "PARTIALLY_FILLED"; }
  };

  struct SymbolInfo {
    std::string base;
    std::string quote;
    Decimal step;          ///< LOT_SIZE stepSize
    Decimal min_notional;  ///< NOTIONAL minNotional
  };

  struct Balance {
    Decimal free;
    Decimal locked;
  };

  struct IpState {
    std::int64_t window = -1;
    std::int64_t used_weight = 0;
    std::int64_t retry_until_ms = 0;  ///< after a 429: requests before this escalate
    std::int64_t ban_until_ms = 0;
    std::int64_t offences = 0;
  };

  struct Endpoint {
    std::int64_t weight = 1;
    bool signed_request = false;
    bool new_order = false;
  };

  struct Params {
    std::vector<Param> query;
    std::vector<Param> body;
    [[nodiscard]] std::optional<std::string> get(std::string_view name) const;
  };

  HttpResponse dispatch(const HttpRequest& request, const Params& params);
  HttpResponse new_order(const Params& params);
  HttpResponse cancel_order(const Params& params);
  HttpResponse cancel_replace(const Params& params);
  /// Both steps of an amend whose original is open.
  HttpResponse replace_order(const std::string& symbol, const Order& original, const Params& params, bool force_new,
                             const std::string& refused_new);
  /// A cancelReplace answer with `data` (a failure of either step).
  HttpResponse replace_outcome(int status, int code, const char* message, const char* cancel_result,
                               const char* new_result, std::string_view cancel_response, std::string_view new_response);
  HttpResponse unknown_outcome();
  HttpResponse query_order(const Params& params);
  HttpResponse open_orders(const Params& params);
  HttpResponse account();
  HttpResponse book_ticker(const Params& params);
  HttpResponse exchange_info(const Params& params);

  [[nodiscard]] std::optional<Endpoint> endpoint_for(const HttpRequest& request, const Params& params) const;
  /// Signature check on the raw query string and body, as sent.
  [[nodiscard]] bool signature_valid(const HttpRequest& request) const;

  [[nodiscard]] SymbolInfo symbol_info(const Instrument& instrument) const;
  /// Takes liquidity from the synthetic book up to `limit` (none: any price).
  [[nodiscard]] std::vector<Fill> match(const Instrument& instrument, bool buy, Decimal qty,
                                        std::optional<Decimal> limit);
  void on_price(const Instrument& instrument);
  Order* find(const std::string& symbol, const std::optional<std::string>& order_id,
              const std::optional<std::string>& client_order_id);

  void write_order(JsonWriter& out, const Order& order) const;
  HttpResponse json(int status, std::string body);
  HttpResponse error(int status, int code, const std::string& message);
  HttpResponse missing(std::string_view name);
  [[nodiscard]] std::int64_t now_ms() const;
  [[nodiscard]] std::string new_client_order_id();

  BinanceConfig config_;
  security::Secret api_key_;
  security::Secret secret_key_;
  PriceBoard& board_;
  FaultInjector& faults_;
  Stats& stats_;
  const Logger& log_;
  std::int64_t started_ms_ = 0;
  std::map<std::string, IpState> ips_;
  std::int64_t order_window_ = -1;
  std::int64_t order_count_ = 0;
  std::map<std::string, Balance> balances_;
  std::vector<Order> orders_;
  std::set<std::size_t> open_;  ///< indexes into orders_ of NEW / PARTIALLY_FILLED orders
  std::map<std::pair<std::string, std::int64_t>, std::size_t> by_order_id_;
  std::map<std::pair<std::string, std::string>, std::size_t> latest_by_client_id_;
  std::map<std::string, std::int64_t> next_order_id_;  ///< per symbol
  std::map<std::string, std::int64_t> next_trade_id_;
  std::uint64_t generated_ids_ = 0;
  /// Serving a cancelReplace: its steps draw no order fault of their own.
  bool in_replace_ = false;
  /// Response headers of the request being served (weight, order count).
  Headers pending_headers_;
};

}  // namespace ordergate::sim
