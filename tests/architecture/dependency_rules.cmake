# Which library target may depend on what: the layout table of README.md and
# docs/architecture.md, as checked by check_dependencies.cmake against the
# real dependency graph (`cmake --graphviz`). Each rule lists every direct
# dependency a target may have, whether PUBLIC, PRIVATE or INTERFACE; any
# other edge fails the test. ordergate_build_options (warning flags) is a
# build setting, not a dependency, and is ignored. Threads::Threads is the
# standard library's thread support; core does not use it and may not.
#
# Changing a rule is changing the architecture: change the docs with it.

set(ordergate_rule_targets
  ordergate_core ordergate_security ordergate_guards ordergate_audit
  ordergate_adapters ordergate_gateway ordergate_cluster ordergate_server ordergate_sim_lib)

# The domain model: the standard library only.
set(ordergate_rule_ordergate_core "")
# Secret, digests, CSPRNG, tokens, secret sources. toml++ reads TOML secrets
# files, header-only and at build time only (security/CMakeLists.txt).
set(ordergate_rule_ordergate_security
  ordergate_core OpenSSL::Crypto OpenSSL::SSL ordergate_tomlplusplus_header_only)
# Pure checks: no I/O, so nothing but core.
set(ordergate_rule_ordergate_guards ordergate_core)
# The journal writer (its own thread) and its verifier.
set(ordergate_rule_ordergate_audit ordergate_core ordergate_security Threads::Threads)
# Brokers: Beast/Asio (Boost headers) over OpenSSL, simdjson for the replies.
set(ordergate_rule_ordergate_adapters
  ordergate_core ordergate_security Boost::headers OpenSSL::SSL OpenSSL::Crypto
  simdjson::simdjson Threads::Threads)
# The in-process library: never the audit journal (only core's AuditSink
# port), never the server, never a parser of its own. ICU: the time zone of
# the trading day (day_start).
set(ordergate_rule_ordergate_gateway
  ordergate_core ordergate_security ordergate_guards ordergate_adapters Threads::Threads ICU::uc ICU::i18n)
# Scale-out (docs/cluster.md): a member drives the in-process library's admin
# calls from what Redis says (hiredis); the gateway never sees Redis.
set(ordergate_rule_ordergate_cluster
  ordergate_gateway ordergate_security Threads::Threads PkgConfig::HIREDIS)
# The process: the library plus the journal, the cluster member, Asio,
# simdjson, toml++, and libsystemd for sd_notify when it is found (optional).
set(ordergate_rule_ordergate_server
  ordergate_gateway ordergate_audit ordergate_cluster ordergate_core ordergate_security
  Boost::headers simdjson::simdjson tomlplusplus::tomlplusplus PkgConfig::LIBSYSTEMD Threads::Threads)
# The HTTPS broker simulator (sim/): no gateway, no guards.
set(ordergate_rule_ordergate_sim_lib
  ordergate_core ordergate_security Boost::headers Boost::program_options
  OpenSSL::SSL OpenSSL::Crypto simdjson::simdjson Threads::Threads)

# Targets that must be in the graph, so that a graph the parser misreads
# cannot pass by being empty.
set(ordergate_rule_required_targets
  ordergate_core ordergate_security ordergate_guards ordergate_audit
  ordergate_adapters ordergate_gateway)
