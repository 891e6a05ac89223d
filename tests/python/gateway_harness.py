"""Starts real `ordergate run` processes for the integration tests.

Each test gets its own gateway: a temporary directory holding the socket, a
TOML configuration written by the test, and the gateway's stderr log. Tokens
are made fresh for every principal with ``secrets`` and only their SHA-256 goes
into the configuration, as in production.

The binary comes from ``ORDERGATE_BIN`` (set by CTest). Readiness is the
gateway's one ``ordergate ready ...`` line on stdout, waited for with a
deadline; nothing here sleeps for a fixed time to wait for the process.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
import secrets
import selectors
import signal
import subprocess
import tempfile
import time
import unittest
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ordergate_client import Client

T = TypeVar("T")

#: Generous: ASan builds start several times slower than release builds.
READY_TIMEOUT = 20.0
EXIT_TIMEOUT = 20.0

READY_LINE = re.compile(
    r"^ordergate ready socket=(?P<socket>\S+) environment=(?P<environment>\S+)"
)

ALL_PERMISSIONS = ("trade", "cancel", "read", "admin")
TRADER_PERMISSIONS = ("trade", "cancel", "read")


def ordergate_binary() -> str:
    """The gateway executable under test."""
    path = os.environ.get("ORDERGATE_BIN")
    if not path:
        raise unittest.SkipTest(
            "ORDERGATE_BIN is not set (CTest sets it to the built ordergate binary)"
        )
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"ORDERGATE_BIN={path} is not an executable file")
    return path


def load_binary() -> str:
    """The load generator under test (``ORDERGATE_LOAD_BIN``, set by CTest)."""
    path = os.environ.get("ORDERGATE_LOAD_BIN")
    if not path:
        raise unittest.SkipTest("ORDERGATE_LOAD_BIN is not set (CTest sets it)")
    return path


def sim_binary() -> str:
    """The simulator executable under test (``ORDERGATE_SIM_BIN``, set by CTest)."""
    path = os.environ.get("ORDERGATE_SIM_BIN", "")
    if not path:
        raise AssertionError("ORDERGATE_SIM_BIN must name the ordergate-sim binary (CTest sets it)")
    return path


def read_ready_line(process: subprocess.Popen[bytes], log: Path, what: str, timeout: float = 30.0) -> str:
    """The first line ``process`` prints on stdout (its ready line), waited
    for with a deadline; the log's tail is shown when it does not come."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    data = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{what} not ready; log:\n{log.read_text(errors='replace')[-4000:]}")
            if not selector.select(remaining):
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"{what} exited early; log:\n{log.read_text(errors='replace')[-4000:]}")
            data += chunk
    return data.split(b"\n", 1)[0].decode()


def stop_process(process: subprocess.Popen[bytes], kill: bool = False) -> None:
    """Ends `process`: SIGTERM, then SIGKILL after EXIT_TIMEOUT (SIGKILL at
    once with `kill`); closes its stdout."""
    if process.poll() is None:
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


class SimProcess:
    """A running broker simulator (``ordergate-sim``) on a free loopback
    port, with the CA it serves written to ``<directory>/sim-ca.pem`` and its
    log to ``<directory>/sim.log``; `credentials` are its environment (e.g.
    ``SIM_OANDA_TOKEN``). Stopped by `test`'s cleanup (SIGKILL with
    `kill_at_cleanup`)."""

    def __init__(self, test: Any, directory: Path, credentials: dict[str, str], venues: str | None = None,
                 quiet: bool = True, kill_at_cleanup: bool = False) -> None:
        self.ca = directory / "sim-ca.pem"
        self.log = directory / "sim.log"
        command = [sim_binary(), "--port", "0", "--write-ca", str(self.ca)]
        if venues is not None:
            command += ["--venues", venues]
        if quiet:
            command.append("--quiet")
        with open(self.log, "wb") as stderr:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr,
                                            stdin=subprocess.DEVNULL, env=dict(os.environ, **credentials))
        test.addCleanup(stop_process, self.process, kill_at_cleanup)
        line = read_ready_line(self.process, self.log, "ordergate-sim")
        self.port = int(re.search(r"port=(\d+)", line).group(1))  # type: ignore[union-attr]


def new_token() -> str:
    """A client token as the gateway makes them: 32 random bytes, base64url."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def token_sha256(token: str) -> str:
    """The hex digest the configuration stores instead of the token."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def short_temporary_directory(prefix: str = "og-") -> tempfile.TemporaryDirectory[str]:
    """A temporary directory whose path leaves room for a socket name: a
    Unix socket path must fit in 108 bytes, and $TMPDIR can be long."""
    base = None if len(tempfile.gettempdir()) <= 60 else "/tmp"
    return tempfile.TemporaryDirectory(prefix=prefix, dir=base)


