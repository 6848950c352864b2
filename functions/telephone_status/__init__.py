"""Telephone Status API: the Lambda function behind /v1/telephone-status."""
