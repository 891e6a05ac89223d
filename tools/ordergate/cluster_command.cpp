// ordergate cluster status: the members of a cluster, their health and the
// shared kill switch, as Redis holds them (docs/cluster.md).

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "commands.hpp"
#include "ordergate/cluster/status.hpp"
#include "ordergate/security/credentials.hpp"
#include "ordergate/server/config_file.hpp"

namespace ordergate::cli {
namespace {

constexpr const char* kClusterHelp =
    "usage: ordergate cluster status --config FILE\n"
    "\n"
    "status  reads the Redis of the configuration's [cluster] section and prints each\n"
    "        member (healthy, stale, cut-off, not-ready or gone) with its host, pid,\n"
    "        heartbeat age, global state, floor and readiness, then the shared state.\n"
    "        Exits 1 when Redis cannot be read.\n"
    "\n"
    "See docs/cluster.md.\n";

}  // namespace

int cluster_command(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kClusterHelp, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] != "status") {
    std::fprintf(stderr, "ordergate cluster: unknown subcommand '%s'\n\n%s", args[0].c_str(), kClusterHelp);
    return 2;
  }
  std::string config_path;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_path = args[++i];
    } else {
      std::fprintf(stderr, "ordergate cluster: unexpected argument '%s'\n\n%s", args[i].c_str(), kClusterHelp);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "ordergate cluster: --config FILE is required\n\n%s", kClusterHelp);
    return 2;
  }
  const ProcessConfig config = load_config_file(config_path);
  if (!config.cluster.enabled) {
    std::fprintf(stderr, "ordergate cluster: %s has no [cluster] section\n", config_path.c_str());
    return 1;
  }
  std::optional<security::Secret> password;
  if (!config.cluster.password_env.empty()) {
    const security::CredentialSources sources(config.credentials);
    password = sources.resolve(config.cluster.password_env);
  }
  const auto timeout = std::chrono::milliseconds(config.cluster.fail_after_ns / 1'000'000);
  const cluster::ClusterStatus status =
      cluster::read_cluster_status(config.cluster.redis, password ? &*password : nullptr, timeout);
  std::fputs(cluster::format_cluster_status(status).c_str(), stdout);
  return 0;
}

}  // namespace ordergate::cli
