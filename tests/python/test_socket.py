"""The socket itself: file mode, peer credentials, socket file takeover,
connection limits, slow readers, many concurrent clients."""

from __future__ import annotations

import fcntl
import os
import socket
import stat
import struct
import subprocess
import termios
import time
import unittest

from gateway_harness import (
    EXIT_TIMEOUT,
    GatewayTestCase,
    Principal,
    config_toml,
    ordergate_binary,
    wait_until,
)
from ordergate_client import Client, ConnectionClosed


def unread_by_peer(sock: socket.socket) -> int:
    """Bytes we sent that the gateway has not read yet (Linux SIOCOUTQ)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


def wait_read_by_peer(sock: socket.socket, timeout: float = 5.0) -> None:
    wait_until(
        lambda: unread_by_peer(sock) == 0,
        timeout,
        interval=0.0002,
        what="the gateway to read our bytes",
    )


class SocketFile(GatewayTestCase):
    def test_socket_file_is_created_with_mode_0600(self) -> None:
        gateway = self.start_gateway()
        info = os.stat(gateway.socket_path)
        self.assertTrue(stat.S_ISSOCK(info.st_mode))
        self.assertEqual(stat.S_IMODE(info.st_mode), 0o600)
        self.assertEqual(info.st_uid, os.getuid())

    def test_socket_file_is_removed_on_sigterm(self) -> None:
        gateway = self.start_gateway()
        self.assertEqual(gateway.terminate(), 0)
        self.assertFalse(gateway.socket_path.exists())

    def test_stale_socket_file_is_replaced_at_startup(self) -> None:
        directory = self.make_directory()
        path = directory / "og.sock"
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(path))  # bound, never listening, closed: what a crash leaves
        stale.close()
        self.assertTrue(path.exists())
        gateway = self.start_gateway(directory=directory, socket_path=path)
        self.assertEqual(len(gateway.log_events("stale_socket_replaced")), 1)
        self.connect(gateway, "trader").ping()

    def test_live_socket_is_not_taken_over_by_a_second_gateway(self) -> None:
        first = self.start_gateway()
        client = self.connect(first, "trader")
        directory = self.make_directory()
        config = directory / "second.toml"
        config.write_text(config_toml([Principal("trader")]))
        second = subprocess.run(
            [
                ordergate_binary(),
                "run",
                "--config",
                str(config),
                "--socket",
                str(first.socket_path),
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=EXIT_TIMEOUT,
        )
        self.assertNotEqual(second.returncode, 0)
        self.assertEqual(second.stdout, "", "a refused gateway must not print the ready line")
        self.assertIn("another process is serving", second.stderr)
        self.assertIn(str(first.socket_path), second.stderr)
        client.ping()  # the first gateway is untouched
        self.connect(first, "trader").ping()

    def test_a_path_that_is_not_a_socket_is_refused_and_left_alone(self) -> None:
        directory = self.make_directory()
        path = directory / "og.sock"
        path.write_text("precious data")
        config = directory / "og.toml"
        config.write_text(config_toml([Principal("trader")]))
        result = subprocess.run(
            [ordergate_binary(), "run", "--config", str(config), "--socket", str(path)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=EXIT_TIMEOUT,
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("is not a socket", result.stderr)
        self.assertEqual(path.read_text(), "precious data")


class PeerCredentials(GatewayTestCase):
    @staticmethod
    def other_uid() -> int:
        return os.getuid() + 1 if os.getuid() < 60000 else os.getuid() - 1

    def test_peer_whose_uid_is_not_allowed_is_refused_with_peer_not_allowed(self) -> None:
        gateway = self.start_gateway(gateway={"allowed_uids": [self.other_uid()]})
        client = self.connect(gateway, timeout=2.0)
        with self.assertRaises(ConnectionClosed) as raised:
            client.hello(gateway.token("trader"))
        self.assertEqual(raised.exception.code, "PEER_NOT_ALLOWED")
        self.assertEqual(client.closing_code, "PEER_NOT_ALLOWED")
        self.assertEqual(len(gateway.log_events("peer_refused")), 1)
        self.assertEqual(gateway.log_events("hello"), [], "a refused peer must never reach hello")

    def test_peer_whose_gid_is_not_allowed_is_refused(self) -> None:
        gateway = self.start_gateway(gateway={"allowed_gids": [os.getgid() + 1]})
        with self.assertRaises(ConnectionClosed) as raised:
            self.connect(gateway, timeout=2.0).hello(gateway.token("trader"))
        self.assertEqual(raised.exception.code, "PEER_NOT_ALLOWED")

    def test_peer_on_the_allow_list_is_served(self) -> None:
        gateway = self.start_gateway(
            gateway={
                "allowed_uids": [self.other_uid(), os.getuid()],
                "allowed_gids": [os.getgid()],
            }
        )
        self.assertEqual(self.connect(gateway).hello(gateway.token("trader")).principal, "trader")


class ConnectionLimits(GatewayTestCase):
    def test_connections_over_max_connections_are_refused_and_a_freed_slot_is_reused(self) -> None:
        gateway = self.start_gateway(gateway={"max_connections": 2})
        first = self.connect(gateway, "trader")
        second = self.connect(gateway, "trader")
        third = self.connect(gateway, timeout=2.0)
        with self.assertRaises(ConnectionClosed) as raised:
            third.ping()
        self.assertEqual(raised.exception.code, "TOO_MANY_CONNECTIONS")
        first.ping()
        second.ping()
        first.close()
        wait_until(
            lambda: gateway.log_events("disconnected")
            and len(gateway.log_events("disconnected")) >= 2,
            what="the gateway to release the closed connections",
        )
        self.connect(gateway, "trader").ping()

    def test_idle_connection_is_closed_after_idle_timeout_while_an_active_one_stays(self) -> None:
        gateway = self.start_gateway(gateway={"idle_timeout": "1s"})
        idle = self.connect(gateway, "trader")
        active = self.connect(gateway, "trader")
        started = time.monotonic()
        with self.assertRaises(ConnectionClosed):
            while True:
                active.ping()
                self.assertIsNone(idle.next_event(0.2))
                self.assertLess(
                    time.monotonic() - started, 5.0, "the idle connection was never closed"
                )
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        active.ping()
        self.assertIn("why=idle_timeout", " ".join(gateway.log_events("disconnected")))

    def test_two_hundred_concurrent_connections_all_say_hello_and_ping(self) -> None:
        gateway = self.start_gateway(
            gateway={"max_connections": 256, "max_sessions": 256, "max_sessions_per_principal": 256}
        )
        token = gateway.token("trader")
        clients: list[Client] = []
        for _ in range(200):
            client = Client(gateway.socket_path, timeout=10.0)
            self.addCleanup(client.close)
            clients.append(client)
        # All hellos in flight at once, then every welcome collected.
        hellos = [client.begin_request("hello", token=token) for client in clients]
        replies = [pending.result() for pending in hellos]
        self.assertEqual({reply["type"] for reply in replies}, {"welcome"})
        pings = [client.begin_ping() for client in clients]
        for pending in pings:
            pending.result()
        self.assertEqual(len(gateway.log_events("hello")), 200)
        orders = [client.orders() for client in clients[::40]]
        self.assertEqual(orders, [[]] * 5)


class SlowReader(GatewayTestCase):
    REQUEST = b'{"op":"ping","id":"' + b"x" * 60 + b'"}\n'

    def test_client_that_never_reads_is_disconnected_once_its_output_exceeds_the_limit(
        self,
    ) -> None:
        # Each batch is read by the gateway before the next is sent, so its
        # replies stay far below the limit per read: the limit is reached only
        # through replies piling up behind a write that cannot complete.
        gateway = self.start_gateway(gateway={"max_output_bytes": 16384})
        other = self.connect(gateway, "trader")
        slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(slow.close)
        slow.connect(str(gateway.socket_path))
        slow.settimeout(5.0)
        batch = self.REQUEST * 10  # ~800 bytes of replies per batch: far below the limit each time
        sent = 0
        disconnected = False
        deadline = time.monotonic() + 15.0
        # Up to 4 MB of replies: 250x the limit, beyond any kernel socket buffer.
        while sent < 4_000_000 and time.monotonic() < deadline:
            try:
                slow.sendall(batch)
                wait_read_by_peer(slow)
            except (BrokenPipeError, ConnectionResetError):
                disconnected = True
                break
            except AssertionError:  # the gateway stopped reading us: it must be dropping us
                break
            sent += len(batch)
            if sent % (100 * len(batch)) == 0 and gateway.log_events("slow_reader_dropped"):
                disconnected = True
                break
        other.ping()  # everyone else carries on meanwhile
        self.assertTrue(
            disconnected or gateway.log_events("slow_reader_dropped"),
            f"the gateway kept a client that read nothing after {sent} bytes of requests",
        )
        gateway.wait_for_log("slow_reader_dropped")
        # What the kernel buffered arrives, then the end of the stream. The
        # gateway closed with our unread requests still queued to it, which a
        # Unix socket may report as a reset instead of an orderly end.
        slow.settimeout(5.0)
        try:
            while slow.recv(65536):
                pass
        except ConnectionResetError:
            pass
        other.ping()

    def test_client_that_pipelines_and_then_reads_everything_is_not_dropped(self) -> None:
        gateway = self.start_gateway(gateway={"max_output_bytes": 65536})
        client = self.connect(gateway, "trader")
        for _ in range(20):
            pending = [client.begin_ping() for _ in range(50)]
            for request in pending:
                request.result()
        self.assertEqual(gateway.log_events("slow_reader_dropped"), [])


if __name__ == "__main__":
    unittest.main()
