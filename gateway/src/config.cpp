#include "ordergate/gateway/config.hpp"

namespace ordergate {

std::vector<std::pair<std::string, BrokerFactory>> broker_factories(const GatewayConfig& config) {
  std::vector<std::pair<std::string, BrokerFactory>> factories = config.brokers;
  factories.emplace_back("paper", adapters::make_paper_factory(config.paper));
  return factories;
}

}  // namespace ordergate
