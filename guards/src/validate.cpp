#include "ordergate/guards/validate.hpp"

#include <array>
#include <cstring>
#include <optional>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ordergate::guards {
namespace {

constexpr bool is_upper(char c) noexcept { return c >= 'A' && c <= 'Z'; }
constexpr bool is_lower(char c) noexcept { return c >= 'a' && c <= 'z'; }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alnum(char c) noexcept { return is_upper(c) || is_lower(c) || is_digit(c); }
constexpr bool is_symbol_separator(char c) noexcept { return c == '/' || c == '_' || c == '-'; }
constexpr bool is_ascii_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
constexpr char to_upper(char c) noexcept { return is_lower(c) ? static_cast<char>(c - 'a' + 'A') : c; }

constexpr bool tif_allowed(OrderType type, TimeInForce tif) noexcept {
  switch (type) {
    case OrderType::market: return tif == TimeInForce::ioc || tif == TimeInForce::fok;
    case OrderType::limit:
      return tif == TimeInForce::gtc || tif == TimeInForce::ioc || tif == TimeInForce::fok ||
             tif == TimeInForce::day || tif == TimeInForce::gtd;
    case OrderType::stop:
      return tif == TimeInForce::gtc || tif == TimeInForce::day || tif == TimeInForce::gtd;
    case OrderType::unset: break;
  }
  return false;
}

// A 256-entry table: one load per character instead of a chain of compares.
constexpr std::array<bool, 256> kClientOrderIdChars = [] {
  std::array<bool, 256> allowed{};
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    allowed[static_cast<std::size_t>(c)] = is_alnum(ch) || ch == '.' || ch == '_' || ch == ':' || ch == '-';
  }
  return allowed;
}();

Reason check_quantity(Decimal quantity, const Instrument& instrument) noexcept {
  if (!instrument.quantity_precision.divides(quantity)) return Reason::QUANTITY_PRECISION_EXCEEDED;
  if (!quantity.is_positive() || !instrument.lot_grid.divides(quantity) ||
      quantity < instrument.min_quantity || quantity > instrument.max_quantity) {
    return Reason::INVALID_QUANTITY;
  }
  return Reason::OK;
}

Reason check_prices(const OrderRequest& request, const Instrument& instrument) noexcept {
  const std::optional<Decimal>* const prices[] = {&request.price, &request.stop_price, &request.stop_loss,
                                                  &request.take_profit};
  // Precision first for every price present, so an over-precise value is
  // always reported as such whatever else is wrong with the order.
  for (const std::optional<Decimal>* price : prices) {
    if (price->has_value() && !instrument.price_precision.divides(**price)) {
      return Reason::PRICE_PRECISION_EXCEEDED;
    }
  }
  for (const std::optional<Decimal>* price : prices) {
    if (price->has_value() && (!(*price)->is_positive() || !instrument.tick_grid.divides(**price))) {
      return Reason::INVALID_PRICE;
    }
  }

  const bool needs_price = request.type == OrderType::limit;
  const bool needs_stop = request.type == OrderType::stop;
  if (request.price.has_value() != needs_price || request.stop_price.has_value() != needs_stop) {
    return Reason::INVALID_PRICE;
  }

  // Protective orders must sit on the losing (stop loss) and winning (take
  // profit) side of the entry; without an entry price they must at least be
  // on opposite sides of each other.
  const std::optional<Decimal>& entry = needs_price ? request.price : request.stop_price;
  const bool buy = request.side == Side::buy;
  const auto below = [buy](Decimal a, Decimal b) { return buy ? a < b : a > b; };
  if (entry.has_value()) {
    if (request.stop_loss.has_value() && !below(*request.stop_loss, *entry)) return Reason::INVALID_PRICE;
    if (request.take_profit.has_value() && !below(*entry, *request.take_profit)) {
      return Reason::INVALID_PRICE;
    }
  } else if (request.stop_loss.has_value() && request.take_profit.has_value() &&
             !below(*request.stop_loss, *request.take_profit)) {
    return Reason::INVALID_PRICE;
  }
  return Reason::OK;
}

}  // namespace

Reason canonical_symbol_key(std::string_view raw, SymbolKey& key) noexcept {
  if (raw.empty() || raw.size() > kMaxRawSymbolLength) return Reason::INVALID_SYMBOL;
  if (raw.size() >= 2 && raw[raw.size() - 2] == '=' && to_upper(raw.back()) == 'X') {
    raw.remove_suffix(2);
  }
  if (raw.empty()) return Reason::INVALID_SYMBOL;

  char compact[SymbolKey::kCapacity];
  std::size_t length = 0;
  bool seen_separator = false;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (is_alnum(c)) {
      if (length == SymbolKey::kCapacity) return Reason::INVALID_SYMBOL;
      compact[length++] = to_upper(c);
    } else if (is_symbol_separator(c)) {
      if (seen_separator || i == 0 || i + 1 == raw.size()) return Reason::INVALID_SYMBOL;
      seen_separator = true;
    } else {
      return Reason::INVALID_SYMBOL;
    }
  }
  if (length < 3 || !is_upper(compact[0])) return Reason::INVALID_SYMBOL;
  key.assign(std::string_view(compact, length));
  return Reason::OK;
}

