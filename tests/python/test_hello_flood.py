"""A flood of bad ``hello``s costs the journal a bounded number of records,
closes the connections that send them, and never locks out a valid token of
the same uid (with a 0600 socket every client has the gateway's uid)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from gateway_harness import GatewayTestCase, Principal, new_token

FLOOD = 5000
MAX_ERRORS = 20  # the default [gateway] max_errors


def read_lines_until_closed(connection: socket.socket, deadline: float) -> list[dict]:
    """Every reply line until the gateway closes the connection."""
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            lines = data.count(b"\n")
            raise AssertionError(f"the gateway did not close the connection; got {lines} lines")
        connection.settimeout(remaining)
        try:
            chunk = connection.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            return [json.loads(line) for line in data.splitlines() if line.strip()]
        data += chunk


class HelloFlood(GatewayTestCase):
    def test_a_flood_of_bad_hellos_writes_few_journal_lines_and_a_valid_token_is_welcomed_at_once(self) -> None:
        directory = self.make_directory()
        journal = directory / "audit.jsonl"
        gateway = self.start_gateway(
            [Principal("trader")],
            directory=directory,
            extra_toml=f'[audit]\npath = "{journal}"\nfsync = "interval"\n',
        )

        # Pipelined: each connection sends its whole error budget at once.
        replies: list[dict] = []
        for _ in range(FLOOD // MAX_ERRORS):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.connect(str(gateway.socket_path))
                burst = "".join(
                    json.dumps({"op": "hello", "id": n, "token": new_token()}) + "\n" for n in range(MAX_ERRORS)
                )
                connection.sendall(burst.encode())
                lines = read_lines_until_closed(connection, time.monotonic() + 10.0)
            self.assertEqual([line.get("id") for line in lines[:MAX_ERRORS]], list(range(MAX_ERRORS)))
            self.assertEqual(lines[MAX_ERRORS:], [lines[-1]], "one closing error after the failed hellos")
            self.assertEqual(lines[-1].get("code"), "TOO_MANY_ERRORS")
            replies += lines[:MAX_ERRORS]
        reasons = {reply.get("reason") for reply in replies}
        self.assertEqual(reasons, {"UNAUTHENTICATED", "RATE_LIMITED"})

        # The flood came from this uid; the valid token is welcomed at once.
        started = time.monotonic()
        client = self.connect(gateway)
        self.assertEqual(client.hello(gateway.token("trader")).principal, "trader")
        self.assertLess(time.monotonic() - started, 2.0)
        client.close()

        self.assertEqual(gateway.terminate(), 0)  # drains the journal and writes the last summary
        records = [json.loads(line) for line in Path(journal).read_bytes().splitlines()]
        self.assertLess(len(records), 100, f"{len(records)} journal lines for {FLOOD} bad hellos")
        refused = [r for r in records if r["event"] == "hello_refused" and r["reason"] == "UNAUTHENTICATED"]
        summaries = [r for r in records if r["event"] == "hello_refused" and r["reason"] == "RATE_LIMITED"]
        throttled = sum(int(r["detail"].removeprefix("throttled ")) for r in summaries)
        self.assertEqual(len(refused) + throttled, FLOOD, "every failed hello is accounted for")
        self.assertEqual(
            sum(1 for reply in replies if reply["reason"] == "RATE_LIMITED"), throttled
        )
        self.assertFalse(any(r["event"] == "records_dropped" for r in records))


if __name__ == "__main__":
    import unittest

    unittest.main()
