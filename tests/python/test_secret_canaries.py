"""No credential ever shows up anywhere a person or another program can read.

A real ``ordergate-sim`` (TLS on loopback) and a real gateway run with a
canary value for every credential: the OANDA token, the Binance key and
secret, the audit HMAC key, the clients' tokens and their hashes. The test
trades through both brokers, fails logins, sends garbage, then starts the
gateway with broken configurations, and finally searches every log line,
the audit journal, every reply, every execution report, the HTTP
listener's /metrics, /healthz and /readyz pages and the console (its page,
the login answers, /api/state, /api/events and a refused action) for the
canaries.
The story runs twice: key=value logs with the credentials in a secrets file,
and JSON logs (--log-format json, every line an object) with the credentials
as systemd credentials in a $CREDENTIALS_DIRECTORY the test lays out.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import unittest
import urllib.parse
import urllib.request
from pathlib import Path

from gateway_harness import (
    EXIT_TIMEOUT,
    SimProcess,
    new_token,
    ordergate_binary,
    read_ready_line,
    short_temporary_directory,
    stop_process,
    token_sha256,
    wait_until,
)
from ordergate_client import Client



def canary(name: str) -> str:
    return f"canary{name}{secrets.token_hex(12)}"


class SecretCanaries(unittest.TestCase):
    def setUp(self) -> None:
        self.directory_handle = short_temporary_directory("og-canary-")
        self.directory = Path(self.directory_handle.name)
        self.addCleanup(self.directory_handle.cleanup)
        self.oanda_token = canary("oanda")
        self.binance_key = canary("bkey")
        self.binance_secret = canary("bsecret")
        self.audit_key = canary("audit")
        self.trader_token = new_token()
        self.wrong_token = new_token()
        self.risk_token = new_token()
        self.received: list[str] = []  # every reply and exec event, as JSON text

    # ---- processes

    def write_secrets(self) -> Path:
        path = self.directory / "secrets.toml"
        path.write_text(f'DEV_OANDA_TOKEN = "{self.oanda_token}"\nDEV_BINANCE_KEY = "{self.binance_key}"\n'
                        f'DEV_BINANCE_SECRET = "{self.binance_secret}"\nDEV_AUDIT_KEY = "{self.audit_key}"\n')
        path.chmod(0o600)
        return path

    def write_systemd_credentials(self) -> Path:
        """One file per credential, as systemd lays them out (0400 in a 0700 directory)."""
        directory = self.directory / "credentials"
        directory.mkdir(mode=0o700)
        for name, value in (("DEV_OANDA_TOKEN", self.oanda_token), ("DEV_BINANCE_KEY", self.binance_key),
                            ("DEV_BINANCE_SECRET", self.binance_secret), ("DEV_AUDIT_KEY", self.audit_key)):
            path = directory / name
            path.write_text(value + "\n")
            path.chmod(0o400)
        return directory

    def config(self, port: int, ca: Path, secrets_file: Path | None, token_env: str = "OANDA_TOKEN") -> str:
        source = f'files = ["{secrets_file}"]' if secrets_file is not None else "systemd_credentials = true"
        return f"""
