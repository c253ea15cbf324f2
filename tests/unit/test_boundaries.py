"""The package boundaries are checked by a machine: no module reaches into another package's
private names, every name a package takes from another is in that package's ``__all__``, and
the import-linter contracts of pyproject.toml (layers, independent cores, only the store
speaks SQL, the CLI goes through app) hold."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
ROOT = "perfops"
SHARED_PRIVATE = "_internal"  # perfops' own private package: every package may use it


@dataclass(frozen=True)
class Use:
    """One name (or module) that ``importer`` takes from ``module``."""

    importer: str
    line: int
    module: str
    name: str | None  # None: ``import module``

    def __str__(self) -> str:
        what = self.module if self.name is None else f"{self.module}.{self.name}"
        return f"{self.importer}:{self.line} imports {what}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(module: str) -> str:
    """The first-level package a module belongs to (``perfops.app.slo`` -> ``app``); the
    root's own modules (``perfops.errors``, ``perfops.__main__``) are each their own."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def uses() -> Iterator[Use]:
    """Every import of a perfops module by a perfops module, with the importing module."""
    for path in sorted((SRC / ROOT).rglob("*.py")):
        importer = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == ROOT:
                        yield Use(importer, node.lineno, alias.name, None)
            elif isinstance(node, ast.ImportFrom):
                module = _absolute(node, importer, path.name == "__init__.py")
                if module.split(".")[0] == ROOT:
                    for alias in node.names:
                        yield Use(importer, node.lineno, module, alias.name)


def _foreign(use: Use) -> bool:
    """Whether ``use`` crosses from one first-level package into another."""
    target = _package_of(use.module)
    return target not in ("", SHARED_PRIVATE) and target != _package_of(use.importer)


def _private(use: Use) -> bool:
    inside = use.module.split(".")[2:]  # below perfops.<package>
    return any(p.startswith("_") for p in inside) or (use.name or "").startswith("_")


def test_the_scan_sees_every_import() -> None:
    found = list(uses())
    assert len({u.importer for u in found}) > 100
    assert any(u.importer == "perfops.app.slo" and u.module == "perfops.app._sli" for u in found)
    assert any(_foreign(u) and u.module == "perfops.store" for u in found)


def test_the_rules_catch_what_they_forbid() -> None:
    assert _foreign(Use("perfops.cli.sim", 1, "perfops.sim._records", "EngineConfig"))
    assert _private(Use("perfops.cli.sim", 1, "perfops.sim._records", "EngineConfig"))
    assert _private(Use("perfops.app.slo", 1, "perfops.store.store", "_day_of"))
    assert _private(Use("perfops.__main__", 1, "perfops.cli._main", None))
    assert _foreign(Use("perfops.__main__", 1, "perfops.cli._main", None))
    assert not _foreign(Use("perfops.app.slo", 1, "perfops.app._sli", "Reader"))
    assert not _foreign(Use("perfops.chaos.undo", 1, "perfops._internal.clock", "Clock"))


def test_no_module_imports_another_packages_private_names() -> None:
    bad = [str(u) for u in uses() if _foreign(u) and _private(u)]
    assert bad == []


def test_each_package_exports_what_other_packages_use() -> None:
    missing = []
    for use in uses():
        if not _foreign(use) or use.name is None or _private(use):
            continue
        package = importlib.import_module(".".join(use.module.split(".")[:2]))
        exported = set(getattr(package, "__all__", ()))
        submodule = (SRC / Path(*use.module.split("."), f"{use.name}.py")).exists()
        if use.name not in exported and not submodule:
            missing.append(f"{use} (not in {package.__name__}.__all__)")
    assert missing == []


@pytest.mark.parametrize(
    "package",
    ["app", "chaos", "cli", "config", "finops", "loadgen", "sim", "slo", "store", "telemetry"],
)
def test_every_exported_name_resolves(package: str) -> None:
    module = importlib.import_module(f"{ROOT}.{package}")
    assert module.__all__, package
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(module, "no_such_name")  # noqa: B009


def test_import_contracts_hold(capsys: pytest.CaptureFixture[str]) -> None:
    from importlinter.cli import lint_imports

    code = lint_imports(
        config_filenames=(str(REPO / "pyproject.toml"),), no_cache=True, no_logo=True
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 broken" in out
    for contract in ("Layers", "do not import each other", "deltalake and duckdb", "through app"):
        assert contract in out
