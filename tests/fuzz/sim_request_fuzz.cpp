// The simulator's request handling (routing, query and form parsing, JSON
// bodies, both venues and the admin endpoints) on any request: a response
// with a valid status, never a crash. Input: method, target and body
// separated by the first two newlines. Requests carry the venue credentials
// and a valid Binance signature, so the fuzzer gets past authentication.
#include <memory>
#include <string>

#include "binance_venue.hpp"
#include "fuzz_support.hpp"
#include "market.hpp"
#include "oanda_venue.hpp"
#include "ordergate/security/crypto.hpp"
#include "router.hpp"

namespace {

using namespace ordergate::sim;

// Made up per run of the harness; not credentials of anything.
constexpr std::string_view kToken = "fuzz-oanda-token";
constexpr std::string_view kApiKey = "fuzz-binance-key";
constexpr std::string_view kSecretKey = "fuzz-binance-secret";

struct Simulator {
  Simulator() : board(7), faults(7, 0.0, 0, false), log(true) {
    add_default_instruments(board);
    oanda = std::make_unique<OandaVenue>(OandaConfig{}, ordergate::security::Secret(std::string(kToken)), board,
                                         faults, stats, log);
    binance = std::make_unique<BinanceVenue>(BinanceConfig{}, ordergate::security::Secret(std::string(kApiKey)),
                                             ordergate::security::Secret(std::string(kSecretKey)), board, faults,
                                             stats, log);
    admin = std::make_unique<Admin>(board, oanda.get(), binance.get(), faults, stats, log);
    router = std::make_unique<Router>(oanda.get(), binance.get(), admin.get());
  }
  PriceBoard board;
  Stats stats;
  FaultInjector faults;
  Logger log;
  std::unique_ptr<OandaVenue> oanda;
  std::unique_ptr<BinanceVenue> binance;
  std::unique_ptr<Admin> admin;
  std::unique_ptr<Router> router;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Simulator simulator;
  const std::string_view text = ordergate::fuzz::as_text(data, size);
  const std::size_t first = text.find('\n');
  if (first == std::string_view::npos) return 0;
  const std::size_t second = text.find('\n', first + 1);
  if (second == std::string_view::npos) return 0;
  HttpRequest request;
  request.method = std::string(text.substr(0, first));
  request.target = std::string(text.substr(first + 1, second - first - 1));
  request.body = std::string(text.substr(second + 1));
  const std::size_t question = request.target.find('?');
  request.path = request.target.substr(0, question);
  if (question != std::string::npos) request.query = request.target.substr(question + 1);
  if (request.path.rfind("/api/", 0) == 0) {
    const std::string signed_text = request.query + request.body;
    const std::string signature =
        ordergate::security::to_hex(ordergate::security::hmac_sha256(kSecretKey, signed_text));
    request.query += (request.query.empty() ? "" : "&") + std::string("signature=") + signature;
    request.target = request.path + "?" + request.query;
  }
  request.headers = {{"authorization", "Bearer " + std::string(kToken)},
                     {"x-mbx-apikey", std::string(kApiKey)},
                     {"content-type", request.path.rfind("/api/", 0) == 0 ? "application/x-www-form-urlencoded"
                                                                          : "application/json"}};
  request.remote_ip = "127.0.0.1";
  const HttpResponse response = simulator.router->handle(request);
  ORDERGATE_FUZZ_CHECK(response.status >= 100 && response.status <= 599);
  return 0;
}