environment = "development"
[gateway]
order_capacity = 4096
[secrets]
use_environment = false
{source}
[http]
listen = "127.0.0.1:0"
[audit]
path = "{self.directory / 'audit.jsonl'}"
fsync = "always"
hmac_key_env = "AUDIT_KEY"
[brokers.oanda-sim]
kind = "oanda"
base_url = "https://localhost:{port}"
account_id = "101-001-0000000-001"
token_env = "{token_env}"
ca_file = "{ca}"
pricing_interval = "50ms"
instruments = ["EUR/USD"]
[brokers.binance-sim]
kind = "binance"
base_url = "https://localhost:{port}"
api_key_env = "BINANCE_KEY"
secret_key_env = "BINANCE_SECRET"
ca_file = "{ca}"
pricing_interval = "50ms"
instruments = ["BTC/USDT"]
[[instruments]]
name = "EUR/USD"
tick_size = "0.00001"
lot_step = "1"
min_quantity = "1"
max_quantity = "10000000"
max_order_quantity = "1000000"
max_notional = "2000000"
max_position = "5000000"
price_band_bps = 200
max_open_orders = 50
max_quote_age = "30s"
[[instruments]]
name = "BTC/USDT"
tick_size = "0.01"
lot_step = "0.00001"
min_quantity = "0.00001"
max_quantity = "100"
max_order_quantity = "10"
max_notional = "1000000"
max_position = "50"
price_band_bps = 200
max_open_orders = 50
max_quote_age = "30s"
[[accounts]]
name = "fx"
broker = "oanda-sim"
[[accounts]]
name = "crypto"
broker = "binance-sim"
[[principals]]
name = "trader"
token_sha256 = "{token_sha256(self.trader_token)}"
permissions = ["trade", "cancel", "read"]
accounts = ["fx", "crypto"]
symbols = ["EUR/USD", "BTC/USDT"]
rate_limits = ["100/1s"]
[[principals]]
name = "risk"
token_sha256 = "{token_sha256(self.risk_token)}"
permissions = ["monitor"]
accounts = []
symbols = []
rate_limits = ["1/1s"]
"""

    def start_gateway(self, config_text: str, name: str, log_format: str = "text",
                      credentials: Path | None = None) -> tuple[subprocess.Popen[bytes], Path, Path]:
        config = self.directory / f"{name}.toml"
        config.write_text(config_text)
        log = self.directory / f"{name}.log"
        socket_path = self.directory / f"{name}.sock"
        env = dict(os.environ)
        env.pop("CREDENTIALS_DIRECTORY", None)
        if credentials is not None:
            env["CREDENTIALS_DIRECTORY"] = str(credentials)
        with open(log, "wb") as stderr:
            process = subprocess.Popen([ordergate_binary(), "run", "--config", str(config), "--socket", str(socket_path),
                                        "--log-format", log_format],
                                       stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, cwd=self.directory,
                                       env=env)
        self.addCleanup(stop_process, process)
        return process, log, socket_path

    # ---- the story

    def submit_until_accepted(self, client: Client, account: str, symbol: str, qty: str, prefix: str) -> str:
        attempt = 0

        def accepted() -> str | None:
            nonlocal attempt
            attempt += 1
            cl_ord_id = f"{prefix}-{attempt}"
            reply = client.submit(account, symbol, "buy", "market", qty, "ioc", cl_ord_id)
            self.received.append(repr(reply))
            # The first orders may come before the account is reconciled with
            # its broker or before the adapter's first price poll.
            if reply.accepted:
                return cl_ord_id
            self.assertIn(reply.reason, ("ACCOUNT_NOT_READY", "NO_REFERENCE_PRICE"), repr(reply))
            return None

        try:
            return wait_until(accepted, 15.0, interval=0.05, what=f"an accepted order on {account}")
        except AssertionError as error:
            logs = {name: (self.directory / name).read_text(errors="replace")[-3000:] for name in ("gateway.log", "sim.log")}
            raise AssertionError(f"{error}; logs: {logs}") from None

    def test_no_credential_appears_in_logs_audit_replies_or_events(self) -> None:
        self.run_story("text", systemd_credentials=False)

    def test_no_credential_appears_in_json_logs_with_systemd_credentials(self) -> None:
        self.run_story("json", systemd_credentials=True)

    def run_story(self, log_format: str, systemd_credentials: bool) -> None:
        # Not quiet: the simulator's own log is searched for the canaries too.
        sim = SimProcess(self, self.directory, {"SIM_OANDA_TOKEN": self.oanda_token,
                                                "SIM_BINANCE_KEY": self.binance_key,
                                                "SIM_BINANCE_SECRET": self.binance_secret}, quiet=False)
        port, ca = sim.port, sim.ca
        credentials = self.write_systemd_credentials() if systemd_credentials else None
        secrets_file = None if systemd_credentials else self.write_secrets()
        start = functools.partial(self.start_gateway, log_format=log_format, credentials=credentials)
        gateway, gateway_log, socket_path = start(self.config(port, ca, secrets_file), "gateway")
        ready_line = read_ready_line(gateway, gateway_log, "gateway")
        console = re.search(r" console=(http://127\.0\.0\.1:\d+/)", ready_line)
        self.assertIsNotNone(console, ready_line)
        assert console is not None

        with Client(socket_path) as intruder:
            for _ in range(3):
                try:
                    self.received.append(repr(intruder.hello(self.wrong_token)))
                except Exception as error:  # refused: the exception text is what a client sees
                    self.received.append(str(error))
        # A drop-copy subscriber (every account) follows the whole story.
        watcher = Client(socket_path)
        self.addCleanup(watcher.close)
        watcher.hello(self.risk_token)
        self.received.append(repr(watcher.subscribe()))
        with Client(socket_path) as client:
            self.received.append(repr(client.hello(self.trader_token)))
            fx_id = self.submit_until_accepted(client, "fx", "EURUSD", "1000", "fx")
            crypto_id = self.submit_until_accepted(client, "crypto", "BTCUSDT", "0.001", "cr")
            filled: set[str] = set()

            def both_filled() -> bool:
                event = client.next_event(0.2)
                if event is not None:
                    self.received.append(repr(event))
                    if event.status == "FILLED":
                        filled.add(event.cl_ord_id)
                return {fx_id, crypto_id} <= filled

            wait_until(both_filled, 15.0, interval=0.0, what="fills from both simulated brokers")
            self.received.append(repr(client.positions()))
            self.received.append(repr(client.orders()))
            # Credentials pasted into an order's fields: refused, and never
            # repeated by the reply or the drop copy's rejection.
            pasted = client.submit(self.binance_key, self.oanda_token, "buy", "market", "1", "ioc", "pasted-1")
            self.assertFalse(pasted.accepted)
            self.received.append(repr(pasted))
        # Garbage, including a credential pasted into a field, on a raw socket.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.settimeout(5.0)
            raw.connect(str(socket_path))
            lines = [json.dumps({"op": "hello", "token": self.trader_token}), "not json",
                     json.dumps({"op": "submit", "token": self.oanda_token}),
                     json.dumps({"op": "cancel", "cl_ord_id": self.binance_secret}),
                     json.dumps({"op": "ping", "id": "last"})]
            raw.sendall(("\n".join(lines) + "\n").encode())
            data = b""
            while b'"last"' not in data:
                chunk = raw.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.received.append(data.decode(errors="replace"))
            self.assertIn(b'"type":"pong"', data)
        copied = [repr(event) for event in watcher.events(timeout=1.0)]
        self.assertTrue(any("'FILLED'" in e for e in copied), copied)
        self.assertTrue(any("pasted-1" in e and "'INVALID_ACCOUNT'" in e for e in copied), copied)
        self.received += copied
        # What the HTTP listener shows operators, after all of the above.
        pages = {}
        for page in ("metrics", "healthz", "readyz"):
            with urllib.request.urlopen(console[1] + page, timeout=5.0) as response:
                pages[page] = response.read().decode(errors="replace")
        self.assertIn('ordergate_orders_total{principal="trader"', pages["metrics"])
        self.assertIn('ordergate_executions_total{account="fx",status="FILLED"}', pages["metrics"])
        pages.update(self.console_pages(console[1]))
        self.assertEqual(self.stop_gateway(gateway), 0)

        # Broken starts: a credential that is not there, and a loose secrets file.
        broken, broken_log, _ = start(self.config(port, ca, secrets_file, token_env="NO_SUCH_TOKEN"), "missing")
        self.assertNotEqual(broken.wait(timeout=EXIT_TIMEOUT), 0)
        self.assertIn("DEV_NO_SUCH_TOKEN", broken_log.read_text())
        if credentials is not None:
            (credentials / "DEV_OANDA_TOKEN").chmod(0o444)
        else:
            secrets_file.chmod(0o644)  # type: ignore[union-attr]
        loose, loose_log, _ = start(self.config(port, ca, secrets_file), "loose")
        self.assertNotEqual(loose.wait(timeout=EXIT_TIMEOUT), 0)
        self.assertIn("accessible to others" if credentials is not None else "chmod 600", loose_log.read_text())
        if log_format == "json":
            events = [json.loads(line) for line in gateway_log.read_text().splitlines()]
            self.assertTrue(all({"ts", "level", "event"} <= event.keys() for event in events), events[:3])
            self.assertIn("account_ready", {event["event"] for event in events})
            self.assertIn("service_ready", {event["event"] for event in events})

        audit = (self.directory / "audit.jsonl").read_text()
        self.assertIn('"event":"hello_refused"', audit)
        self.assertIn('"event":"order_accepted"', audit)
        places = {
            "gateway log": gateway_log.read_text(errors="replace"),
            "missing-credential log": broken_log.read_text(errors="replace"),
            "loose-file log": loose_log.read_text(errors="replace"),
            "simulator log": (self.directory / "sim.log").read_text(errors="replace"),
            "audit journal": audit,
            "replies and events": "\n".join(self.received),
            "/metrics page": pages["metrics"],
            "/healthz page": pages["healthz"],
            "/readyz page": pages["readyz"],
            **{place: text for place, text in pages.items() if place.startswith("console")},
        }
        canaries = {
            "OANDA token": self.oanda_token,
            "Binance key": self.binance_key,
            "Binance secret": self.binance_secret,
            "audit HMAC key": self.audit_key,
            "client token": self.trader_token,
            "monitor token": self.risk_token,
            "wrong client token": self.wrong_token,
            "client token hash": token_sha256(self.trader_token),
        }
        for place, text in places.items():
            for what, value in canaries.items():
                self.assertNotIn(value, text, f"the {what} leaked into the {place}")
        self.assertGreater(len(places["gateway log"]), 0)

    def console_pages(self, base: str) -> dict[str, str]:
        """What the console shows: a refused and an accepted login, the page
        with its script and style sheet, /api/state, two /api/events updates
        and an action refused with credentials pasted into it."""
        parsed = urllib.parse.urlsplit(base)
        assert parsed.hostname is not None and parsed.port is not None

        def request(method: str, path: str, body: str | None = None,
                    headers: dict[str, str] | None = None) -> tuple[int, str, str]:
            connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=5.0)
            try:
                connection.request(method, path, body, headers or {})
                response = connection.getresponse()
                return response.status, response.getheader("Set-Cookie") or "", response.read().decode(errors="replace")
            finally:
                connection.close()

        form = {"Content-Type": "application/x-www-form-urlencoded"}
        pages: dict[str, str] = {}
        status, _, pages["console refused login"] = request(
            "POST", "/login", urllib.parse.urlencode({"token": self.wrong_token}), form)
        self.assertEqual(status, 401)
        status, set_cookie, pages["console login"] = request(
            "POST", "/login", urllib.parse.urlencode({"token": self.trader_token}), form)
        self.assertEqual(status, 200, pages["console login"])
        pages["console login"] += set_cookie
        cookie = {"Cookie": set_cookie.split(";")[0]}
        pages["console page"] = "".join(request("GET", path)[2] for path in ("/", "/console.js", "/console.css"))
        status, _, pages["console /api/state"] = request("GET", "/api/state", headers=cookie)
        self.assertEqual(status, 200)
        self.assertIn('"principal":"trader"', pages["console /api/state"])
        self.assertIn('"cl_ord_id":"fx', pages["console /api/state"])
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=5.0)
        try:
            connection.request("GET", "/api/events", headers=cookie)
            response = connection.getresponse()
            self.assertEqual(response.status, 200)
            updates: list[str] = []
            while len(updates) < 2:
                line = response.fp.readline().decode(errors="replace")
                self.assertNotEqual(line, "", "the event stream ended early")
                if line.startswith("data: "):
                    updates.append(line)
            pages["console /api/events"] = "".join(updates)
        finally:
            connection.close()
        status, _, pages["console refused action"] = request(
            "POST", "/api/trading-state", json.dumps({"scope": f"account:{self.oanda_token}", "state": "halted"}),
            {**cookie, "X-CSRF-Token": self.binance_secret, "Content-Type": "application/json"})
        self.assertEqual(status, 403)
        return pages

    @staticmethod
    def stop_gateway(process: subprocess.Popen[bytes]) -> int:
        process.terminate()
        return process.wait(timeout=EXIT_TIMEOUT)


if __name__ == "__main__":
    unittest.main()
