"""A real ``redis-server`` for the cluster tests, started on a free loopback
port in its own temporary directory, with persistence off, and a minimal
RESP client to look at what the gateways wrote.

``redis-server`` is a Debian package installed by ``tools/bootstrap``; a
test without it fails and says so.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

from gateway_harness import wait_until


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisClient:
    """Just enough RESP2 for the tests: one command at a time."""

    def __init__(self, port: int, timeout: float = 2.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def command(self, *args: str | bytes | int) -> Any:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(parts))
        return self._read()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _read(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            while len(self.buffer) < length + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("redis closed the connection")
                self.buffer += chunk
            data, self.buffer = self.buffer[:length], self.buffer[length + 2 :]
            return data.decode()
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._read() for _ in range(count)]
        raise RuntimeError(f"unexpected RESP line {line!r}")


class RedisServer:
    """``redis-server`` on 127.0.0.1:``port`` (a free one unless given), no
    persistence, in ``directory``. ``stop`` and ``start`` again on the same
    port model an outage and a restart that lost its data."""

    def __init__(self, directory: Path, port: int | None = None, password: str | None = None) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise FileNotFoundError("redis-server not found: run tools/bootstrap")
        self.binary = binary
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.password = password
        # The password goes in a 0600 file, not on a command line others can read.
        self.config = self.directory / "redis.conf"
        self.config.write_text(f"requirepass {password}\n" if password else "")
        self.config.chmod(0o600)
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(self.directory / "redis.log", "ab")
        self.process = subprocess.Popen(
            [
                self.binary,
                str(self.config),
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.directory),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--logfile", "",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        wait_until(self._answers, timeout=10.0, what=f"redis-server on port {self.port}")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"redis-server exited with {self.process.returncode}: "
                + (self.directory / "redis.log").read_text(errors="replace")
            )
        try:
            client = RedisClient(self.port, timeout=0.5)
        except OSError:
            return False
        try:
            if self.password:
                client.command("AUTH", self.password)
            return client.command("PING") == "PONG"
        except (OSError, RuntimeError):
            return False
        finally:
            client.close()

    def client(self) -> RedisClient:
        client = RedisClient(self.port)
        if self.password:
            client.command("AUTH", self.password)
        return client

    def kill(self) -> None:
        """SIGKILL: an outage with no goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
