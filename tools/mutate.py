"""Mutation testing: mutmut per function module, a score table, the surviving mutants' diffs.

    python -m tools.mutate [MODULE ...] [--jobs N]

Each module runs in its own work folder, .mutation/<module>/ (ignored), so that two runs
never share a `mutants/` folder. mutmut derives a mutant's module name from its file path,
and the tests import `telephone_status.*` (pytest's pythonpath holds functions/): in the
work folder the package therefore sits at the top, as a link to functions/telephone_status,
beside links to tests/ and local/. The work folder's pyproject.toml is the repository's
[tool.pytest.ini_options] and [tool.mutmut] plus this module's file and tests (TESTS below).
Every run starts from scratch, so the scores always describe the code and tests at hand.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Final

from local.emulator import SHARED_MOTO_URL, start_moto

ROOT: Final = Path(__file__).resolve().parent.parent
PACKAGE: Final = "telephone_status"
WORK: Final = ROOT / ".mutation"
MUTMUT: Final = Path(sys.executable).parent / "mutmut"

# The tests that exercise each module: its unit tests and the integration tests that reach
# it. mutmut runs, for each mutant, only those of them that call the mutated function.
UNIT: Final = "tests/unit/"
INTEGRATION: Final = "tests/integration/"
TESTS: Final[dict[str, list[str]]] = {
    "attempts": [
        UNIT + "test_attempts.py",
        INTEGRATION + "test_attempt_limit.py",
        INTEGRATION + "test_api_key_secret.py",
        INTEGRATION + "test_start_verification.py",  # started and superseded references
    ],
    # The token integration tests start moto per mutant (minutes more, no more kills).
    "verification": [
        UNIT + "test_verification.py",
    ],
    "request": [
        UNIT + "test_request.py",
        UNIT + "test_start_parsing.py",
        UNIT + "test_handler.py",  # the event's shape
    ],
    # Not test_upstream_faults.py: the sandbox fault matrix would add minutes to every mutant.
    "upstream": [
        UNIT + "test_upstream.py",
        UNIT + "test_start_parsing.py",  # the start's one-try send
        INTEGRATION + "test_https_upstream.py",
        INTEGRATION + "test_hostile_upstream.py",
    ],
    "credentials": [
        UNIT + "test_credentials.py",
        INTEGRATION + "test_api_key_secret.py",
        INTEGRATION + "test_not_configured.py",
    ],
    # The handler's own tests reach every response path; the end-to-end tests would start
    # moto for every mutant.
    "responses": [
        UNIT + "test_responses.py",
        UNIT + "test_handler.py",
    ],
}
# The lowest acceptable score (killed or timed out / mutants) per module.
TARGETS: Final = {
    "attempts": 90.0,
    "verification": 90.0,
    "request": 90.0,
    "upstream": 90.0,
    "credentials": 90.0,
    "responses": 80.0,
}
# What the tests import besides the package (tests/ is always copied by mutmut).
LINKED: Final = {
    PACKAGE: ROOT / "functions" / PACKAGE,
    "tests": ROOT / "tests",
    "local": ROOT / "local",
}
_RESULT_LINE: Final = re.compile(r"^\s+(\S+): (.+)$")


@dataclass
class Outcome:
    module: str
    statuses: dict[str, str]
    seconds: float

    def count(self, *names: str) -> int:
        return sum(1 for status in self.statuses.values() if status in names)

    @property
    def score(self) -> float:
        total = len(self.statuses) - self.count("skipped")
        return 100.0 * self.count("killed", "timeout") / total if total else 0.0

    @property
    def survivors(self) -> list[str]:
        return sorted(name for name, status in self.statuses.items() if status not in _KILLED)


_KILLED: Final = ("killed", "timeout", "skipped")


def _toml_value(value: Any) -> str:
    # JSON's strings, lists, numbers and booleans are TOML too (the values here are no more).
    return json.dumps(value)


def _pytest_plugins() -> list[str]:
    return sorted({entry.module for entry in entry_points(group="pytest11")})


def _work_folder(module: str) -> Path:
    folder = WORK / module
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, target in LINKED.items():
        (folder / name).symlink_to(target, target_is_directory=True)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    # Imported once by mutmut's fork server, so that each mutant's run starts warm: the
    # test modules and pytest's installed plugins (importing those in every mutant's
    # process cost about two seconds a mutant, more than most mutants' tests).
    files = dict.fromkeys(path.partition("::")[0] for path in TESTS[module])
    preload = [*_pytest_plugins()]
    preload += [path.removesuffix(".py").replace("/", ".") for path in files]
    (folder / "preload.txt").write_text("\n".join(preload) + "\n", "utf-8")
    mutmut = {
        **project["tool"]["mutmut"],
        "only_mutate": [f"{PACKAGE}/{module}.py"],
        "pytest_add_cli_args_test_selection": TESTS[module],
        "preload_modules_file": "preload.txt",
    }
    lines = []
    for table, values in (
        ("tool.pytest.ini_options", project["tool"]["pytest"]["ini_options"]),
        ("tool.mutmut", mutmut),
    ):
        lines.append(f"[{table}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n", "utf-8")
    return folder


def _mutmut(
    folder: Path, *args: str, capture: bool = False, env: dict[str, str] | None = None
) -> str:
    completed = subprocess.run(  # noqa: S603 - our own venv's mutmut, fixed arguments
        [str(MUTMUT), *args],
        cwd=folder,
        check=not capture,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        env=env,
    )
    return completed.stdout or ""


def run_module(module: str, jobs: int, moto_url: str) -> Outcome:
    folder = _work_folder(module)
    started = time.monotonic()
    # Every mutant is a pytest session of its own: one emulator for all of them instead of
    # a moto start (seconds) per mutant.
    env = {**os.environ, SHARED_MOTO_URL: moto_url}
    _mutmut(folder, "run", "--max-children", str(jobs), env=env)
    seconds = time.monotonic() - started
    statuses = {}
    for line in _mutmut(folder, "results", "--all", "true", capture=True).splitlines():
        match = _RESULT_LINE.match(line)
        if match:
            statuses[match[1]] = match[2]
    return Outcome(module, statuses, seconds)


# `mutmut show` for many mutants in one process (one `mutmut show` each takes seconds).
_SHOW: Final = """
import sys
from mutmut.__main__ import find_mutant, get_diff_for_mutant
for name in sys.argv[1:]:
    print(f"# {name}")
    print(get_diff_for_mutant(name, path=find_mutant(name).path))
