"""Build tools: generators of committed files (generate/) and checkov's own environment."""
