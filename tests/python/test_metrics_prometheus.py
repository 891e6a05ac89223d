"""A real Prometheus scrapes a real gateway.

The gateway runs with ``[http] listen`` on a free loopback port (port 0: the
ready line names it). A ``prometheus`` process (Debian's package, installed
by tools/bootstrap) runs on loopback with a temporary configuration that
scrapes it every second, its own temporary storage and the rules of
docs/prometheus-rules.yml. The test sends good and bad orders over the
socket, waits (condition and deadline) until Prometheus's query API returns
``ordergate_orders_total`` with the right counts by result and reason, checks
that Prometheus loaded the rules, and runs ``promtool check metrics`` on a
scrape, ``promtool check rules`` on the rules file and ``promtool test rules``
on its unit tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from gateway_harness import (
    EXIT_TIMEOUT,
    GatewayTestCase,
    Principal,
    config_toml,
    ordergate_binary,
    wait_until,
)

RULES = Path(__file__).resolve().parents[2] / "docs" / "prometheus-rules.yml"
CONSOLE = re.compile(r" console=(?P<url>http://127\.0\.0\.1:(?P<port>\d+)/)")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not installed: tools/bootstrap installs Debian's prometheus package")
    return path


def free_port() -> int:
    """A loopback port free right now (Prometheus cannot report a port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class MetricsThroughPrometheus(GatewayTestCase):
    def start_prometheus(self, directory: Path, target: str) -> str:
        config = directory / "prometheus.yml"
        config.write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  scrape_timeout: 1s\n"
            "  evaluation_interval: 1s\n"
            f"rule_files: [{json.dumps(str(RULES))}]\n"
            "scrape_configs:\n"
            "  - job_name: ordergate\n"
            "    static_configs:\n"
            f"      - targets: [{json.dumps(target)}]\n"
        )
        port = free_port()
        log = open(directory / "prometheus.log", "wb")
        self.addCleanup(log.close)
        process = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=directory,
        )
        self.addCleanup(self.stop_prometheus, process)
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(
                    f"prometheus exited with {process.returncode}: "
                    f"{(directory / 'prometheus.log').read_text(errors='replace')[-3000:]}"
                )
            try:
                return http_get(f"{base}/-/ready", timeout=1.0)[0] == 200
            except OSError:
                return False

        wait_until(ready, 60.0, interval=0.1, what="prometheus ready")
        return base

    @staticmethod
    def stop_prometheus(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    @staticmethod
    def query(base: str, expression: str) -> list[dict]:
        status, body = http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expression}))
        if status != 200:
            return []
        reply = json.loads(body)
        return reply["data"]["result"] if reply.get("status") == "success" else []

    def test_prometheus_scrapes_order_counts_by_result_and_reason(self) -> None:
        directory = self.make_directory()
        gateway = self.start_gateway(
            [Principal("trader")], directory=directory, extra_toml='[http]\nlisten = "127.0.0.1:0"\n'
        )
        console = CONSOLE.search(gateway.ready_line)
        self.assertIsNotNone(console, gateway.ready_line)
        assert console is not None
        metrics_url = console["url"] + "metrics"

        client = self.connect(gateway, "trader")
        for index in range(3):
            reply = client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", f"good-{index}")
            self.assertTrue(reply.accepted, reply)
        self.assertEqual(
            client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "good-0").reason,
            "DUPLICATE_CLIENT_ORDER_ID",
        )
        for index in range(2):
            self.assertEqual(
                client.submit("paper", "XAUUSD", "buy", "market", "1000", "ioc", f"bad-{index}").reason,
                "UNKNOWN_INSTRUMENT",
            )

        prometheus = self.start_prometheus(directory, f"127.0.0.1:{console['port']}")
        expected = {
            ("accepted", "OK", "paper"): 3,
            ("rejected", "DUPLICATE_CLIENT_ORDER_ID", "paper"): 1,
            ("rejected", "UNKNOWN_INSTRUMENT", ""): 2,
        }
        seen: dict[tuple[str, str, str], int] = {}

        def counts_arrived() -> bool:
            nonlocal seen
            seen = {
                (
                    sample["metric"]["result"],
                    sample["metric"]["reason"],
                    sample["metric"].get("account", ""),
                ): int(float(sample["value"][1]))
                for sample in self.query(prometheus, 'ordergate_orders_total{principal="trader"}')
            }
            return seen == expected

        try:
            wait_until(counts_arrived, 60.0, interval=0.25, what="ordergate_orders_total in Prometheus")
        except AssertionError as error:
            raise AssertionError(f"{error}; last seen {seen}") from None
        up = self.query(prometheus, 'up{job="ordergate"}')
        self.assertEqual([sample["value"][1] for sample in up], ["1"])
        ready = self.query(prometheus, "ordergate_ready")
        self.assertEqual([sample["value"][1] for sample in ready], ["1"])

        # The rules file is loaded and its rules evaluate without error.
        def rules_evaluated() -> list[dict]:
            status, body = http_get(f"{prometheus}/api/v1/rules")
            if status != 200:
                return []
            rules = [rule for group in json.loads(body)["data"]["groups"] for rule in group["rules"]]
            return rules if rules and all(rule.get("health") == "ok" for rule in rules) else []

        rules = wait_until(rules_evaluated, 30.0, interval=0.25, what="the rules evaluated by Prometheus")
        self.assertIn("OrdergateNotReady", {rule["name"] for rule in rules})

        # promtool has nothing to say about a scrape.
        status, scrape = http_get(metrics_url)
        self.assertEqual(status, 200)
        check = subprocess.run(
            [tool("promtool"), "check", "metrics"], input=scrape, capture_output=True, timeout=60
        )
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual(check.stdout + check.stderr, b"")

    def test_the_rules_file_passes_promtool(self) -> None:
        check = subprocess.run(
            [tool("promtool"), "check", "rules", str(RULES)], capture_output=True, timeout=60, text=True
        )
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn("SUCCESS", check.stdout)
        # The alerts fire when and as documented (docs/prometheus-rules.test.yml).
        unit = subprocess.run(
            [tool("promtool"), "test", "rules", str(RULES.with_name("prometheus-rules.test.yml"))],
            capture_output=True,
            timeout=60,
            text=True,
        )
        self.assertEqual(unit.returncode, 0, unit.stdout + unit.stderr)
        self.assertIn("SUCCESS", unit.stdout)

    def test_a_not_loopback_http_listener_is_refused_in_production(self) -> None:
        directory = self.make_directory()
        config = directory / "prod.toml"
        # Checked before anything is opened: the refusal names the rule and the address.
        config.write_text(
            config_toml(
                [Principal("trader", accounts=("paper",), symbols=("EUR/USD",))],
                environment="production",
                extra_toml=f'[audit]\npath = "{directory / "audit.jsonl"}"\n[http]\nlisten = "0.0.0.0:0"\n',
            )
        )
        result = subprocess.run(
            [ordergate_binary(), "run", "--config", str(config), "--socket", str(directory / "og.sock")],
            capture_output=True,
            timeout=EXIT_TIMEOUT,
            text=True,
            cwd=directory,
            env=dict(os.environ),
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("http.listen 0.0.0.0 is not a loopback address", result.stderr)


if __name__ == "__main__":
    unittest.main()
