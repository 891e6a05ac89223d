"""A journal whose tail was removed while the gateway was down: the restart is
refused (new records would otherwise be numbered with the removed ones'
sequence numbers) and ``ordergate audit verify --journal`` reports the missing
records, although the shortened file is a valid chain on its own."""

from __future__ import annotations

import subprocess
import unittest
from pathlib import Path

from gateway_harness import EXIT_TIMEOUT, GatewayProcess, GatewayTestCase, Principal, ordergate_binary


class AuditEndMark(GatewayTestCase):
    def test_restart_after_the_tail_was_removed_is_refused_and_verify_reports_it(self) -> None:
        directory = self.make_directory()
        journal = directory / "audit.jsonl"
        extra = f'[audit]\npath = "{journal}"\nfsync = "always"\n'
        gateway = self.start_gateway([Principal("trader")], directory=directory, extra_toml=extra)
        with gateway.connect("trader") as client:
            for n in range(5):
                reply = client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", f"e-{n}")
                self.assertTrue(reply.accepted, reply)
        self.assertEqual(gateway.terminate(), 0)

        lines = journal.read_bytes().splitlines(keepends=True)
        self.assertGreater(len(lines), 6)
        verify = [ordergate_binary(), "audit", "verify", "--journal", str(journal)]
        clean = subprocess.run(verify, capture_output=True, text=True, timeout=EXIT_TIMEOUT)
        self.assertEqual(clean.returncode, 0, clean.stdout + clean.stderr)

        kept = len(lines) - 3
        journal.write_bytes(b"".join(lines[:kept]))
        cut = subprocess.run(verify, capture_output=True, text=True, timeout=EXIT_TIMEOUT)
        self.assertEqual(cut.returncode, 1, cut.stdout + cut.stderr)
        self.assertIn("FAIL removed", cut.stdout)
        self.assertIn(f"records {kept + 1}..{len(lines)} are missing", cut.stdout)
        # Without the end mark's check the shortened chain verifies.
        files = subprocess.run([ordergate_binary(), "audit", "verify", str(journal)],
                               capture_output=True, text=True, timeout=EXIT_TIMEOUT)
        self.assertEqual(files.returncode, 0, files.stdout)

        restart = subprocess.run(
            [ordergate_binary(), "run", "--config", str(gateway.config_path), "--socket",
             str(directory / "again.sock")],
            capture_output=True, text=True, timeout=EXIT_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertNotEqual(restart.returncode, 0)
        self.assertIn(f"ends at seq {kept}", restart.stderr)
        self.assertIn(f"up to seq {len(lines)}", restart.stderr)
        self.assertEqual(len(journal.read_bytes().splitlines()), kept, "the refused start wrote nothing")

        # The documented way on: move the journal aside; the new one continues
        # the numbering after the last record written.
        journal.rename(directory / "evidence.jsonl")
        again = GatewayProcess(directory, [Principal("trader")], extra_toml=extra,
                               socket_path=directory / "again.sock")
        try:
            with again.connect("trader") as client:
                self.assertTrue(client.submit("paper", "EURUSD", "buy", "market", "1000", "ioc", "after").accepted)
        finally:
            self.assertEqual(again.terminate(), 0)
        first = journal.read_bytes().splitlines()[0]
        self.assertTrue(first.startswith(f'{{"seq":{len(lines) + 1},'.encode()), first)


if __name__ == "__main__":
    unittest.main()