def wait_until(
    condition: Callable[[], T],
    timeout: float = 5.0,
    interval: float = 0.01,
    what: str = "condition",
) -> T:
    """Polls ``condition`` until it returns something truthy (returned) or the
    deadline passes (AssertionError). For states the test cannot be told
    about directly; never a substitute for waiting on a reply."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


# ------------------------------------------------------------------ config


@dataclasses.dataclass
class Principal:
    """One ``[[principals]]`` entry; its token is generated on creation."""

    name: str
    permissions: Sequence[str] = TRADER_PERMISSIONS
    accounts: Sequence[str] = ("*",)
    symbols: Sequence[str] = ("*",)
    order_types: Sequence[str] = ()
    rate_limits: Sequence[str] = ("1000/1s",)
    cancel_rate_limits: Sequence[str] | None = None
    modify_rate_limits: Sequence[str] | None = None
    max_quantity: str | None = None
    session_ttl: str | None = None
    cancel_on_disconnect: bool = False
    max_orders_per_day: int | None = None
    token: str = dataclasses.field(default_factory=new_token, repr=False)

    def toml(self) -> str:
        lines = [
            "[[principals]]",
            f"name = {_q(self.name)}",
            f'token_sha256 = "{token_sha256(self.token)}"',
            f"permissions = {_list(self.permissions)}",
            f"accounts = {_list(self.accounts)}",
            f"symbols = {_list(self.symbols)}",
            f"rate_limits = {_list(self.rate_limits)}",
        ]
        if self.order_types:
            lines.append(f"order_types = {_list(self.order_types)}")
        if self.cancel_rate_limits is not None:
            lines.append(f"cancel_rate_limits = {_list(self.cancel_rate_limits)}")
        if self.modify_rate_limits is not None:
            lines.append(f"modify_rate_limits = {_list(self.modify_rate_limits)}")
        if self.max_quantity is not None:
            lines.append(f"max_quantity = {_q(self.max_quantity)}")
        if self.session_ttl is not None:
            lines.append(f"session_ttl = {_q(self.session_ttl)}")
        if self.max_orders_per_day is not None:
            lines.append(f"max_orders_per_day = {self.max_orders_per_day}")
        if self.cancel_on_disconnect:
            lines.append("cancel_on_disconnect = true")
        return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _list(items: Iterable[str]) -> str:
    return "[" + ", ".join(_q(item) for item in items) + "]"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _q(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


#: EUR/USD and USD/JPY on the paper broker with fixed quotes (no random walk),
#: so fills and prices in the tests are exact.
INSTRUMENTS_TOML = """
[[instruments]]
name = "EUR/USD"
tick_size = "0.00001"
lot_step = "1"
min_quantity = "1"
max_quantity = "50000000"
max_order_quantity = "1000000"
max_notional = "2000000"
max_position = "5000000"
price_band_bps = 100
max_open_orders = 100
max_quote_age = "5s"

[[instruments]]
name = "USD/JPY"
tick_size = "0.001"
lot_step = "1"
min_quantity = "1"
max_quantity = "50000000"
max_order_quantity = "1000000"
max_notional = "300000000"
max_position = "5000000"
price_band_bps = 100
max_open_orders = 100
max_quote_age = "5s"

[[accounts]]
name = "paper"
broker = "paper"

[[accounts]]
name = "paper2"
broker = "paper"

[paper]
random_walk = false
tick_interval = "100ms"

[[paper.quotes]]
symbol = "EUR/USD"
bid = "1.08460"
ask = "1.08463"

