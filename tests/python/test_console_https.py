"""The HTTP listener over HTTPS: ``[http] tls_cert`` and ``tls_key``.

A certificate for localhost made by ``openssl`` (Debian's package, installed
by tools/bootstrap) for this test only; the gateway serves HTTPS only, says
``console=https://...`` on its ready line, answers /healthz to a client that
verifies the certificate, sets the console's session cookie ``Secure``, and
gives a plain-HTTP client no HTTP answer.
"""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import ssl
import subprocess
import unittest
import urllib.parse
from pathlib import Path

from gateway_harness import GatewayTestCase, Principal

CONSOLE = re.compile(r" console=(?P<url>https://127\.0\.0\.1:(?P<port>\d+)/)")


def make_certificate(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise AssertionError("openssl is not installed: run tools/bootstrap")
    certificate, key = directory / "http.crt", directory / "http.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(certificate), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )
    key.chmod(0o600)
    return certificate, key


class ConsoleOverHttps(GatewayTestCase):
    def test_the_listener_serves_https_only_and_the_cookie_is_secure(self) -> None:
        directory = self.make_directory()
        certificate, key = make_certificate(directory)
        ops = Principal("ops", permissions=("admin", "read"))
        gateway = self.start_gateway(
            [ops], directory=directory,
            extra_toml=f'[http]\nlisten = "127.0.0.1:0"\ntls_cert = "{certificate}"\ntls_key = "{key}"\n',
        )
        console = CONSOLE.search(gateway.ready_line)
        self.assertIsNotNone(console, gateway.ready_line)
        assert console is not None
        port = int(console["port"])
        context = ssl.create_default_context(cafile=str(certificate))

        def request(method: str, path: str, body: str | None = None,
                    headers: dict[str, str] | None = None) -> tuple[int, str, str]:
            connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=5.0, context=context)
            try:
                connection.request(method, path, body, headers or {})
                response = connection.getresponse()
                return response.status, response.getheader("Set-Cookie") or "", response.read().decode()
            finally:
                connection.close()

        status, _, body = request("GET", "/healthz")
        self.assertEqual((status, body), (200, '{"status":"serving"}\n'))
        status, cookie, body = request(
            "POST", "/login", urllib.parse.urlencode({"token": ops.token}),
            {"Content-Type": "application/x-www-form-urlencoded", "Origin": f"https://127.0.0.1:{port}"})
        self.assertEqual(status, 200, body)
        self.assertIn("; Secure", cookie)
        self.assertIn("HttpOnly", cookie)
        # The http:// origin of the same host and port is another origin.
        status, _, _ = request(
            "POST", "/login", urllib.parse.urlencode({"token": ops.token}),
            {"Content-Type": "application/x-www-form-urlencoded", "Origin": f"http://127.0.0.1:{port}"})
        self.assertEqual(status, 403)

        # Plain HTTP: the TLS handshake fails and no HTTP answer comes back.
        with socket.create_connection(("127.0.0.1", port), timeout=5.0) as plain:
            plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = b""
            try:
                while chunk := plain.recv(4096):
                    answer += chunk
            except (ConnectionResetError, TimeoutError):
                pass
        self.assertFalse(answer.startswith(b"HTTP/"), answer[:80])
        self.assertNotIn(ops.token, gateway.log_text())


if __name__ == "__main__":
    unittest.main()