"""


def report(outcomes: list[Outcome]) -> bool:
    for outcome in outcomes:
        if outcome.survivors:
            subprocess.run(  # noqa: S603 - our own interpreter, fixed code
                [sys.executable, "-c", _SHOW, *outcome.survivors],
                cwd=WORK / outcome.module,
                check=True,
            )
    header = f"{'module':<14}{'mutants':>8}{'killed':>8}{'timeout':>8}{'survived':>9}"
    print(f"\n{header}{'other':>7}{'score':>8}{'target':>8}{'time':>8}")
    passed = True
    for o in outcomes:
        target = TARGETS[o.module]
        passed &= o.score >= target
        other = len(o.statuses) - o.count("killed", "timeout", "survived")
        print(
            f"{o.module:<14}{len(o.statuses):>8}{o.count('killed'):>8}{o.count('timeout'):>8}"
            f"{o.count('survived'):>9}{other:>7}{o.score:>7.1f}%{target:>7.0f}%"
            f"{o.seconds / 60:>7.1f}m"
        )
    # A timeout can also be pytest failing to find a test id (exit 4): look before trusting it.
    print("\nother = no tests / suspicious / segfault; a timeout counts as killed.")
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(TESTS))
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modules) - set(TESTS))
    if unknown:
        parser.error(f"no mutation set-up for {', '.join(unknown)}; known: {', '.join(TESTS)}")
    with start_moto() as moto:
        outcomes = [
            run_module(module, args.jobs, moto.endpoint_url)
            for module in args.modules or list(TESTS)
        ]
    return 0 if report(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
