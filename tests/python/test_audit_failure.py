"""With ``fsync = "always"`` a reply waits until its audit record is on disk.
When the journal fails, that never happens: the held replies must still go
out, and new orders are refused AUDIT_UNAVAILABLE."""

from __future__ import annotations

import shutil

from gateway_harness import GatewayTestCase, Principal
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
            ),
        )
        client = self.connect(gateway, "trader")
        self.assertTrue(client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "before").accepted)

        shutil.rmtree(journal_directory)
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


if __name__ == "__main__":
    import unittest

    unittest.main()
