"""The systemd notification protocol, spoken to a socket the test owns.

``ordergate run`` is started as systemd starts a ``Type=notify`` unit:
``NOTIFY_SOCKET`` names a datagram socket bound by the test,
``WATCHDOG_USEC`` asks for watchdog pings, and the broker key comes from
a ``CREDENTIALS_DIRECTORY`` the test lays out (``[secrets]
systemd_credentials = true``). The broker is a real ``ordergate-sim``
(OANDA, TLS on loopback) that checks the key: the account is reconciled,
so READY=1 comes, only if the credential was read. The story:

- READY=1 arrives only after the account was reconciled (its
  ``account_ready`` line is already in the log when READY=1 is received);
- WATCHDOG=1 pings keep coming from the I/O loop at about half of
  WATCHDOG_USEC (counted over a window with a deadline, bounds loose);
- an order placed with the credential fills at the simulator;
- SIGTERM brings STOPPING=1, then a clean exit.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import unittest
from pathlib import Path

from gateway_harness import (
    EXIT_TIMEOUT,
    READY_TIMEOUT,
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

ACCOUNT = "101-001-0000000-001"
WATCHDOG_USEC = 200_000  # pings expected every 100 ms


class ServiceNotify(unittest.TestCase):
    def setUp(self) -> None:
        handle = short_temporary_directory("og-notify-")
        self.addCleanup(handle.cleanup)
        self.directory = Path(handle.name)
        self.oanda_token = new_token()
        self.client_token = new_token()
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.notify.close)
        self.notify_path = self.directory / "notify.sock"
        self.notify.bind(str(self.notify_path))
        self.messages: list[tuple[float, str]] = []

    # ---- processes

    def write_credentials(self) -> Path:
        directory = self.directory / "credentials"
        directory.mkdir(mode=0o700)
        credential = directory / "DEV_OANDA_TOKEN"
        credential.write_text(self.oanda_token + "\n")
        credential.chmod(0o400)
        return directory

    def config(self, port: int, ca: Path) -> Path:
        path = self.directory / "ordergate.toml"
        path.write_text(f"""
environment = "development"
[gateway]
order_capacity = 4096
[secrets]
use_environment = false
systemd_credentials = true
[brokers.oanda-sim]
kind = "oanda"
base_url = "https://localhost:{port}"
account_id = "{ACCOUNT}"
token_env = "OANDA_TOKEN"
ca_file = "{ca}"
pricing_interval = "50ms"
instruments = ["EUR/USD"]
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
[[accounts]]
name = "fx"
broker = "oanda-sim"
[[principals]]
name = "trader"
token_sha256 = "{token_sha256(self.client_token)}"
permissions = ["trade", "cancel", "read"]
accounts = ["fx"]
symbols = ["EUR/USD"]
rate_limits = ["100/1s"]
""")
        return path

    # ---- the notify socket

    def receive_until(self, wanted: str, timeout: float, on_message=None) -> float:  # type: ignore[no-untyped-def]
        """Reads notifications until one has the line ``wanted``; returns when it came."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {wanted} within {timeout:.0f}s; received {[m for _, m in self.messages][-10:]}")
            self.notify.settimeout(remaining)
            try:
                data = self.notify.recv(4096)
            except socket.timeout:
                continue
            now = time.monotonic()
            message = data.decode()
            self.messages.append((now, message))
            if on_message is not None:
                on_message(message)
            if wanted in message.split("\n"):
                return now

    # ---- the story

    def test_ready_after_reconciliation_then_watchdog_pings_and_stopping_on_sigterm(self) -> None:
        sim = SimProcess(self, self.directory, {"SIM_OANDA_TOKEN": self.oanda_token}, venues="oanda",
                         kill_at_cleanup=True)
        port, ca = sim.port, sim.ca
        credentials = self.write_credentials()
        config = self.config(port, ca)
        log = self.directory / "gateway.log"
        socket_path = self.directory / "og.sock"
        env = {key: value for key, value in os.environ.items() if key not in ("WATCHDOG_PID", "LISTEN_PID")}
        env.update(NOTIFY_SOCKET=str(self.notify_path), WATCHDOG_USEC=str(WATCHDOG_USEC),
                   CREDENTIALS_DIRECTORY=str(credentials))
        with open(log, "wb") as stderr:
            gateway = subprocess.Popen(
                [ordergate_binary(), "run", "--config", str(config), "--socket", str(socket_path)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=self.directory)
        self.addCleanup(stop_process, gateway, True)

        # READY=1 only once the account is reconciled: its log line came first.
        log_when_ready: list[str] = []

        def note_log(message: str) -> None:
            if "READY=1" in message.split("\n") and not log_when_ready:
                log_when_ready.append(log.read_text(errors="replace"))

        self.receive_until("READY=1", READY_TIMEOUT, note_log)
        self.assertRegex(log_when_ready[0], r"event=account_ready account=fx")
        self.assertIn("event=service_ready", log_when_ready[0])
        self.assertEqual(len(re.findall(r"event=service_ready", log.read_text())), 1)
        before_ready = [message for _, message in self.messages[:-1]]
        self.assertFalse(any("READY=1" in message for message in before_ready), before_ready)
        self.assertEqual(read_ready_line(gateway, log, "gateway").split()[2], f"socket={socket_path}")

        # Watchdog pings keep coming while the gateway serves.
        pings: list[float] = []

        def count_pings(message: str) -> None:
            if "WATCHDOG=1" in message.split("\n"):
                pings.append(time.monotonic())

        window_start = time.monotonic()
        for _ in range(8):
            self.receive_until("WATCHDOG=1", 10.0, count_pings)
        elapsed = pings[-1] - window_start
        # Configured: every 100 ms. Loose bounds: not a flood, not stalled.
        self.assertGreater(elapsed, 0.3, f"8 pings in {elapsed:.3f}s: faster than half of WATCHDOG_USEC")
        self.assertLess(elapsed, 8.0, f"8 pings took {elapsed:.3f}s")

        # The credential read from CREDENTIALS_DIRECTORY trades at the simulator.
        with Client(socket_path) as client:
            client.hello(self.client_token)
            attempt = 0

            def accepted() -> bool:
                nonlocal attempt
                attempt += 1
                reply = client.submit("fx", "EURUSD", "buy", "market", "1000", "ioc", f"n-{attempt}")
                if not reply.accepted:
                    self.assertEqual(reply.reason, "NO_REFERENCE_PRICE", repr(reply))
                return reply.accepted

            wait_until(accepted, 15.0, interval=0.05, what="an accepted order")

        # SIGTERM: STOPPING=1, then a clean exit.
        gateway.send_signal(signal.SIGTERM)
        self.receive_until("STOPPING=1", EXIT_TIMEOUT)
        self.assertEqual(gateway.wait(timeout=EXIT_TIMEOUT), 0, log.read_text(errors="replace")[-3000:])


if __name__ == "__main__":
    unittest.main()
