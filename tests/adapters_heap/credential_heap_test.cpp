// No credential is left in heap memory that the adapters free: the OANDA and
// Binance header builders and the HTTPS client's request buffer size their
// buffers before a credential goes in (a reallocation would free a copy
// unwiped) and wipe what held one. Every block this thread frees while a
// probe is armed is searched for a canary credential.

#include "ordergate/adapters/binance/binance_broker.hpp"
#include "ordergate/adapters/oanda/oanda_broker.hpp"
#include "ordergate/adapters/tls/https_client.hpp"

#include <gtest/gtest.h>
#include <malloc.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include "adapters/rest_broker_test_support.hpp"
#include "adapters/tls_test_support.hpp"

namespace {

// The canary is searched for in freed blocks of this thread only (the test
// server's thread legitimately frees what it received).
thread_local const char* t_canary = nullptr;
thread_local int t_found = 0;

void inspect(void* p) noexcept {
  if (p == nullptr || t_canary == nullptr) return;
  const std::size_t size = malloc_usable_size(p);
  const std::size_t length = std::strlen(t_canary);
  const auto* bytes = static_cast<const char*>(p);
  if (size >= length && std::string_view(bytes, size).find(std::string_view(t_canary, length)) != std::string_view::npos) {
    ++t_found;
  }
}

void* allocate(std::size_t size) {
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

void* allocate_aligned(std::size_t size, std::align_val_t alignment) {
  const auto align = static_cast<std::size_t>(alignment);
  const std::size_t rounded = (size + align - 1) / align * align;
  if (void* p = std::aligned_alloc(align, rounded == 0 ? align : rounded)) return p;
  throw std::bad_alloc();
}

void release(void* p) noexcept {
  inspect(p);
  std::free(p);
}

}  // namespace

void* operator new(std::size_t size) { return allocate(size); }
void* operator new[](std::size_t size) { return allocate(size); }
void* operator new(std::size_t size, std::align_val_t alignment) { return allocate_aligned(size, alignment); }
void* operator new[](std::size_t size, std::align_val_t alignment) { return allocate_aligned(size, alignment); }
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }

namespace ordergate::adapters {
namespace {

constexpr const char* kCanary = "canary-credential-0123456789abcdef0123456789";

InstrumentTable one_instrument() {
  return InstrumentTable({testing::instrument_spec("BTC/USDT", "0.01", "0.001", "100", "10", "1000000", "100")});
}

/// Arms the probe for this scope; `found()` counts freed blocks that held
/// the canary.
class FreedHeapProbe {
 public:
  FreedHeapProbe() {
    t_found = 0;
    t_canary = kCanary;
  }
  ~FreedHeapProbe() { t_canary = nullptr; }
  FreedHeapProbe(const FreedHeapProbe&) = delete;
  FreedHeapProbe& operator=(const FreedHeapProbe&) = delete;
  [[nodiscard]] int found() const { return t_found; }
};

TEST(CredentialHeap, TheProbeSeesACredentialInAFreedBlock) {
  FreedHeapProbe probe;
  auto* copy = new std::string(std::string("x") + kCanary);
  delete copy;
  EXPECT_EQ(probe.found(), 1);
}

TEST(CredentialHeap, TheOandaAuthorizationHeaderLeavesNoTokenInFreedMemory) {
  const InstrumentTable table = one_instrument();
  oanda::OandaSettings settings;
  settings.account_id = "101-001-1234567-001";
  settings.token = security::Secret(kCanary);
  int found = 0;
  {
    FreedHeapProbe probe;
    const oanda::OandaBroker broker(table, std::move(settings));
    found = probe.found();
  }
  EXPECT_EQ(found, 0) << "a buffer holding the token was freed without being wiped";
}

TEST(CredentialHeap, TheBinanceKeyHeaderLeavesNoKeyInFreedMemory) {
  const InstrumentTable table = one_instrument();
  binance::BinanceSettings settings;
  settings.api_key = security::Secret(kCanary);
  settings.secret_key = security::Secret("s");
  int found = 0;
  {
    FreedHeapProbe probe;
    const binance::BinanceBroker broker(table, std::move(settings));
    found = probe.found();
  }
  EXPECT_EQ(found, 0) << "a buffer holding the API key was freed without being wiped";
}

struct Results final : tls::HttpHandler {
  void on_http_result(std::uint64_t, const tls::HttpResult& result) noexcept override {
    ++count;
    ok = result.response != nullptr && result.response->status() == 200;
  }
  int count = 0;
  bool ok = false;
};

TEST(CredentialHeap, TheRequestBufferLeavesNoCredentialInFreedMemory) {
  ordergate::testing::TestPki pki("heap");
  ordergate::testing::TestHttpsServer server(pki.localhost, [](const ordergate::testing::TestRequest&) {
    return ordergate::testing::TestReply{};
  });
  tls::TlsSettings connection;
  connection.base_url = "https://localhost:" + std::to_string(server.port());
  connection.ca_file = pki.ca_file;
  connection.pool_size = 1;
  tls::HttpsClient client(connection, [](tls::LogLevel, std::string_view) {});
  Results results;
  client.start(results, SystemClock::instance());
  ASSERT_EQ(client.open_connections(), 1u);
  const std::string headers = std::string("Authorization: Bearer ") + kCanary + "\r\n";
  const std::string body(4096, 'b');  // grows the buffer after the headers are in it
  int found = 0;
  {
    FreedHeapProbe probe;
    tls::HttpRequest request;
    request.method = "POST";
    request.target = "/orders";
    request.headers = headers;
    request.content_type = "application/json";
    request.body = body;
    ASSERT_TRUE(client.send(request, 1));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (results.count == 0 && std::chrono::steady_clock::now() < deadline) client.poll();
    found = probe.found();
  }
  EXPECT_TRUE(results.ok);
  EXPECT_EQ(found, 0) << "a request buffer holding the credential was freed without being wiped";
  client.stop();
}

}  // namespace
}  // namespace ordergate::adapters
