"""Operator tooling for deploying the stack: preflight, smoke test, putting the ProxStop key in.

Run from the repository root with the project's environment, e.g.
``.venv/bin/python -m tools.deploy.preflight --env prod`` (the Makefile's ``preflight``,
``deploy``, ``put-key`` and ``smoke`` targets do). AWS is reached with the operator's own
credentials through boto3's usual chain (profile, environment, SSO), and through
``AWS_ENDPOINT_URL`` when it is set (the emulator in tests).
"""
