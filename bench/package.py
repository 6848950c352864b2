"""Size of the function's deployment asset, zipped the way the CDK uploads it.

The asset is the directory `cdk.out/asset.*` that contains
`telephone_status/handler.py` (written by `make synth`). It is zipped in memory
(deflate, level 9) to measure; nothing is written.
"""

from __future__ import annotations

import io
import os
import subprocess
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any, Final

from bench.common import ROOT

CDK_OUT: Final = ROOT / "cdk.out"
LAMBDA_ZIP_LIMIT_MB: Final = 50
LAMBDA_UNZIPPED_LIMIT_MB: Final = 250


def find_asset(cdk_out: Path = CDK_OUT) -> Path | None:
    candidates = [
        path.parent.parent
        for path in cdk_out.glob("asset.*/telephone_status/handler.py")
        if path.is_file()
    ]
    return max(candidates, key=lambda path: path.stat().st_mtime, default=None)


def synthesise(timeout: float = 240.0) -> str | None:
    """Runs `make synth` once; returns an error text, or None when it worked."""
    try:
        completed = subprocess.run(
            ["make", "synth"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"make synth failed: {error}"
    if completed.returncode != 0:
        return f"make synth exited {completed.returncode}: {completed.stderr.strip()[-300:]}"
    return None


def measure(*, allow_synth: bool = True) -> dict[str, Any]:
    asset = find_asset()
    note = None
    if asset is None and allow_synth:
        note = synthesise()
        asset = find_asset()
    if asset is None:
        return {"status": "not synthesised", "note": note or "no cdk.out/asset.* with the handler"}
    buffer = io.BytesIO()
    unzipped = 0
    files = 0
    per_package: dict[str, int] = defaultdict(int)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(asset.rglob("*")):
            if not path.is_file():
                continue
            relative = path.relative_to(asset)
            before = buffer.tell()
            archive.write(path, relative.as_posix())
            size = path.stat().st_size
            unzipped += size
            files += 1
            per_package[relative.parts[0].split("-")[0]] += buffer.tell() - before
    zipped = buffer.tell()
    top = sorted(per_package.items(), key=lambda item: item[1], reverse=True)[:6]
    return {
        "status": "ok",
        "asset": os.path.relpath(asset, ROOT),
        "zipped_mib": round(zipped / 2**20, 2),
        "unzipped_mib": round(unzipped / 2**20, 2),
        "files": files,
        "has_pycache": any(asset.rglob("__pycache__")),
        "largest_zipped_mib": {name: round(size / 2**20, 2) for name, size in top},
        "lambda_limits_mib": {"zipped": LAMBDA_ZIP_LIMIT_MB, "unzipped": LAMBDA_UNZIPPED_LIMIT_MB},
    }
