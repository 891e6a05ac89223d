// ordergate run: the gateway process.

#include <cstdio>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "ordergate/server/config_file.hpp"
#include "ordergate/gateway/default_config.hpp"
#include "ordergate/server/doctor.hpp"
#include "ordergate/server/server.hpp"
#include "ordergate/security/token.hpp"

namespace ordergate::cli {
namespace {

constexpr const char* kRunHelp =
    "usage: ordergate run [--config FILE] [--socket PATH] [--log-format text|json]\n"
    "\n"
    "Runs the gateway on a Unix socket until SIGTERM or SIGINT; SIGHUP reloads FILE.\n"
    "Without --config it runs the embedded default: the paper broker as account\n"
    "'paper' (EUR/USD, GBP/USD, USD/JPY) and a development principal 'dev' whose\n"
    "token is generated now and printed once on the ready line.\n"
    "\n"
    "  --config FILE   TOML configuration (docs/configuration.md)\n"
    "  --socket PATH   socket path (overrides the configuration)\n"
    "  --log-format F  text (key=value, the default) or json (one object per line\n"
    "                  with ts, level, event and the fields, for log shippers)\n"
    "\n"
    "Under systemd (Type=notify) it sends READY=1 once every account is\n"
    "reconciled, WATCHDOG=1 at half of WatchdogSec= and STOPPING=1 on drain.\n";

ProcessConfig embedded_default(std::string& token_text) {
  ProcessConfig config;
  config.source = "(embedded default)";
  config.environment = "development";
  config.gateway = make_default_config();
  const security::Secret token = security::generate_token();
  token_text = std::string(token.reveal());
  PrincipalAuth auth;
  auth.name = kDefaultPrincipal;
  auth.token_sha256 = security::token_digest(token.reveal());
  auth.has_token = true;
  config.auth.push_back(auth);
  // Metrics and health on loopback; another free port when 9464 is taken.
  config.http = parse_http_listen("127.0.0.1:9464");
  config.http.fall_back_to_free_port = true;
  return config;
}

}  // namespace

int run_command(const Args& args) {
  std::string config_path;
  std::string socket_path;
  LogFormat log_format = LogFormat::text;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kRunHelp, stdout);
      return 0;
    }
    if (arg == "--log-format" && i + 1 < args.size()) {
      const std::string& format = args[++i];
      if (format != "text" && format != "json") {
        std::fprintf(stderr, "ordergate run: --log-format is 'text' or 'json'\n\n%s", kRunHelp);
        return 2;
      }
      log_format = format == "json" ? LogFormat::json : LogFormat::text;
      continue;
    }
    if ((arg == "--config" || arg == "--socket") && i + 1 < args.size()) {
      (arg == "--config" ? config_path : socket_path) = args[++i];
      continue;
    }
    std::fprintf(stderr, "ordergate run: unexpected argument '%s'\n\n%s", arg.c_str(), kRunHelp);
    return 2;
  }

  std::string token;
  ProcessConfig config = config_path.empty() ? embedded_default(token) : load_config_file(config_path);
  if (!socket_path.empty()) config.server.socket_path = socket_path;
  config.server.log_format = log_format;
  if (const auto violations = production_violations(config); !violations.empty()) {
    std::string message = "refusing to start in production:";
    for (const std::string& violation : violations) message += "\n  - " + violation;
    message += "\n(run 'ordergate doctor --config FILE' for the full checklist)";
    throw ConfigError(message);
  }
  const std::string environment = config.environment;

  Server server(std::move(config), std::cerr);
  server.start();
  // The one line tools and tests wait for. The development token of the
  // embedded default is printed here, once; configured tokens never are.
  if (!token.empty()) {
    std::printf("ordergate ready socket=%s environment=%s principal=%s token=%s", server.socket_path().c_str(),
                environment.c_str(), kDefaultPrincipal, token.c_str());
    security::wipe(token.data(), token.size());
  } else {
    std::printf("ordergate ready socket=%s environment=%s", server.socket_path().c_str(), environment.c_str());
  }
  if (const std::string console = server.http_url(); !console.empty()) std::printf(" console=%s", console.c_str());
  std::printf("\n");
  std::fflush(stdout);
  return server.run();
}

}  // namespace ordergate::cli
