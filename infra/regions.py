"""Where Lambda SnapStart is offered: the one list the app's validation and preflight share.

Pure data (no aws_cdk import): preflight reads it without starting jsii.
"""

from __future__ import annotations

from typing import Final

# AWS Lambda Developer Guide, "Improving startup performance with Lambda SnapStart", section
# "Supported Regions" (read 2026-12): SnapStart is available in all commercial Regions except
# Asia Pacific (New Zealand) and Asia Pacific (Taipei). Update this set when that page changes.
SNAP_START_UNAVAILABLE_REGIONS: Final = frozenset(
    {
        "ap-southeast-6",  # Asia Pacific (New Zealand)
        "ap-east-2",  # Asia Pacific (Taipei)
    }
)
# The page speaks of commercial Regions only: China, GovCloud and the isolated partitions are
# not documented as offering it, so they are refused too (fail closed).
_NON_COMMERCIAL_PREFIXES: Final = ("cn-", "us-gov-", "us-iso", "eu-isoe-")


def snap_start_offered(region: str) -> bool:
    """True when AWS documents SnapStart as available in ``region``."""
    if region in SNAP_START_UNAVAILABLE_REGIONS:
        return False
    return not region.startswith(_NON_COMMERCIAL_PREFIXES)


def snap_start_refusal(region: str) -> str:
    """What to tell an operator whose environment uses SnapStart in ``region``."""
    return (
        f"Lambda SnapStart is not offered in {region} (AWS Lambda Developer Guide, SnapStart, "
        'Supported Regions): set "snapStart": false for this environment in cdk.json, or '
        "deploy it to another region"
    )
