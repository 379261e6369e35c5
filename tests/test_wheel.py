"""An installed wheel works on its own: build it, install it in a fresh venv, list and run library deals.

The wheel is built without network (``--no-build-isolation``) from a copy of the source
tree, so no ``build/`` or ``*.egg-info`` lands in the repository. The fresh venv gets
the wheel with ``--no-deps``; a ``.pth`` file makes this environment's site-packages
(numpy, pandas, ...) visible after its own, while this repository's ``src/`` stays
invisible, so every ``gigawatt`` import and every data file comes from the wheel.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _can_build_wheels() -> str | None:
    """Why this environment cannot build a wheel offline, or None."""
    import setuptools

    major_minor = tuple(int(x) for x in setuptools.__version__.split(".")[:2])
    if major_minor < (70, 1) and importlib.util.find_spec("wheel") is None:
        return (f"building a wheel offline needs the `wheel` package or setuptools>=70.1 in this environment "
                f"(setuptools {setuptools.__version__} here); pip install -e '.[test]'")
    if not (ROOT / "src" / "gigawatt" / "deals").is_dir():
        return "src/gigawatt/deals is not a folder: this checkout did not create the link to scenarios/ (core.symlinks)"
    return None


def _copy_source(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "src", dest / "src", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "scenarios", dest / "scenarios", ignore=ignore)
    return dest


def _site_packages_of_this_env() -> list[str]:
    """Folders holding the dependencies here, without this repository's source tree."""
    src = str(ROOT / "src")
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    paths |= {p for p in sys.path if p.endswith("site-packages")}
    return sorted(p for p in paths if Path(p).is_dir() and not p.startswith(src))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    reason = _can_build_wheels()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("wheel")
    source = _copy_source(tmp_path_factory.mktemp("source"))
    dist = tmp / "dist"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(dist), str(source)], check=True, env=env, capture_output=True, timeout=180)
    (wheel,) = dist.glob("gigawatt-*.whl")
    prefix = tmp / "venv"
    venv.EnvBuilder(with_pip=True).create(prefix)
    py = prefix / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                   check=True, env=env, capture_output=True, timeout=180)
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, env=env, capture_output=True, text=True).stdout.strip()
    # Dependencies from this environment, after the venv's own site-packages; a .pth line only
    # appends a folder, so the .pth files inside it (this repo's editable install) are not run.
    (Path(purelib) / "zz_dependencies.pth").write_text("\n".join(_site_packages_of_this_env()) + "\n")
    work = tmp / "elsewhere"
    work.mkdir()
    return {"wheel": wheel, "prefix": prefix, "bin": prefix / "bin", "cwd": work, "env": env}


def _run(installed, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(installed["bin"] / args[0]), *args[1:]], cwd=installed["cwd"], env=installed["env"],
                          capture_output=True, text=True, timeout=120)


def test_wheel_carries_the_deal_library(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    shipped = {p.name for p in (ROOT / "scenarios").glob("*.yaml")}
    assert shipped and {f"gigawatt/deals/{n}" for n in shipped} <= set(names)
    assert "gigawatt/catalog/data/chips.yaml" in names


def test_installed_package_is_the_wheel_not_the_checkout(installed):
    proc = _run(installed, "python", "-c", "import gigawatt, gigawatt.library as l; print(gigawatt.__file__); "
                                           "print(l.names())")
    assert proc.returncode == 0, proc.stderr
    where, names = proc.stdout.splitlines()
    assert Path(where).resolve().is_relative_to(installed["prefix"].resolve())
    assert not Path(where).resolve().is_relative_to(ROOT)
    assert "anthropic-aws-2026" in names


def test_installed_cli_lists_and_runs_library_deals(installed):
    proc = _run(installed, "gigawatt", "deals", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == len(list((ROOT / "scenarios").glob("*.yaml")))
    assert not [r for r in rows if "error" in r]
    assert {r["name"] for r in rows} >= {"anthropic-aws-2026", "microsoft-iren-2025"}

    proc = _run(installed, "gigawatt", "run", "anthropic-aws-2026", "--no-store", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["scenario"] == "anthropic-aws-2026"
    assert [y["year"] for y in summary["years"]] == list(range(2026, 2036))
    assert summary["totals"]["commitment_usd"] == pytest.approx(100e9)
    assert (installed["cwd"] / "gigawatt-runs" / "anthropic-aws-2026").is_dir()

    proc = _run(installed, "gigawatt", "check", "microsoft-iren-2025")
    assert proc.returncode == 0 and proc.stdout.startswith("ok: microsoft-iren-2025"), proc.stderr
    proc = _run(installed, "gigawatt", "ledger", "microsoft-iren-2025", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["scenario"] == "microsoft-iren-2025"

    proc = _run(installed, "gigawatt", "check", "anthropic-aws")
    assert proc.returncode == 2
    assert "did you mean anthropic-aws-2026" in proc.stderr and "microsoft-nebius-2025" in proc.stderr
