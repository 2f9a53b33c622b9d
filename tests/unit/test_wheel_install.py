"""The wheel, installed into a fresh virtualenv with no repository beside it, routes, checks and runs.

The wheel is built from a copy of the working tree (what git tracks plus new files it does not
ignore), so a stale ``build/`` in the checkout cannot leak into it and parallel runs do not
share build directories. The project's dependencies come from the development virtualenv
through a plain path line in a ``.pth`` file: a path line does not process the editable
install's own ``.pth`` there, so ``ivr`` can only come from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.config.locate import EXAMPLE_NOTICE, SYSTEM_CONFIG_DIR

ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY = ("testkit", "hotline_sandbox", "speechkit")
_SKIP_DIRS = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".mypy_cache",
              ".ruff_cache", "generated", "results"}


def _tree_files() -> list[Path]:
    """The working tree's files as the next commit would have them (relative paths)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, check=True, timeout=30).stdout
        return [Path(name) for name in out.decode().split("\0") if name and (ROOT / name).is_file()]
    except (OSError, subprocess.SubprocessError):  # not a git checkout: everything but the junk
        return [path.relative_to(ROOT) for path in ROOT.rglob("*")
                if path.is_file() and not _SKIP_DIRS & set(path.relative_to(ROOT).parts)
                and not any(part.endswith(".egg-info") for part in path.parts)]


def _copy_tree(dest: Path) -> Path:
    for rel in _tree_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, target)
    return dest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class FreshInstall:
    """A virtualenv with the wheel installed, and an environment that knows nothing of the repo."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.venv = tmp / "venv"
        self.bin = self.venv / "bin"
        self.cwd = tmp / "empty"
        self.cwd.mkdir()
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(("HOTLINE_", "PYTHON", "PIP_")) and key != "VIRTUAL_ENV"}
        self.env.update(XDG_CACHE_HOME=str(tmp / "xdg"), HOTLINE_RUN_DIR=str(tmp / "run"),
                        HOTLINE_MODEL_DIR=str(tmp / "models"),
                        HOTLINE_AMI_PORT=str(_free_port()),  # nothing listens: no Asterisk
                        PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")

    def hotline(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "hotline"), *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "python"), "-c", code], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = _copy_tree(tmp / "src")
    dist = tmp / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "-q", "-w", str(dist), str(source)],
        capture_output=True, text=True, timeout=180)
    assert build.returncode == 0, (
        f"pip wheel failed (the build needs setuptools>=70.1 in this environment):\n"
        f"{build.stdout[-3000:]}\n{build.stderr[-3000:]}")
    (found,) = dist.glob("hotline12345-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshInstall]:
    fresh = FreshInstall(tmp_path_factory.mktemp("fresh"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh.venv)],
                   check=True, timeout=60)
    purelib = subprocess.run([str(fresh.bin / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    Path(purelib, "_hotline_dev_deps.pth").write_text("".join(f"{p}\n" for p in ours), encoding="utf-8")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(fresh.bin / "python"), "install", "--no-deps",
         "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=120, env=fresh.env)
    assert install.returncode == 0, install.stdout + install.stderr
    assert (fresh.bin / "hotline").is_file()
    yield fresh


def test_the_wheel_ships_the_product_and_its_example_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"ivr", "agent_pool"}
    for required in ("ivr/_example/merger_catalogue.yaml", "ivr/_example/routing_rules.yaml",
                     "ivr/_example/agents.yaml", "ivr/_example/recordings/prompts.yaml",
                     "ivr/_example/dialplans/extensions.conf.tmpl"):
        assert required in names


def test_the_package_comes_from_the_fresh_venv(installed: FreshInstall) -> None:
    probe = installed.python(
        "import importlib.util, json, ivr, pydantic\n"
        f"print(json.dumps({{'ivr': ivr.__file__, 'dev': {{m: importlib.util.find_spec(m) is not None "
        f"for m in {DEV_ONLY!r}}}}}))")
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert Path(found["ivr"]).resolve().is_relative_to(installed.venv.resolve())
    assert not Path(found["ivr"]).resolve().is_relative_to(ROOT)
    assert found["dev"] == dict.fromkeys(DEV_ONLY, False)


def test_route_and_check_with_no_repository(installed: FreshInstall) -> None:
    route = installed.hotline("route", "12345", "--json")
    assert route.returncode == 0, route.stderr
    decision = json.loads(route.stdout)
    assert decision["line"]["number"] == "12345"
    assert decision["line"]["mode"] == "main"
    assert decision["target"]["kind"] == "queue"
    assert decision["target"]["skill"] == "general"
    again = installed.hotline("route", "12345", "--json")  # from the cache this time
    assert again.returncode == 0 and json.loads(again.stdout) == decision

    check = installed.hotline("check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.startswith("ok: ")
    if not SYSTEM_CONFIG_DIR.is_dir():
        assert EXAMPLE_NOTICE in check.stdout
        assert "_example" in check.stdout


def test_config_init_copies_the_example(installed: FreshInstall) -> None:
    target = installed.tmp / "etc-hotline"
    init = installed.hotline("config", "init", str(target))
    assert init.returncode == 0, init.stderr
    for name in ("merger_catalogue.yaml", "routing_rules.yaml", "agents.yaml",
                 "recordings/prompts.yaml", "dialplans/extensions.conf.tmpl"):
        assert (target / name).is_file(), name
    assert installed.hotline("config", "init", str(target)).returncode == 1  # never overwrites
    where = subprocess.run([str(installed.bin / "hotline"), "config", "where"], cwd=target,
                           env=installed.env, capture_output=True, text=True, timeout=30)
    assert where.returncode == 0 and where.stdout.startswith(".")


def test_run_comes_up_without_asterisk_or_recordings(installed: FreshInstall) -> None:
    port = _free_port()
    log = installed.tmp / "run.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([str(installed.bin / "hotline"), "run", "--agi-port", str(port)],
                                cwd=installed.cwd, env=installed.env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"hotline run exited {proc.returncode}:\n{log.read_text()}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"FastAGI never listened:\n{log.read_text()}"
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text(encoding="utf-8")
    assert "no prompt recordings" in text
