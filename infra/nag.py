"""cdk-nag wiring: the AwsSolutions pack as a validation plugin, and in-code acknowledgements."""

from __future__ import annotations

import aws_cdk as cdk
import cdk_nag
from constructs import IConstruct

NAG_PLUGIN_NAME = "AwsSolutions"


def add_nag_checks(app: cdk.App) -> None:
    """Run AwsSolutions checks at synth; any finding not acknowledged in code fails synth."""
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, *rules: tuple[str, str]) -> None:
    """Acknowledge cdk-nag findings on ``construct`` (and below), each with its reason.

    Rule ids are written as cdk-nag prints them ("AwsSolutions-IAM5[Resource::*]"); the
    acknowledgement carries the plugin prefix so that CDK attributes it to the AwsSolutions
    plugin (an unprefixed id is taken for an annotation id).
    """
    cdk.Validations.of(construct).acknowledge(
        *(
            cdk.Acknowledgment(id=f"{NAG_PLUGIN_NAME}::{rule_id}", reason=reason)
            for rule_id, reason in rules
        )
    )
