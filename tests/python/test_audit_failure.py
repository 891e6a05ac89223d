"""With ``fsync = "always"`` a reply waits until its audit record is on disk.
When the journal fails, that never happens: the held replies must still go
out, new orders are refused AUDIT_UNAVAILABLE, and the HTTP listener says
the gateway is not ready."""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request

from gateway_harness import GatewayTestCase, Principal, wait_until
from ordergate_client import Timeout

# A small max_bytes makes the journal rotate after a few records; rotation
# renames the file inside its directory, which fails once the directory is gone.
MAX_BYTES = 4096


class AuditFailure(GatewayTestCase):
    def test_held_replies_are_released_when_the_journal_fails_under_fsync_always(self) -> None:
        directory = self.make_directory()
        journal_directory = directory / "journal"
        journal_directory.mkdir()
        gateway = self.start_gateway(
            [Principal("trader")],
            directory=directory,
            extra_toml=(
                f'[audit]\npath = "{journal_directory / "audit.jsonl"}"\n'
                f'fsync = "always"\nmax_bytes = {MAX_BYTES}\n'
                '[http]\nlisten = "127.0.0.1:0"\n'
            ),
        )
        console = re.search(r" console=(http://127\.0\.0\.1:\d+/)", gateway.ready_line)
        assert console is not None, gateway.ready_line
        self.assertEqual(self.readyz(console[1]), (200, "healthy"))
        client = self.connect(gateway, "trader")
        self.assertTrue(client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "before").accepted)

        # The journal's writer may still be writing the first order's records
        # (and replacing its end mark beside them), so a file can appear
        # while the directory is being removed: remove until it is gone.
        def removed() -> bool:
            shutil.rmtree(journal_directory, ignore_errors=True)
            return not journal_directory.exists()

        wait_until(removed, 5.0, what="the journal's directory to be removed")
        reasons = []
        # Each record is a few hundred bytes: the journal must rotate, and
        # fail, well within this many orders.
        for n in range(3 * MAX_BYTES // 100):
            try:
                reply = client.submit("paper", "EURUSD", "sell", "market", "1000", "ioc", f"o-{n}", timeout=5.0)
            except Timeout:
                self.fail(f"no reply to order o-{n} after the journal failed (held for a durable mark)")
            reasons.append(reply.reason)
            if reply.reason == "AUDIT_UNAVAILABLE":
                break
        self.assertEqual(reasons[-1], "AUDIT_UNAVAILABLE", f"the journal never failed: {reasons}")
        self.assertEqual(set(reasons[:-1]), {None}, "every order before the failure was accepted")
        client.ping()
        gateway.wait_for_log("audit_failed")
        self.assertEqual(self.readyz(console[1]), (503, "unhealthy"))
        with urllib.request.urlopen(console[1] + "metrics", timeout=5.0) as response:
            metrics = response.read().decode()
        self.assertIn("\nordergate_audit_healthy 0\n", metrics)
        self.assertIn("\nordergate_ready 0\n", metrics)
        self.assertIn('reason="AUDIT_UNAVAILABLE"} 1\n', metrics)

    @staticmethod
    def readyz(console: str) -> tuple[int, str]:
        """The status of /readyz and the journal's state in its body."""
        try:
            with urllib.request.urlopen(console + "readyz", timeout=5.0) as response:
                return response.status, json.loads(response.read())["journal"]
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())["journal"]


if __name__ == "__main__":
    import unittest

    unittest.main()
