"""The synthesised app shared by the infra tests, and helpers to read its templates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.config import EnvironmentConfig, cdk_json_context, known_environment_names

if TYPE_CHECKING:
    from aws_cdk import assertions

    from infra.stack import TelephoneStatusStack

ENV_NAMES = known_environment_names(cdk_json_context())
# Fixed names other tools rely on (`sam local invoke ... TelephoneStatusFunction`, SPEC §2).
FUNCTION_LOGICAL_ID = "TelephoneStatusFunction"
HANDLER = "telephone_status.handler.lambda_handler"
# The start route's function variables (fixed names, docs/configuration.md).
START_VARIABLES = (
    "START_COUNTRIES",
    "CODE_LENGTH",
    "VERIFICATION_TTL_SECONDS",
    "MAX_SENDS_PER_PHONE",
    "MIN_SEND_INTERVAL_SECONDS",
    "MAX_SENDS_PER_PREFIX",
    "MAX_SENDS_PER_HOUR",
    "TEST_NUMBERS",
    "ACCEPT_EXTERNAL_REFERENCES",
)


@dataclass(frozen=True)
class SynthesizedEnvironment:
    config: EnvironmentConfig
    stack: TelephoneStatusStack
    template: assertions.Template
    template_json: dict[str, Any]
    template_path: Path

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template_json["Resources"]
        return resources

    def resources_of_type(self, resource_type: str) -> dict[str, Any]:
        return {
            logical_id: resource
            for logical_id, resource in self.resources.items()
            if resource["Type"] == resource_type
        }

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        """The logical id and definition of the single resource of this type."""
        matches = self.resources_of_type(resource_type)
        assert len(matches) == 1, f"expected one {resource_type}, found {sorted(matches)}"
        return next(iter(matches.items()))


@dataclass(frozen=True)
class SynthesizedApp:
    outdir: Path
    environments: dict[str, SynthesizedEnvironment]
    validation_report: dict[str, Any]


_synthesized: SynthesizedApp | None = None


def synthesize_all_environments(outdir: Path) -> SynthesizedApp:
    """Every environment's stack in one app, synthesised once per process (cached here)."""
    global _synthesized  # noqa: PLW0603
    if _synthesized is None:
        # Imported here, not at module level: collecting the tests (in every xdist worker) then
        # stays cheap, and only the worker that runs them starts jsii. Importing infra first
        # also silences jsii's Node banner (infra/__init__.py).
        from aws_cdk import assertions  # noqa: PLC0415

        from infra.app import create_app  # noqa: PLC0415

        app, stacks = create_app(env_names=ENV_NAMES, outdir=str(outdir))
        app.synth()  # raises if cdk-nag reports a finding not acknowledged in code
        environments = {}
        for stack in stacks:
            template_path = outdir / stack.template_file
            environments[stack.config.name] = SynthesizedEnvironment(
                config=stack.config,
                stack=stack,
                template=assertions.Template.from_stack(stack),
                template_json=json.loads(template_path.read_text(encoding="utf-8")),
                template_path=template_path,
            )
        report = json.loads((outdir / "validation-report.json").read_text(encoding="utf-8"))
        _synthesized = SynthesizedApp(
            outdir=outdir, environments=environments, validation_report=report
        )
    return _synthesized


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def invoked_function_arn(env: SynthesizedEnvironment) -> dict[str, Any]:
    """What the API invokes: the function, or with SnapStart its ``live`` alias (a Ref of an
    alias is its ARN)."""
    if env.config.snap_start:
        alias_id, _ = env.only("AWS::Lambda::Alias")
        return ref(alias_id)
    return get_att(FUNCTION_LOGICAL_ID, "Arn")


def function_metric_dimensions(env: SynthesizedEnvironment) -> list[dict[str, Any]]:
    """The dimensions of the function's own metrics that the alarms watch."""
    dimensions: list[dict[str, Any]] = [{"Name": "FunctionName", "Value": ref(FUNCTION_LOGICAL_ID)}]
    if env.config.snap_start:
        resource = {"Fn::Join": ["", [ref(FUNCTION_LOGICAL_ID), ":live"]]}
        dimensions.append({"Name": "Resource", "Value": resource})
    return dimensions
