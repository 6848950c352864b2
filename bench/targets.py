"""Every target `make bench` and `make load` check, in one place (bench/README.md explains them)."""

from __future__ import annotations

from typing import Final

# Warm: the function's own time per request, beyond the bare round trips it cannot avoid.
STATUS_OVERHEAD_P50_MS: Final = 1.0
PIN_OVERHEAD_P50_MS: Final = 1.5
# A start: beyond the upstream send and the fraud guard's and the record's writes.
START_OVERHEAD_P50_MS: Final = 2.0
OVERHEAD_P99_MS: Final = 3.0
# Cold start as shipped, against a bare `import boto3` (what every Python Lambda that calls
# AWS pays) in the same interpreter and run.
COLD_START_RATIO: Final = 1.5
# Tokens: one kms:Sign per correct PIN; no KMS call for status-only lookups and wrong PINs.
KMS_SIGN_PER_CORRECT_PIN: Final = 1.0
KMS_CALLS_WITHOUT_CORRECT_PIN: Final = 0
# `make load`: no answer other than the one each request expects; bounded memory growth.
LOAD_UNEXPECTED: Final = 0
LOAD_MEMORY_GROWTH_MB: Final = 10.0
