"""The function's code asset: ``functions/`` plus dependencies, bundled locally by CDK."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from infra.bundling import (
    DEPENDENCY_CACHE_DIR,
    FUNCTIONS_DIR,
    REQUIREMENTS_FILE,
    SOURCE_EXCLUDES,
    BundleTarget,
    bundle_into,
    require_target_python,
)


@jsii.implements(cdk.ILocalBundling)
class LocalPythonBundling:
    """CDK local bundling: runs before (and instead of) Docker bundling."""

    def __init__(
        self,
        *,
        source_dir: Path,
        requirements: Path,
        target: BundleTarget,
        cache_dir: Path = DEPENDENCY_CACHE_DIR,
    ) -> None:
        self._source_dir = source_dir
        self._requirements = requirements
        self._target = target
        self._cache_dir = cache_dir

    # The signature mirrors ILocalBundling (jsii passes the options as keyword arguments);
    # only the output directory matters here. Returning False lets CDK fall back to Docker.
    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        return bundle_into(
            Path(output_dir),
            source_dir=self._source_dir,
            requirements=self._requirements,
            target=self._target,
            cache_dir=self._cache_dir,
        )


def function_code(runtime: lambda_.Runtime) -> lambda_.Code:
    """``functions/`` bundled locally for ``runtime`` on arm64 (Docker only as a fallback)."""
    target = BundleTarget.for_runtime(runtime.name)
    # Before hashing, and fatal when missing: an asset without the runtime's bytecode compiles
    # every module on every cold start (/var/task is read-only). The bytecode format is part
    # of the asset's identity; the patch release of the compiling interpreter is not.
    require_target_python(target.python_version)
    bytecode = f"cpython-{target.python_version}-unchecked-hash"
    requirements_in_asset = REQUIREMENTS_FILE.relative_to(FUNCTIONS_DIR).as_posix()
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        # The source hash covers functions/ (code and requirements.txt) plus these options.
        exclude=list(SOURCE_EXCLUDES),
        bundling=cdk.BundlingOptions(
            image=runtime.bundling_image,
            platform="linux/arm64",
            environment={"PRECOMPILED_BYTECODE": bytecode},
            # Fallback only, where local bundling cannot run: the same install inside the
            # runtime's build image.
            command=[
                "bash",
                "-c",
                f"pip install --no-deps --only-binary=:all: -r {requirements_in_asset}"
                " -t /asset-output && cp -r . /asset-output/"
                f" && rm -f /asset-output/{requirements_in_asset}"
                # The build image's python is the runtime's version: bytecode here too.
                " && python -m compileall -q --invalidation-mode unchecked-hash /asset-output",
            ],
            local=LocalPythonBundling(
                source_dir=FUNCTIONS_DIR, requirements=REQUIREMENTS_FILE, target=target
            ),
        ),
    )
