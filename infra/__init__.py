"""The CDK app of the Telephone Status API: one stack per environment in cdk.json."""

import os
import sys
from pathlib import Path

# jsii prints a large end-of-life banner on every run under Node 20 (the version on the dev
# machines and CI). Purely cosmetic; set before anything imports aws_cdk and starts jsii.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# The synth-time checks reuse the function's own pure rules (e.g. which test numbers are
# fictional), so that synth and run time can never disagree. Appended: nothing is shadowed.
FUNCTIONS_DIR = Path(__file__).resolve().parents[1] / "functions"
if str(FUNCTIONS_DIR) not in sys.path:
    sys.path.append(str(FUNCTIONS_DIR))
