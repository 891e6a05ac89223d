#pragma once

/// \file
/// Guard 1: validate and sanitize an order request. Pure functions: no I/O,
/// no locks, no allocation. Over-precise values are rejected, never rounded.

#include <cstdint>
#include <string_view>

#include "ordergate/core/instrument.hpp"
#include "ordergate/core/order.hpp"
#include "ordergate/core/reason.hpp"

namespace ordergate::guards {

/// Longest raw symbol text accepted before canonicalisation.
inline constexpr std::size_t kMaxRawSymbolLength = 20;

/// Turns the spellings bots use into the compact key of an instrument:
/// `EURUSD`, `EUR/USD`, `EUR_USD`, `EUR-USD`, `eurusd`, Yahoo's `EURUSD=X`
/// all give `EURUSD`. Rules: at most 20 bytes; letters and digits with at most
/// one separator (`/`, `_` or `-`) between two non-empty parts; an optional
/// `=X` suffix (either case); 3-16 letters and digits in all, starting with a
/// letter. A separated pair with the suffix (`EUR/USD=X`) is accepted: it is
/// still unambiguous. Spaces, NUL and non-ASCII bytes are INVALID_SYMBOL.
/// Returns OK or INVALID_SYMBOL (and then `key` is unspecified).
[[nodiscard]] Reason canonical_symbol_key(std::string_view raw, SymbolKey& key) noexcept;

/// OK when `id` is 1-32 characters of [A-Za-z0-9._:-], else INVALID_CLIENT_ORDER_ID.
[[nodiscard]] Reason validate_client_order_id(std::string_view id) noexcept;

/// Trims ASCII whitespace at both ends, then requires at most 64 bytes of
/// printable ASCII (0x20-0x7E). Returns OK (with `out` set; empty text is
/// fine) or INVALID_TEXT (with `out` cleared).
[[nodiscard]] Reason sanitize_text(std::string_view text, OrderText& out) noexcept;

/// Validates `request` and fills the matching fields of `out` (account,
/// instrument, side, type, time in force, quantity, prices, expiry, client
/// order id, sanitized text). Other fields of `out` are left untouched, and
/// on a rejection `out` is not modified at all.
///
/// Checks, in order, first failure wins:
///  1. account: INVALID_ACCOUNT (malformed), UNKNOWN_ACCOUNT (not configured)
///  2. symbol: INVALID_SYMBOL, UNKNOWN_INSTRUMENT
///  3. side: INVALID_SIDE; type: INVALID_ORDER_TYPE
///  4. time in force for the type: market IOC/FOK; limit GTC/IOC/FOK/DAY/GTD;
///     stop GTC/DAY/GTD; GTD needs an expiry after `wall_now_ns`, other TIFs
///     must not carry one (INVALID_TIME_IN_FORCE)
///  5. quantity: more fractional digits than the lot step ->
///     QUANTITY_PRECISION_EXCEEDED; <= 0, off the lot grid or outside the
///     instrument's min/max -> INVALID_QUANTITY
///  6. prices (price, stop price, stop loss, take profit): more fractional
///     digits than the tick -> PRICE_PRECISION_EXCEEDED; <= 0, off the tick
///     grid, missing where required (limit: price; stop: stop price) or present
///     where not allowed (market: price, stop price; limit: stop price; stop:
///     price) -> INVALID_PRICE; a stop loss must be below and a take profit
///     above the entry price for a buy (the reverse for a sell) when the order
///     has an entry price, and below the take profit for a market buy (above
///     for a sell) when both are given -> INVALID_PRICE
///  7. client order id: INVALID_CLIENT_ORDER_ID
///  8. text: INVALID_TEXT
[[nodiscard]] Reason validate_order(const OrderRequest& request, const AccountTable& accounts,
                                    const InstrumentTable& instruments, std::int64_t wall_now_ns,
                                    Order& out) noexcept;

}  // namespace ordergate::guards
