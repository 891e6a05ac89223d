"""clients/python as an installable package: `pip install clients/python`.

Installs the package offline (no index, no build isolation: the build
backend comes from the interpreter's own setuptools and wheel, as Debian's
python3-setuptools and python3-wheel provide them) into a fresh virtual
environment in a temporary directory, then imports it from outside the
source tree and runs the client's unit tests against the installed copy.

tools/bootstrap installs what Debian's own interpreter (/usr/bin/python3)
needs, so with that interpreter (CI's) a missing piece is a failure. Another
interpreter (a pyenv build, say) that cannot build a setuptools package
offline (no setuptools, or no bdist_wheel: setuptools older than 70.1
without the `wheel` package) makes the test exit 77, which CTest reports as
skipped; ORDERGATE_REQUIRE_PIP_INSTALL=1 makes that a failure too.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import unittest
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[2]
CLIENT_SOURCE = SOURCE_ROOT / "clients" / "python"
PYTHON_TESTS = Path(__file__).resolve().parent
SKIP_EXIT_CODE = 77


def missing_build_tools() -> str | None:
    """What this interpreter lacks to build a setuptools package offline."""
    if importlib.util.find_spec("pip") is None:
        return "pip (Debian: python3-pip)"
    if importlib.util.find_spec("setuptools") is None:
        return "setuptools (Debian: python3-setuptools)"
    if importlib.util.find_spec("venv") is None:
        return "venv (Debian: python3-venv)"
    # Read the version from the metadata: importing setuptools has side effects.
    setuptools_version = tuple(
        int(part) for part in importlib.metadata.version("setuptools").split(".")[:2]
    )
    has_own_bdist_wheel = setuptools_version >= (70, 1)
    if not has_own_bdist_wheel and importlib.util.find_spec("wheel") is None:
        return "wheel, needed by setuptools < 70.1 to build wheels (Debian: python3-wheel)"
    return None


def isolated_environment() -> dict[str, str]:
    """The environment without anything that could point Python or pip at the
    source tree or at a package index."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))
    }
    environment["PIP_CONFIG_FILE"] = os.devnull
    environment["PIP_NO_CACHE_DIR"] = "1"
    environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    return environment


def run(command: list[str], cwd: Path, environment: dict[str, str]) -> str:
    result = subprocess.run(
        command,
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result.stdout


class ClientPackage(unittest.TestCase):
    work: Path
    venv_python: Path
    environment: dict[str, str]

    @classmethod
    def setUpClass(cls) -> None:
        directory = tempfile.TemporaryDirectory(prefix="ordergate-pip-")
        cls.addClassCleanup(directory.cleanup)
        cls.work = Path(directory.name)
        cls.environment = isolated_environment()
        # Build from a copy: setuptools writes build/ and *.egg-info next to
        # the sources it builds.
        source_copy = cls.work / "source"
        shutil.copytree(
            CLIENT_SOURCE,
            source_copy,
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
        )
        venv = cls.work / "venv"
        # The venv sees the interpreter's own pip, setuptools and wheel
        # (--system-site-packages), so nothing is downloaded.
        run(
            [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
            cls.work,
            cls.environment,
        )
        cls.venv_python = venv / "bin" / "python"
        run(
            [
                str(cls.venv_python),
                "-m",
                "pip",
                "install",
                "--no-build-isolation",
                "--no-index",
                str(source_copy),
            ],
            cls.work,
            cls.environment,
        )
        shutil.rmtree(source_copy)  # what is imported below can only be the installed copy

    def installed(self, code: str) -> str:
        """Runs `code` in the venv's interpreter, isolated (-I: no PYTHONPATH,
        no user site, no script directory on sys.path), from the temp dir."""
        return run([str(self.venv_python), "-I", "-c", code], self.work, self.environment)

    def test_imports_the_installed_copy_from_outside_the_source_tree(self) -> None:
        location = Path(
            self.installed("import ordergate_client; print(ordergate_client.__file__)").strip()
        ).resolve()
        site_packages = (self.work / "venv" / "lib").resolve()
        self.assertTrue(location.is_relative_to(site_packages), location)
        self.assertFalse(location.is_relative_to(SOURCE_ROOT.resolve()), location)
        self.assertEqual(location.name, "__init__.py")
        for module in ("__init__.py", "client.py"):
            self.assertEqual(
                (location.parent / module).read_bytes(),
                (CLIENT_SOURCE / "ordergate_client" / module).read_bytes(),
                f"installed {module} differs from clients/python/ordergate_client/{module}",
            )

    def test_ships_py_typed_and_declares_no_dependencies(self) -> None:
        output = self.installed(
            "import importlib.metadata as m\n"
            "d = m.distribution('ordergate-client')\n"
            "print(d.version)\n"
            "print(sorted(str(f) for f in d.files if f.name == 'py.typed'))\n"
            "print(d.requires or [])\n"
        ).splitlines()
        with (CLIENT_SOURCE / "pyproject.toml").open("rb") as pyproject:
            version = tomllib.load(pyproject)["project"]["version"]
        self.assertEqual(output, [version, "['ordergate_client/py.typed']", "[]"])

    def test_client_unit_tests_pass_against_the_installed_copy(self) -> None:
        # The scripted-fake-gateway tests need no gateway process; only the
        # test helpers come from tests/python, the client from the venv.
        environment = dict(self.environment, PYTHONPATH=str(PYTHON_TESTS))
        probe = (
            "import sys, ordergate_client, test_client_unit\n"
            "print(ordergate_client.__file__)\n"
        )
        location = run([str(self.venv_python), "-c", probe], self.work, environment).strip()
        self.assertTrue(Path(location).resolve().is_relative_to(self.work.resolve()), location)
        run(
            [str(self.venv_python), "-m", "unittest", "-q", "test_client_unit"],
            self.work,
            environment,
        )


DEBIAN_PYTHON = Path("/usr/bin/python3")


def setUpModule() -> None:  # noqa: N802 (unittest's name)
    # `pip install clients/python` on a Debian server means Debian's python3,
    # which tools/bootstrap equips: use it whenever it is there, so the test
    # runs (never skips) even where CTest found another interpreter first.
    if (
        sys.base_prefix != "/usr"
        and DEBIAN_PYTHON.exists()
        and os.environ.get("ORDERGATE_PIP_TEST_REEXEC") != "1"
    ):
        os.environ["ORDERGATE_PIP_TEST_REEXEC"] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(str(DEBIAN_PYTHON), [str(DEBIAN_PYTHON), "-m", "unittest", "-v", Path(__file__).stem])
    missing = missing_build_tools()
    if missing is None:
        return
    message = f"{sys.executable} cannot build a setuptools package offline: it lacks {missing}"
    system_interpreter = sys.base_prefix == "/usr"
    if system_interpreter or os.environ.get("ORDERGATE_REQUIRE_PIP_INSTALL") == "1":
        raise AssertionError(f"{message}; tools/bootstrap installs it for Debian's python3")
    print(f"test_client_package: skipped: {message}", file=sys.stderr, flush=True)
    sys.exit(SKIP_EXIT_CODE)  # CTest: SKIP_RETURN_CODE (tests/CMakeLists.txt)


if __name__ == "__main__":
    unittest.main()
