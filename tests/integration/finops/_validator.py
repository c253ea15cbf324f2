"""Run the FinOps Foundation's focus-validator (PyPI 2.2.1) on a file, as CI would.

`scripts/ensure-focus-validator` installs it in its own Python 3.12 venv (`.venv-focus/`): it
pins numpy 1.26, which perfops' numpy 2 cannot share. Quirks handled here:

- it opens `focus_validator/rules/currency_codes.csv` relative to the working directory, so it
  runs from its site-packages folder;
- `--block-download` keeps it on its bundled FOCUS 1.2 rules model (`model-1.2.0.1.json`);
- its exit code is 0 even when rules fail, so the result is read from its JUnit XML
  (`--output-type unittest`): failed = failures + errors, one test case per rule;
- its bundled logging config writes `focus_validator_detailed.log` (DEBUG, into the working
  directory, i.e. the venv's site-packages): `LOGGING_CONFIG` points it at a config of ours
  that writes the same log beside the JUnit XML instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

ENSURE = REPO / "scripts" / "ensure-focus-validator"
NO_PYTHON_312 = 3  # the script's exit code when no Python 3.12 interpreter exists


class NoPython312(RuntimeError):
    """The machine has no Python 3.12 to install focus-validator with."""


@dataclass(frozen=True)
class Validation:
    total: int
    failed: int
    skipped: int
    failing: tuple[str, ...]  # rule ids, e.g. "BilledCost-C-005-C"

    @property
    def passed(self) -> int:
        return self.total - self.failed - self.skipped


@dataclass(frozen=True)
class Validator:
    executable: Path
    site_packages: Path

    def validate(
        self, data_file: Path, out_dir: Path, *, criteria: str | None = None
    ) -> Validation:
        """Validate `data_file` against FOCUS 1.2; `criteria` is --applicability-criteria."""
        out = out_dir / f"{data_file.name}.junit.xml"
        cmd = [
            str(self.executable),
            "--data-file",
            str(data_file.resolve()),
            "--validate-version",
            "1.2.0.1",
            "--block-download",
            "--output-type",
            "unittest",
            "--output-destination",
            str(out.resolve()),
        ]
        if criteria:
            cmd += ["--applicability-criteria", criteria]
        env = {**os.environ, "LOGGING_CONFIG": str(_logging_config(out_dir))}
        run = subprocess.run(
            cmd,
            cwd=self.site_packages,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if run.returncode != 0 or not out.exists():
            raise RuntimeError(f"focus-validator did not run:\n{run.stdout}\n{run.stderr}")
        return parse_junit(out)


def _logging_config(out_dir: Path) -> Path:
    """A logging config (YAML is a superset of JSON) sending the validator's detailed log to
    ``out_dir`` rather than its working directory."""
    log = (out_dir / "focus_validator_detailed.log").resolve()
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"detailed": {"format": "%(asctime)s [%(levelname)s] %(name)s: %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(log),
                "formatter": "detailed",
                "level": "DEBUG",
            }
        },
        "root": {"level": "DEBUG", "handlers": ["file"]},
    }
    path = out_dir / "focus-validator-logging.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


def ensure_validator() -> Validator:
    """Install focus-validator if missing (from PyPI; minutes the first time, then instant)."""
    run = subprocess.run([ENSURE], capture_output=True, text=True, timeout=900, check=False)
    if run.returncode == NO_PYTHON_312:
        raise NoPython312(run.stderr.strip())
    if run.returncode != 0:
        raise RuntimeError(f"scripts/ensure-focus-validator failed:\n{run.stderr}")
    site = subprocess.run(
        [ENSURE, "--print-site-packages"], capture_output=True, text=True, check=True
    )
    return Validator(Path(run.stdout.strip()), Path(site.stdout.strip()))


def parse_junit(path: Path) -> Validation:
    root = ET.parse(path).getroot()
    failing = sorted(
        case.get("name", "").split(" :: ")[0]
        for case in root.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    )
    failed = int(root.get("failures", "0")) + int(root.get("errors", "0"))
    return Validation(
        int(root.get("tests", "0")), failed, int(root.get("skipped", "0")), tuple(failing)
    )
