"""The Debian package, built and checked as an operator would get it.

``tools/package`` builds ``ordergate_<version>_amd64.deb`` from the build
tree under test with CPack and runs lintian on it (errors fail). The test
then reads the package (control fields, conffiles, maintainer scripts,
files and modes), unpacks it with ``dpkg-deb -x`` and runs the unpacked
``ordergate``: ``doctor`` on the packaged configuration must refuse it and
say why (no principal has a token), with the installed-system checks
seeing the packaged unit's hardening; ``run`` must refuse to start. The
unit is checked with ``systemd-analyze verify`` (its ExecStart pointed at
the unpacked binary: the package is not installed here) and its exposure
score with ``systemd-analyze security --offline=true``, which needs no
running systemd.

Sanitizer builds skip it: the package is made from the release build.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[2]
MAX_EXPOSURE = 2.0


def run(*command: str, check: bool = True, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


class DebianPackage(unittest.TestCase):
    package: Path
    tools_output: str
    root: Path

    @classmethod
    def setUpClass(cls) -> None:
        if os.environ.get("ORDERGATE_SANITIZE"):
            raise unittest.SkipTest("the package is built from the release build (sanitizer build)")
        missing = [tool for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps", "lintian", "systemd-analyze")
                   if shutil.which(tool) is None]
        if missing:
            raise AssertionError(f"missing {', '.join(missing)}: run tools/bootstrap")
        build_dir = os.environ["ORDERGATE_BUILD_DIR"]
        result = run(str(SOURCE_DIR / "tools" / "package"), "--no-build", "--build-dir", build_dir)
        cls.tools_output = result.stdout + result.stderr
        packages = sorted(Path(build_dir).glob("ordergate_*_amd64.deb"))
        assert len(packages) == 1, packages
        cls.package = packages[0]
        handle = tempfile.TemporaryDirectory(prefix="og-package-")
        cls.addClassCleanup(handle.cleanup)
        cls.root = Path(handle.name) / "root"
        run("dpkg-deb", "-x", str(cls.package), str(cls.root))
        cls.control = Path(handle.name) / "control"
        run("dpkg-deb", "-e", str(cls.package), str(cls.control))

    def test_lintian_finds_no_error(self) -> None:
        self.assertIn("lintian: no errors", self.tools_output)
        self.assertNotRegex(self.tools_output, r"(?m)^E: ")
        version = re.search(r"project\(ordergate VERSION (\S+)", (SOURCE_DIR / "CMakeLists.txt").read_text())
        self.assertEqual(self.package.name, f"ordergate_{version.group(1)}_amd64.deb")  # type: ignore[union-attr]

    def test_control_conffiles_and_maintainer_scripts(self) -> None:
        fields = run("dpkg-deb", "--field", str(self.package)).stdout
        self.assertRegex(fields, r"(?m)^Package: ordergate$")
        depends = re.search(r"(?m)^Depends: (.*)$", fields).group(1)  # type: ignore[union-attr]
        for dependency in ("adduser", "libsystemd0", "libssl3"):
            self.assertIn(dependency, depends)
        self.assertEqual((self.control / "conffiles").read_text().split(), ["/etc/ordergate/ordergate.toml"])
        postinst = (self.control / "postinst").read_text()
        self.assertIn("adduser --system", postinst)
        self.assertIn("chmod 0640 /etc/ordergate/ordergate.toml", postinst)
        self.assertIn("chmod 0750 /var/lib/ordergate", postinst)
        self.assertTrue(os.access(self.control / "postinst", os.X_OK))

    def test_files_and_modes(self) -> None:
        listing = run("dpkg-deb", "--contents", str(self.package)).stdout
        modes = {line.split()[-1].lstrip("."): line.split()[0] for line in listing.splitlines()}
        self.assertEqual(modes["/usr/bin/ordergate"], "-rwxr-xr-x")
        self.assertEqual(modes["/etc/ordergate/ordergate.toml"], "-rw-r-----")
        self.assertEqual(modes["/lib/systemd/system/ordergate.service"], "-rw-r--r--")
        self.assertIn("/usr/share/doc/ordergate/copyright", modes)
        self.assertIn("/usr/share/doc/ordergate/deployment.md", modes)
        self.assertFalse(any(path.startswith(("/usr/include", "/usr/lib/x86_64", "/usr/local")) for path in modes))

    def test_the_packaged_configuration_refuses_to_trade_and_says_why(self) -> None:
        binary = str(self.root / "usr/bin/ordergate")
        config = str(self.root / "etc/ordergate/ordergate.toml")
        doctor = run(binary, "doctor", "--config", config, "--system", "--root", str(self.root), check=False)
        self.assertEqual(doctor.returncode, 1, doctor.stdout + doctor.stderr)
        self.assertRegex(doctor.stdout, r"(?m)^FAIL  config .*principal 'strategy' has no token_sha256; "
                                        r"make one with 'ordergate token new --principal strategy'")
        self.assertRegex(doctor.stdout, r"(?m)^PASS  unit_hardening ")
        started = run(binary, "run", "--config", config, "--socket", str(self.root / "og.sock"), check=False,
                      timeout=30.0)
        self.assertNotEqual(started.returncode, 0)
        self.assertIn("has no token_sha256", started.stderr)

    def test_the_unit_verifies_and_its_exposure_is_at_most_2(self) -> None:
        unit = (self.root / "lib/systemd/system/ordergate.service").read_text()
        self.assertIn("ExecStart=/usr/bin/ordergate run", unit)
        with tempfile.TemporaryDirectory(prefix="og-unit-") as directory:
            copy = Path(directory) / "ordergate.service"
            copy.write_text(unit.replace("/usr/bin/ordergate", str(self.root / "usr/bin/ordergate")))
            verify = run("systemd-analyze", "verify", str(copy), check=False, timeout=60.0)
            self.assertEqual((verify.returncode, verify.stdout + verify.stderr), (0, ""))
            security = run("systemd-analyze", "security", "--offline=true", "--no-pager", str(copy), check=False,
                           timeout=60.0)
        match = re.search(r"Overall exposure level for ordergate.service: (\d+\.\d+)", security.stdout)
        self.assertIsNotNone(match, security.stdout + security.stderr)
        score = float(match.group(1))  # type: ignore[union-attr]
        print(f"systemd-analyze security --offline=true: exposure {score}")
        self.assertLessEqual(score, MAX_EXPOSURE, security.stdout)


if __name__ == "__main__":
    unittest.main()
