"""``POST /v1/verifications`` on the REST API, and the WAF rate rule in front of it.

The route starts a verification (docs/api.md#starting-a-verification); every request may cost
an SMS or a call, so the WAF counts it per client IP against a limit stricter than the
API-wide one (docs/security.md#fraud-guard). The route always exists: the function answers
404 while the environment lists no ``startCountries``, so opening it is a settings change.
"""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_wafv2 as wafv2

from infra.config import EnvironmentConfig

VERIFICATIONS_PATH = "/v1/verifications"
START_METHOD = "POST"
START_RATE_RULE_NAME = "start-rate-limit"


def add_verifications_route(
    rest_api: apigateway.RestApi,
    integration: apigateway.Integration,
    validator: apigateway.IRequestValidator,
    config: EnvironmentConfig,
) -> apigateway.Resource:
    """POST (and ANY, for the function's 405) with the API key; OPTIONS without it."""
    resource = rest_api.root.resource_for_path(VERIFICATIONS_PATH.strip("/"))
    for method in (START_METHOD, "ANY"):
        resource.add_method(
            method,
            integration,
            request_validator=validator,
            api_key_required=config.api_key.enabled,
        )
    # Browsers send the preflight without x-api-key; the function answers it (web.preflight).
    resource.add_method(
        "OPTIONS",
        integration,
        api_key_required=False,
        authorization_type=apigateway.AuthorizationType.NONE,
    )
    return resource


def start_rate_rule(
    config: EnvironmentConfig,
    *,
    priority: int,
    visibility: wafv2.CfnWebACL.VisibilityConfigProperty,
) -> wafv2.CfnWebACL.RuleProperty:
    """Blocks a client IP over ``waf.startRateLimitPer5Minutes`` starts (403 FORBIDDEN).

    Only requests the scope-down statement matches are counted: method exactly POST, and a
    URI path that contains the route once URL-decoded and normalised. "Contains", not
    "equals": the path WAF sees carries the stage (``/<stage>/v1/verifications``), or a
    custom domain's base path, and may end in a slash; counting a stray 404 too costs nothing.
    """
    path_transformations = [
        wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="URL_DECODE"),
        wafv2.CfnWebACL.TextTransformationProperty(priority=1, type="NORMALIZE_PATH"),
    ]
    return wafv2.CfnWebACL.RuleProperty(
        name=START_RATE_RULE_NAME,
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                aggregate_key_type="IP",
                limit=config.waf.start_rate_limit_per_5_minutes,
                evaluation_window_sec=300,
                scope_down_statement=wafv2.CfnWebACL.StatementProperty(
                    and_statement=wafv2.CfnWebACL.AndStatementProperty(
                        statements=[
                            wafv2.CfnWebACL.StatementProperty(
                                byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(method={}),
                                    positional_constraint="EXACTLY",
                                    search_string=START_METHOD,
                                    text_transformations=[
                                        wafv2.CfnWebACL.TextTransformationProperty(
                                            priority=0, type="NONE"
                                        )
                                    ],
                                )
                            ),
                            wafv2.CfnWebACL.StatementProperty(
                                byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                                        uri_path={}
                                    ),
                                    positional_constraint="CONTAINS",
                                    search_string=VERIFICATIONS_PATH,
                                    text_transformations=path_transformations,
                                )
                            ),
                        ]
                    )
                ),
            )
        ),
        visibility_config=visibility,
    )
