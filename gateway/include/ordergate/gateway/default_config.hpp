#pragma once

/// \file
/// The embedded default configuration: the paper broker as account `paper`
/// with EUR/USD, GBP/USD and USD/JPY, and one development principal. It is
/// what a new user sees first, so its limits are conservative: a runaway bot
/// is stopped by them even in a demo.

#include "ordergate/gateway/config.hpp"

namespace ordergate {

/// Name of the development principal in the default configuration.
inline constexpr const char* kDefaultPrincipal = "dev";

/// Builds the default configuration (paper broker, three FX pairs, principal
/// `dev` with trade/cancel/read/admin and order budget 50/1s + 600/1m).
[[nodiscard]] GatewayConfig make_default_config();

}  // namespace ordergate
