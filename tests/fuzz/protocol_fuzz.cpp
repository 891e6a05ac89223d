// The socket protocol's decoder on any line: a request or a stable error
// code, never a crash. An error message is built from fixed text and field
// names only, so it is printable ASCII and never longer than a sentence; an
// echoed id is a JSON string or integer; a decoded submit maps to a domain
// request without trouble.
#include "protocol.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ordergate::protocol;
  static Decoder decoder(4096);
  Request request;
  DecodeError error;
  const bool ok = decoder.decode(ordergate::fuzz::as_text(data, size), request, error);
  if (!request.id_json.empty()) {
    const char first = request.id_json.front();
    ORDERGATE_FUZZ_CHECK(first == '"' || first == '-' || (first >= '0' && first <= '9'));
  }
  if (!ok) {
    ORDERGATE_FUZZ_CHECK(error.code != ErrorCode::none || error.reject_reason != ordergate::Reason::OK);
    ORDERGATE_FUZZ_CHECK(error.message.size() < 200);
    for (const char c : error.message) ORDERGATE_FUZZ_CHECK(c >= 0x20 && c < 0x7f);
    return 0;
  }
  ORDERGATE_FUZZ_CHECK((request.fields & kOp) != 0);
  if (request.op == Op::submit) (void)to_order_request(request);
  if (request.op == Op::replace) (void)to_replace_request(request);
  if (request.op == Op::halt || request.op == Op::reduce || request.op == Op::resume) {
    (void)to_trading_scope(request.scope);
  }
  return 0;
}