[[paper.quotes]]
symbol = "USD/JPY"
bid = "151.230"
ask = "151.236"
"""

EURUSD_BID = "1.08460"
EURUSD_ASK = "1.08463"


def config_toml(
    principals: Sequence[Principal],
    gateway: dict[str, Any] | None = None,
    environment: str = "development",
    instruments: str = INSTRUMENTS_TOML,
    extra_toml: str = "",
) -> str:
    """A complete configuration file. ``gateway`` adds ``[gateway]`` keys; a
    small ``order_capacity`` keeps startup fast; ``extra_toml`` (whole tables
    such as ``[audit]``) goes at the end."""
    settings: dict[str, Any] = {"order_capacity": 4096}
    settings.update(gateway or {})
    parts = [f"environment = {_q(environment)}", "", "[gateway]"]
    parts += [f"{key} = {_value(value)}" for key, value in settings.items()]
    parts.append(instruments)
    parts += [principal.toml() for principal in principals]
    parts.append(extra_toml)
    return "\n".join(parts)


# ------------------------------------------------------------------ process


class GatewayProcess:
    """A running ``ordergate run`` with its temporary directory."""

    def __init__(
        self,
        directory: Path,
        principals: Sequence[Principal],
        gateway: dict[str, Any] | None = None,
        socket_path: Path | None = None,
        extra_args: Sequence[str] = (),
        extra_toml: str = "",
        environment: str = "development",
        instruments: str = INSTRUMENTS_TOML,
    ) -> None:
        self.directory = directory
        self.extra_toml = extra_toml
        self.instruments = instruments
        self.environment = environment
        self.principals = {principal.name: principal for principal in principals}
        self.gateway_settings = dict(gateway or {})
        self.config_path = directory / "ordergate.toml"
        self.socket_path = socket_path or directory / "og.sock"
        self.log_path = directory / "gateway.log"
        self.ready_line = ""
        self.write_config(principals, gateway)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [
                ordergate_binary(),
                "run",
                "--config",
                str(self.config_path),
                "--socket",
                str(self.socket_path),
                *extra_args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=directory,
        )
        try:
            self.ready_line = self._wait_ready()
        except BaseException:
            self.kill()
            raise

    # ---- configuration

    def write_config(
        self, principals: Sequence[Principal], gateway: dict[str, Any] | None = None
    ) -> None:
        """Rewrites the configuration file (atomically: a concurrent reload
        never reads half a file), keeping the environment and ``extra_toml`` it
        started with."""
        self.write_config_text(
            config_toml(
                principals,
                gateway,
                environment=self.environment,
                instruments=self.instruments,
                extra_toml=self.extra_toml,
            )
        )

    def write_config_text(self, text: str) -> None:
        staging = self.config_path.with_suffix(".tmp")
        staging.write_text(text)
        os.replace(staging, self.config_path)

    def token(self, principal: str) -> str:
        return self.principals[principal].token

    # ---- clients

    def connect(self, principal: str | None = None, timeout: float = 5.0) -> Client:
        """A new client; authenticated as ``principal`` when given."""
        client = Client(self.socket_path, timeout=timeout)
        if principal is not None:
            try:
                client.hello(self.token(principal))
            except BaseException:
                client.close()
                raise
        return client

    # ---- process control

    def _wait_ready(self) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT
        data = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while b"\n" not in data:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"gateway not ready within {READY_TIMEOUT}s; log:\n{self.log_text()}"
                    )
                if not selector.select(remaining):
                    continue
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    code = self.process.wait(timeout=EXIT_TIMEOUT)
                    raise AssertionError(
                        f"gateway exited with {code} before it was ready; log:\n{self.log_text()}"
                    )
                data += chunk
        line = data.split(b"\n", 1)[0].decode()
        match = READY_LINE.match(line)
        if match is None:
            raise AssertionError(f"unexpected first line on stdout: {line!r}")
        if match["socket"] != str(self.socket_path):
            raise AssertionError(
                f"ready line names socket {match['socket']}, expected {self.socket_path}"
            )
        return line

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def terminate(self, timeout: float = EXIT_TIMEOUT) -> int:
        """SIGTERM, then waits for the exit; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._close_files()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_files()

    def _close_files(self) -> None:
        if self.process.stdout is not None and not self.process.stdout.closed:
            self.process.stdout.close()
        if not self._log.closed:
            self._log.close()

    # ---- log

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_events(self, event: str) -> list[str]:
        """Log lines with ``event=<event>``."""
        return [line for line in self.log_text().splitlines() if f" event={event}" in line]

    def wait_for_log(self, event: str, count: int = 1, timeout: float = 5.0) -> list[str]:
        """Waits until the log has ``count`` lines with ``event=<event>``."""
        return wait_until(
            lambda: (lines := self.log_events(event)) and len(lines) >= count and lines,
            timeout,
            what=f"{count} log line(s) with event={event}",
        )


class GatewayTestCase(unittest.TestCase):
    """Base class: ``start_gateway`` runs a gateway for one test and stops it
    (SIGTERM, exit 0 expected) when the test ends."""

    def make_directory(self) -> Path:
        directory = short_temporary_directory()
        self.addCleanup(directory.cleanup)
        return Path(directory.name)

    def start_gateway(
        self,
        principals: Sequence[Principal] | None = None,
        gateway: dict[str, Any] | None = None,
        directory: Path | None = None,
        socket_path: Path | None = None,
        expect_clean_exit: bool = True,
        extra_toml: str = "",
        environment: str = "development",
        instruments: str = INSTRUMENTS_TOML,
    ) -> GatewayProcess:
        if principals is None:
            principals = [Principal("trader")]
        process = GatewayProcess(
            directory or self.make_directory(),
            principals,
            gateway,
            socket_path,
            extra_toml=extra_toml,
            environment=environment,
            instruments=instruments,
        )
        self.addCleanup(self._stop_gateway, process, expect_clean_exit)
        return process

    def _stop_gateway(self, process: GatewayProcess, expect_clean_exit: bool) -> None:
        if process.process.poll() is not None:
            process.kill()
            return
        try:
            code = process.terminate()
        except subprocess.TimeoutExpired:
            process.kill()
            log = process.log_text()
            self.fail(f"gateway did not exit within {EXIT_TIMEOUT}s of SIGTERM; log:\n{log}")
        if expect_clean_exit and code != 0:
            self.fail(f"gateway exited with {code} after SIGTERM; log:\n{process.log_text()}")

    def connect(
        self, gateway: GatewayProcess, principal: str | None = None, timeout: float = 5.0
    ) -> Client:
        """A client closed when the test ends."""
        client = gateway.connect(principal, timeout)
        self.addCleanup(client.close)
        return client
