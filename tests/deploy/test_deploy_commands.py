"""Every command the README and docs/ tell an operator to run works as written: the README's
deploy block names make targets that exist and environments cdk.json has, and every CDK CLI
command passes the environment the app needs (the CLI runs the app even to bootstrap)."""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from infra.config import cdk_json_context, known_environment_names

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
ENVIRONMENTS = set(known_environment_names(cdk_json_context()))
_HEADING = re.compile(r"^#{1,6} (?P<title>.+)$")
_FENCE = re.compile(r"^```")
_MAKE_LINE = re.compile(r"^make (?P<target>[a-z][a-z0-9-]*) ENV=(?P<env>[a-z][a-z0-9-]*)(\s+#.*)?$")
# CDK CLI subcommands that synthesise the app (and so need -c env=).
_APP_COMMANDS = re.compile(r"\bcdk (bootstrap|deploy|diff|synth|destroy|watch|ls|list)\b")


def deploy_blocks(markdown: str) -> list[list[str]]:
    """The fenced blocks in sections whose heading contains "Deploy" (up to the next
    heading), as lists of lines."""
    blocks: list[list[str]] = []
    in_deploy_section = False
    block: list[str] | None = None
    for line in markdown.splitlines():
        if block is not None:
            if _FENCE.match(line):
                if in_deploy_section:
                    blocks.append(block)
                block = None
            else:
                block.append(line)
            continue
        if _FENCE.match(line):
            block = []
            continue
        heading = _HEADING.match(line)
        if heading:
            in_deploy_section = "Deploy" in heading["title"]
    return blocks


def readme_make_commands() -> list[tuple[str, str]]:
    commands = []
    for block in deploy_blocks(README.read_text(encoding="utf-8")):
        for line in block:
            match = _MAKE_LINE.match(line.strip())
            if match:
                commands.append((match["target"], match["env"]))
    return commands


def test_readme_deploy_block_is_make_commands_only() -> None:
    commands = readme_make_commands()
    assert len(commands) >= 4  # found what it checks: bootstrap, preflight, deploy, put-key...
    for block in deploy_blocks(README.read_text(encoding="utf-8")):
        commands_in_block = [
            line.strip() for line in block if line.strip() and not line.strip().startswith("#")
        ]
        if any(_MAKE_LINE.match(line) for line in commands_in_block):
            # A new operator follows it without reading anything first: no raw CLI calls.
            assert all(_MAKE_LINE.match(line) for line in commands_in_block), commands_in_block
    targets = [target for target, _ in commands]
    for step in ("bootstrap", "preflight", "deploy", "put-key", "smoke"):
        assert step in targets
    assert targets.index("preflight") < targets.index("deploy") < targets.index("put-key")


@pytest.mark.parametrize(("target", "env"), readme_make_commands() or [("(none)", "(none)")])
def test_readme_deploy_command_works_as_written(target: str, env: str) -> None:
    assert env in ENVIRONMENTS, f"ENV={env} is not an environment in cdk.json"
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", target, f"ENV={env}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert dry_run.returncode == 0, dry_run.stderr


def _command_lines() -> list[tuple[str, str]]:
    found = []
    for path in [README, *DOCS]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if _APP_COMMANDS.search(line) and (
                "npx cdk" in line or line.lstrip().startswith("cdk")
            ):
                found.append((path.name, line.strip()))
    return found


def test_every_documented_cdk_command_names_an_environment() -> None:
    lines = _command_lines()
    assert lines  # found what it checks (cdk destroy in the README at least)
    missing = [f"{name}: {line}" for name, line in lines if not re.search(r"-c env=\S", line)]
    assert missing == []


def _cdk_command(target: str, env: str) -> list[str]:
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", target, f"ENV={env}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    [line] = [line for line in dry_run.stdout.splitlines() if " cdk " in f" {line} "]
    return shlex.split(line)


def _context(argv: list[str]) -> dict[str, str]:
    """The -c key=value pairs the CDK CLI hands to the app (as strings, like the CLI)."""
    context = {}
    for flag, value in itertools.pairwise(argv):
        if flag in {"-c", "--context"}:
            key, _, text = value.partition("=")
            context[key] = text
    return context


def test_make_bootstrap_runs_the_app_as_the_cli_does(tmp_path: Path) -> None:
    """`cdk bootstrap` synthesises the app first (cdk.json names it): with the context the
    make target passes, the app must synthesise, exactly as `cdk.json`'s app command."""
    argv = _cdk_command("bootstrap", "prod")
    assert argv[argv.index("cdk") + 1] == "bootstrap"
    context = _context(argv)
    assert context.get("env") == "prod"
    app_command = shlex.split(json.loads((ROOT / "cdk.json").read_text())["app"])
    environ = {
        **os.environ,
        # What the CLI sets for the app process.
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(tmp_path),
        "CDK_DEFAULT_ACCOUNT": "123456789012",
        "CDK_DEFAULT_REGION": "eu-west-1",
    }
    synth = subprocess.run(
        app_command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300, check=False
    )
    assert synth.returncode == 0, synth.stderr[-2000:]
    assert (tmp_path / "TelephoneStatus-prod.template.json").is_file()
    # Without it, as the old instructions had it, the app refuses: the reason for the flag.
    environ["CDK_CONTEXT_JSON"] = "{}"
    refused = subprocess.run(
        app_command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120, check=False
    )
    assert refused.returncode != 0
    assert "-c env=" in refused.stderr
