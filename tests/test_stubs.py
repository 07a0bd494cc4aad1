"""python/pltvm/_core.pyi matches the native module pltvm._core."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, needs_native

PYI = REPO / "python" / "pltvm" / "_core.pyi"

pytestmark = needs_native


def test_stubtest() -> None:
    pytest.importorskip("mypy")
    r = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "pltvm._core"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def _stub_names() -> dict[str, set[str]]:
    """Top-level names of the stub, and for each class the names of its members."""
    tree = ast.parse(PYI.read_text())
    names: dict[str, set[str]] = {"": set()}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[""].add(node.name)
            members = names.setdefault(node.name, set())
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[""].add(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[""].add(node.name)
    return names


def test_stub_names_match_module() -> None:
    """Every name in the stub exists in the module and every public name of the module is in
    the stub (a cheaper, independent check next to stubtest)."""
    from pltvm import _core

    stub = _stub_names()
    public = {n for n in dir(_core) if not n.startswith("_")} | {"__version__"}
    assert stub[""] == public
    for cls_name, members in stub.items():
        if not cls_name:
            continue
        # Public names only on both sides: constructors (__new__) are stubtest's to check.
        members = {n for n in members if not n.startswith("_")}
        cls = getattr(_core, cls_name)
        # Exception classes: what they inherit from BaseException need not be restated.
        inherited = set(dir(BaseException)) if issubclass(cls, BaseException) else set()
        actual = {n for n in dir(cls) if not n.startswith("_")} - inherited
        assert members - actual == set(), f"{cls_name}: in the stub only"
        assert actual - members == set(), f"{cls_name}: in the module only"


def test_package_modules_type_check(tmp_path: Path) -> None:
    """The whole Python layer (every module and sub-package) is fully annotated: mypy --strict
    accepts it (against _core.pyi)."""
    pytest.importorskip("mypy")
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), "-p", "pltvm"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO / "python",
    )
    assert r.returncode == 0, r.stdout + r.stderr
