"""The baseline: what the vendor's own sample clients do, written as a Lambda handler.

Modelled on ProxStop's published Python sample (urllib + minidom), see
shared/upstream/proxstop-telephonestatus.md, "What the vendor's own sample
clients do". On top of it, the key comes from Secrets Manager, as it must in a
Lambda, but naively: one `get_secret_value` per call, no cache.

Deliberately kept from the samples (their flaws are the point of the
comparison): the URL is built by string concatenation with the key in the
query string and no URL-encoding, `urllib.request.urlopen` opens a new TCP
connection per lookup with no timeout and no retry, the answer (`.xml`) is
parsed with `xml.dom.minidom`. One charity: the boto3 client is created once
per container (at import) rather than per call, as most Lambda code does.
The PIN result is read from `valid` (the field table), not from `status == "0"`
as most samples wrongly do, so that both sides return the same information.

Only the benchmark uses this module; it is never deployed.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any
from xml.dom import minidom

import boto3

API_URL = os.environ.get("PROXSTOP_API_URL", "https://api.proxstop.com")
SECRET_ID = os.environ.get("PROXSTOP_SECRET_ID", "")

_secrets = boto3.client("secretsmanager")


def _text(document: minidom.Document, tag: str) -> str | None:
    elements = document.getElementsByTagName(tag)
    node = elements[0].firstChild if elements else None
    if not isinstance(node, minidom.Text):
        return None
    return str(node.data).strip()


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    params: dict[str, Any] = dict(event.get("queryStringParameters") or {})
    if event.get("body"):
        params.update(json.loads(event["body"]))
    key = _secrets.get_secret_value(SecretId=SECRET_ID)["SecretString"]
    url = API_URL + "/telephonestatus.xml?key=" + key + "&referenceid=" + params["referenceId"]
    if params.get("code"):
        url = url + "&code=" + str(params["code"])
    response = urllib.request.urlopen(url)
    document = minidom.parseString(response.read())
    response.close()
    status = _text(document, "status")
    error_code = _text(document, "error_code")
    if status is not None:
        valid = _text(document, "valid")
        body: dict[str, Any] = {
            "referenceId": params["referenceId"],
            "status": status,
            "codeValid": None if valid is None else valid == "0",
        }
        code = 200
    elif error_code is not None:
        body, code = {"error": error_code}, 404
    else:
        body, code = {"error": "The service seems to be temporarily unavailable"}, 503
    return {
        "statusCode": code,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
