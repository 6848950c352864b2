"""The CDK app of the Telephone Status API: one stack per environment in cdk.json."""

import os

# jsii prints a large end-of-life banner on every run under Node 20 (the version on the dev
# machines and CI). Purely cosmetic; set before anything imports aws_cdk and starts jsii.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