#if defined(__SSE2__)
namespace {

// One 16-byte vector's verdict: a bit per byte, set when the byte is one of
// [A-Za-z0-9._:-]. Signed compares suffice: every allowed byte is below
// 0x80, and a byte at or above it is negative and fails each range.
unsigned client_order_id_char_mask(__m128i bytes) noexcept {
  const auto in_range = [](__m128i v, char low, char high) {
    return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(static_cast<char>(low - 1))),
                         _mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(high + 1))));
  };
  // '-', '.', the digits and ':' are 0x2D-0x3A, which also holds '/'.
  const __m128i punctuation_digits =
      _mm_andnot_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('/')), in_range(bytes, '-', ':'));
  // Setting bit 5 folds upper case onto lower case and nothing else onto it.
  const __m128i letters = in_range(_mm_or_si128(bytes, _mm_set1_epi8(0x20)), 'a', 'z');
  const __m128i underscore = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('_'));
  return static_cast<unsigned>(
      _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(punctuation_digits, letters), underscore)));
}

std::uint64_t load_word(const char* at) noexcept {
  std::uint64_t word = 0;
  std::memcpy(&word, at, sizeof word);
  return word;
}

}  // namespace
#endif

Reason validate_client_order_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxClientOrderIdLength) return Reason::INVALID_CLIENT_ORDER_ID;
  bool allowed = true;
#if defined(__SSE2__)
  // Loads that overlap rather than run past the end: every byte of the id is
  // in one of them, and none reads outside it.
  const char* p = id.data();
  const std::size_t n = id.size();
  if (n >= 16) {
    const auto load16 = [](const char* at) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(at)); };
    const unsigned head = client_order_id_char_mask(load16(p));
    const unsigned tail = client_order_id_char_mask(load16(p + n - 16));
    allowed = (head & tail) == 0xFFFF;
  } else if (n >= 8) {
    const auto words = _mm_set_epi64x(static_cast<long long>(load_word(p + n - 8)),
                                      static_cast<long long>(load_word(p)));
    allowed = client_order_id_char_mask(words) == 0xFFFF;
  } else {
    for (char c : id) allowed &= kClientOrderIdChars[static_cast<unsigned char>(c)];
  }
#else
  for (char c : id) allowed &= kClientOrderIdChars[static_cast<unsigned char>(c)];
#endif
  return allowed ? Reason::OK : Reason::INVALID_CLIENT_ORDER_ID;
}

namespace {

// `text` without its surrounding ASCII whitespace, in `trimmed`; false when
// what remains is too long or not printable ASCII.
bool trim_printable(std::string_view text, std::string_view& trimmed) noexcept {
  while (!text.empty() && is_ascii_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ascii_space(text.back())) text.remove_suffix(1);
  bool printable = text.size() <= OrderText::kCapacity;
  for (std::size_t i = 0; printable && i < text.size(); ++i) {
    printable = text[i] >= 0x20 && text[i] <= 0x7E;
  }
  trimmed = text;
  return printable;
}

}  // namespace

Reason sanitize_text(std::string_view text, OrderText& out) noexcept {
  std::string_view trimmed;
  if (!trim_printable(text, trimmed)) {
    out.clear();
    return Reason::INVALID_TEXT;
  }
  out.assign(trimmed);
  return Reason::OK;
}

Reason validate_order(const OrderRequest& request, const AccountTable& accounts,
                      const InstrumentTable& instruments, std::int64_t wall_now_ns, Order& out) noexcept {
  // A configured name is well formed, so only a miss needs the finer check.
  const Account* account = accounts.find(request.account);
  if (account == nullptr) {
    return is_valid_account_name(request.account) ? Reason::UNKNOWN_ACCOUNT : Reason::INVALID_ACCOUNT;
  }

  // The usual spellings are looked up as they are; only others are
  // canonicalised (each registered spelling canonicalises to its key).
  const Instrument* instrument = instruments.find_spelling(request.symbol);
  if (instrument == nullptr) {
    SymbolKey key;
    if (canonical_symbol_key(request.symbol, key) != Reason::OK) return Reason::INVALID_SYMBOL;
    instrument = instruments.find(key);
    if (instrument == nullptr) return Reason::UNKNOWN_INSTRUMENT;
  }

  // Enum values may come from anywhere (a cast, a corrupt message), so compare
  // against the valid set rather than only against `unset`.
  if (request.side != Side::buy && request.side != Side::sell) return Reason::INVALID_SIDE;
  if (request.type != OrderType::market && request.type != OrderType::limit &&
      request.type != OrderType::stop) {
    return Reason::INVALID_ORDER_TYPE;
  }

  if (!tif_allowed(request.type, request.time_in_force)) return Reason::INVALID_TIME_IN_FORCE;
  if (request.time_in_force == TimeInForce::gtd ? request.expire_time_ns <= wall_now_ns
                                                : request.expire_time_ns != 0) {
    return Reason::INVALID_TIME_IN_FORCE;
  }

  if (Reason reason = check_quantity(request.quantity, *instrument); reason != Reason::OK) return reason;
  if (Reason reason = check_prices(request, *instrument); reason != Reason::OK) return reason;

  if (validate_client_order_id(request.client_order_id) != Reason::OK) {
    return Reason::INVALID_CLIENT_ORDER_ID;
  }
  std::string_view text;
  if (!request.text.empty() && !trim_printable(request.text, text)) return Reason::INVALID_TEXT;

  // Every check passed: only now touch `out`, so a rejected request never
  // leaves a half-filled order behind.
  out.account_id = account->id;
  out.instrument_id = instrument->id;
  out.side = request.side;
  out.type = request.type;
  out.time_in_force = request.time_in_force;
  out.quantity = request.quantity;
  out.price = request.price.value_or(Decimal{});
  out.stop_price = request.stop_price.value_or(Decimal{});
  out.stop_loss = request.stop_loss.value_or(Decimal{});
  out.take_profit = request.take_profit.value_or(Decimal{});
  out.expire_time_ns = request.expire_time_ns;
  out.client_order_id.assign(request.client_order_id);
  out.text.assign(text);
  return Reason::OK;
}

}  // namespace ordergate::guards
