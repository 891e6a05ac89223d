"""The operators' console in a real browser.

The gateway runs on the paper broker with a Unix socket and ``[http] listen``
on a free loopback port. ``tests/browser/console_test.mjs`` drives Debian's
headless Chromium (``/usr/bin/chromium``, installed by tools/bootstrap)
through the DevTools protocol with puppeteer-core (tests/browser, installed by
tools/install-browser-test-deps; no browser download): a wrong token is
refused, an admin logs in, an order sent over the socket shows as a position,
HALT for the account (confirmed) makes the next order over the socket
TRADING_HALTED, RESUME lets orders pass again, a POST without the CSRF token
is refused, and a read-only principal sees every action disabled. It saves a
screenshot in the build tree (``test-artefacts/console.png``). The same
script runs against a cluster member (a ``redis-server`` the test starts on
loopback), where the console also shows the member and its budget leases.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import unittest
from pathlib import Path

from gateway_harness import GatewayTestCase, Principal
from redis_harness import RedisServer

ROOT = Path(__file__).resolve().parents[2]
BROWSER_TESTS = ROOT / "tests" / "browser"
CONSOLE = re.compile(r" console=(?P<url>http://127\.0\.0\.1:\d+/)")
CHROMIUM = "/usr/bin/chromium"


def artefact_directory() -> Path:
    build = os.environ.get("ORDERGATE_BUILD_DIR")
    return (Path(build) if build else ROOT / "build") / "test-artefacts"


class ConsoleInABrowser(GatewayTestCase):
    def setUp(self) -> None:
        node = shutil.which("node")
        self.assertIsNotNone(node, "node is not installed: run tools/bootstrap")
        self.node = str(node)
        self.assertTrue(
            Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: tools/bootstrap installs Debian's chromium package"
        )
        self.assertTrue(
            (BROWSER_TESTS / "node_modules" / "puppeteer-core").is_dir(),
            "puppeteer-core is not installed: run tools/install-browser-test-deps",
        )

    def test_an_operator_logs_in_sees_a_fill_halts_and_resumes_an_account(self) -> None:
        self.run_console_test()

    def test_a_cluster_members_console_shows_the_member_and_its_leases(self) -> None:
        redis = RedisServer(self.make_directory() / "redis")
        self.addCleanup(redis.stop)
        self.run_console_test(
            cluster=f'\n[cluster]\nredis = "{redis.url}"\nname = "gw-web"\n',
            gateway={"account_rate_limits": ["100/1s"]},
        )

    def run_console_test(self, cluster: str = "", gateway: dict | None = None) -> None:
        ops = Principal("ops", permissions=("admin", "read"))
        viewer = Principal("viewer", permissions=("read",))
        bot = Principal("bot", permissions=("trade", "cancel", "read"), accounts=("paper",))
        gateway = self.start_gateway([ops, viewer, bot], gateway=gateway,
                                     extra_toml='[http]\nlisten = "127.0.0.1:0"\n' + cluster)
        console = CONSOLE.search(gateway.ready_line)
        self.assertIsNotNone(console, gateway.ready_line)
        assert console is not None
        screenshot = artefact_directory() / ("console-cluster.png" if cluster else "console.png")
        if screenshot.exists():
            screenshot.unlink()
        environment = dict(os.environ)
        environment.update(
            {
                "CONSOLE_URL": console["url"],
                "SOCKET_PATH": str(gateway.socket_path),
                "ADMIN_TOKEN": ops.token,
                "VIEWER_TOKEN": viewer.token,
                "BOT_TOKEN": bot.token,
                "SCREENSHOT": str(screenshot),
                "CHROMIUM": CHROMIUM,
                "PUPPETEER_SKIP_DOWNLOAD": "1",
            }
        )
        if cluster:
            environment["CLUSTER_MEMBER"] = "gw-web"
        result = subprocess.run(
            [self.node, str(BROWSER_TESTS / "console_test.mjs")],
            cwd=BROWSER_TESTS,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
        )
        self.assertEqual(
            result.returncode, 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\ngateway log:\n{gateway.log_text()}"
        )
        self.assertTrue(screenshot.is_file())
        self.assertGreater(screenshot.stat().st_size, 10_000)
        log = gateway.log_text()
        for principal in (ops, viewer, bot):
            self.assertNotIn(principal.token, log)
            self.assertNotIn(principal.token, result.stdout + result.stderr)
        self.assertIn("op=halt by=ops via=console", log)
        self.assertIn("op=resume by=ops via=console", log)
        self.assertIn("console_login_refused", log)


if __name__ == "__main__":
    unittest.main()
