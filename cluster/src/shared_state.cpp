#include "ordergate/cluster/shared_state.hpp"

#include <charconv>

namespace ordergate::cluster {

namespace {

constexpr std::string_view kGlobal = "global";
constexpr std::string_view kAccount = "account:";
constexpr std::string_view kPrincipal = "principal:";
constexpr std::string_view kDisabled = "disabled:";
constexpr std::string_view kVersion = "version";

bool starts_with(std::string_view text, std::string_view prefix) noexcept {
  return text.substr(0, prefix.size()) == prefix;
}

std::string field_of(std::string_view prefix, std::string_view name) {
  std::string field(prefix);
  field += name;
  return field;
}

std::string value_of(guards::TradingState state) {
  return state == guards::TradingState::active ? std::string() : std::string(guards::to_string(state));
}

// A field as read from Redis, fit for an error message and a log line:
// printable ASCII without quotes, at most 64 characters.
std::string shown(std::string_view field) {
  std::string text;
  for (const char c : field.substr(0, 64)) {
    text += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? c : '?';
  }
  if (field.size() > 64) text += "...";
  return text;
}

// A state other than ACTIVE (ACTIVE is written as no field).
guards::TradingState parse_stored_state(const std::string& field, std::string_view value) {
  if (value == guards::to_string(guards::TradingState::reducing)) return guards::TradingState::reducing;
  if (value == guards::to_string(guards::TradingState::halted)) return guards::TradingState::halted;
  throw SharedStateError("shared state field '" + shown(field) + "' must be REDUCING or HALTED");
}

bool parse_unsigned(std::string_view text, std::uint64_t& out) noexcept {
  if (text.empty() || text.size() > 20) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc{} && end == text.data() + text.size();
}

}  // namespace

std::string keys::member(std::string_view name) { return field_of("ordergate:member:", name); }

StateField encode_trading_state(TradingScope scope, guards::TradingState state) {
  switch (scope.kind) {
    case TradingScope::Kind::global:
      return {std::string(kGlobal), value_of(state)};
    case TradingScope::Kind::account:
      if (scope.name.empty()) throw std::invalid_argument("an account scope needs a name");
      return {field_of(kAccount, scope.name), value_of(state)};
    case TradingScope::Kind::principal:
      if (scope.name.empty()) throw std::invalid_argument("a principal scope needs a name");
      return {field_of(kPrincipal, scope.name), value_of(state)};
  }
  throw std::invalid_argument("unknown scope");
}

StateField encode_principal_enabled(std::string_view principal, bool enabled) {
  if (principal.empty()) throw std::invalid_argument("a principal needs a name");
  return {field_of(kDisabled, principal), enabled ? std::string() : std::string("1")};
}

std::vector<StateField> encode_state(const ControlState& state) {
  std::vector<StateField> fields;
  if (state.global != guards::TradingState::active) {
    fields.push_back(encode_trading_state(TradingScope::global(), state.global));
  }
  for (const auto& [name, account_state] : state.accounts) {
    if (account_state != guards::TradingState::active) {
      fields.push_back(encode_trading_state(TradingScope::account(name), account_state));
    }
  }
  for (const auto& [name, principal_state] : state.principals) {
    if (principal_state != guards::TradingState::active) {
      fields.push_back(encode_trading_state(TradingScope::principal(name), principal_state));
    }
  }
  for (const std::string& name : state.disabled_principals) fields.push_back(encode_principal_enabled(name, false));
  return fields;
}

SharedState decode_state(const std::vector<std::pair<std::string, std::string>>& fields) {
  SharedState shared;
  bool has_version = false;
  for (const auto& [field, value] : fields) {
    if (field == kVersion) {
      if (!parse_unsigned(value, shared.version)) {
        throw SharedStateError("shared state field 'version' must be a non-negative integer");
      }
      has_version = true;
    } else if (field == kGlobal) {
      shared.control.global = parse_stored_state(field, value);
    } else if (starts_with(field, kAccount) && field.size() > kAccount.size()) {
      shared.control.accounts[field.substr(kAccount.size())] = parse_stored_state(field, value);
    } else if (starts_with(field, kPrincipal) && field.size() > kPrincipal.size()) {
      shared.control.principals[field.substr(kPrincipal.size())] = parse_stored_state(field, value);
    } else if (starts_with(field, kDisabled) && field.size() > kDisabled.size()) {
      if (value != "1") throw SharedStateError("shared state field '" + shown(field) + "' must be 1");
      shared.control.disabled_principals.insert(field.substr(kDisabled.size()));
    } else {
      throw SharedStateError("shared state has an unknown field '" + shown(field) +
                             "' (written by another version of ordergate, or by hand)");
    }
  }
  if (!has_version) throw SharedStateError("shared state has no 'version' field");
  return shared;
}

std::string encode_change_message(std::uint64_t version, std::string_view field, bool cancel) {
  std::string text = std::to_string(version);
  text += cancel ? " 1 " : " 0 ";
  text += field;
  return text;
}

std::optional<ChangeMessage> decode_change_message(std::string_view text) {
  ChangeMessage message;
  const std::size_t space = text.find(' ');
  if (space == std::string_view::npos || !parse_unsigned(text.substr(0, space), message.version)) return std::nullopt;
  const std::string_view rest = text.substr(space + 1);
  if (rest.size() < 3 || (rest[0] != '0' && rest[0] != '1') || rest[1] != ' ') return std::nullopt;
  message.cancel = rest[0] == '1';
  message.field = std::string(rest.substr(2));
  return message;
}

}  // namespace ordergate::cluster
