"""`perfops doctor`: is this machine ready? Python, libraries, Debian tools, the lake."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import typer

from perfops.errors import CheckFailed, ConfigError

_LIBRARIES = (
    "deltalake",
    "duckdb",
    "pyarrow",
    "pydantic",
    "typer",
    "rich",
    "aiohttp",
    "prometheus-client",
    "numpy",
)
_TOOLS = {  # command: (what needs it, how to get it)
    "prometheus": ("SLO math oracle, scraping the sim", "apt-get install prometheus"),
    "promtool": ("checking and testing generated rules", "apt-get install prometheus"),
    "prometheus-alertmanager": ("escalation routing", "apt-get install prometheus-alertmanager"),
    "amtool": ("checking Alertmanager configs", "apt-get install prometheus-alertmanager"),
    "chromium": ("dashboard and report tests", "apt-get install chromium"),
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


def _version_of(command: str) -> str:
    try:
        out = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"found, but `--version` failed: {exc}"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0][:80] if text else "found"


def _checks(config_path: Path | None) -> list[Check]:
    py = sys.version_info
    checks = [Check("python", py >= (3, 11), f"{py.major}.{py.minor}.{py.micro} (needs >= 3.11)")]
    for lib in _LIBRARIES:
        try:
            checks.append(Check(lib, True, metadata.version(lib)))
        except metadata.PackageNotFoundError:
            checks.append(Check(lib, False, "missing; run `make` in the perfops checkout"))
    for command, (why, how) in _TOOLS.items():
        path = shutil.which(command)
        detail = f"{_version_of(command)} ({path})" if path else f"missing: {how} (for {why})"
        checks.append(Check(command, path is not None, detail, required=False))
    checks.append(_nvml())
    checks.extend(_lake(config_path))
    return checks


def _nvml() -> Check:
    try:
        import pynvml  # type: ignore[import-untyped]

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
        pynvml.nvmlShutdown()
        return Check("nvml", True, f"{count} GPU(s)", required=False)
    except Exception as exc:  # no driver, no library, no GPU: all mean "no NVML here"
        return Check(
            "nvml",
            False,
            f"no NVIDIA GPU/driver here ({type(exc).__name__}); "
            "GPU telemetry comes from dcgm-exporter or `perfops sim`",
            required=False,
        )


def _lake(config_path: Path | None) -> list[Check]:
    from perfops.config import find_config, load_config

    try:
        path = find_config(config_path, os.environ)
        config = load_config(path)
    except ConfigError as exc:
        return [Check("perfops.yaml", False, str(exc).splitlines()[-1].strip(), required=False)]
    lake = config.workspace.lake
    try:
        lake.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=lake, prefix=".doctor-"):
            pass
        return [Check("perfops.yaml", True, str(path)), Check("lake", True, f"writable: {lake}")]
    except OSError as exc:
        return [
            Check("perfops.yaml", True, str(path)),
            Check("lake", False, f"{lake} is not writable: {exc.strerror}"),
        ]


def doctor(ctx: typer.Context) -> None:
    """Check Python, libraries, the Debian tools the tests use, NVML, and the lake."""
    from rich.console import Console
    from rich.table import Table

    checks = _checks((ctx.find_root().obj or {}).get("config"))
    table = Table(show_header=True, title="perfops doctor", title_justify="left")
    table.add_column("check")
    table.add_column("")
    table.add_column("detail")
    for c in checks:
        mark = "[green]ok[/]" if c.ok else ("[red]FAIL[/]" if c.required else "[yellow]--[/]")
        table.add_row(c.name, mark, c.detail)
    Console().print(table)
    failed = [c.name for c in checks if c.required and not c.ok]
    if failed:
        raise CheckFailed(
            f"doctor: {len(failed)} required check(s) failed: {', '.join(failed)}",
            hint="the detail column says how to fix each",
        )
