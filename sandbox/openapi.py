"""Validation of Jira REST requests against Atlassian's two OpenAPI specs.

When the sandbox starts with ``--openapi-dir DIR`` (or SANDBOX_OPENAPI_DIR),
DIR must hold jira-cloud-platform-v3.openapi.json and
jira-datacenter-v2.openapi.json. Every request under /ex/jira/<cloud_id>/rest/
is then checked against the Cloud spec, and every request under
/dc/<instance>/rest/api/2/ against the Data Center spec, before any view runs.
A mismatch gets 400 {"errorMessages": ["<validation error>"], "errors": {}}.
The OAuth endpoints and accessible-resources are in neither spec and are not
checked here. A path or method that a spec does not describe is left to the
URL map, which answers 404 or 405.

Both specs fail strict OpenAPI validation, so they are loaded without it, once,
at start-up, and these defects of theirs are worked around:

- Parameters and bodies are checked; security is not. The views authenticate
  bearer tokens themselves, and the Data Center spec declares only HTTP Basic.
- Attachment bodies are not checked: Cloud models them as an array of
  MultipartFile and Data Center as one binary string, neither as the real
  multipart part named file.
- Unassigning sends {"accountId": null} (Cloud) or {"name": null} (Data
  Center); the assign operations accept null there.
- Data Center's IssueUpdateBean declares every "fields" value as an object;
  Jira accepts any JSON value there, as "summary": "text" shows.
- Data Center's getTransitions gains the expand parameter and getPermissions
  the permissions parameter, which the server accepts but the spec omits.
- Enum defaults that are not among their enum values are dropped.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

CLOUD_SPEC_FILE = "jira-cloud-platform-v3.openapi.json"
DATA_CENTER_SPEC_FILE = "jira-datacenter-v2.openapi.json"
# Requests are matched against each spec's own server URL.
CLOUD_HOST_URL = "https://your-domain.atlassian.net"
DATA_CENTER_HOST_URL = "http://localhost:8090"
CLOUD_PATH = re.compile(r"^/ex/jira/[^/]+(?P<path>/rest/api/3/.*)$")
DATA_CENTER_PATH = re.compile(r"^/dc/[^/]+/rest/api/(?:2|latest)(?P<path>/.*)$")


class SpecLoadError(RuntimeError):
    """A spec file is missing or is not valid JSON."""


@dataclass
class _Validators:
    parameters: Any
    body: Any


@dataclass
class SpecRequest:
    """A request in the shape openapi-core reads."""

    host_url: str
    path: str
    method: str
    parameters: Any
    content_type: str | None
    body: bytes | None


_validators: dict[str, _Validators] = {}


def _drop_bad_enum_defaults(node: Any) -> None:
    if isinstance(node, dict):
        if "enum" in node and "default" in node and node["default"] not in node["enum"]:
            del node["default"]
        for value in node.values():
            _drop_bad_enum_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_bad_enum_defaults(value)


def _nullable_body(spec: dict[str, Any], path: str, schema_name: str, key: str) -> None:
    schema = copy.deepcopy(spec["components"]["schemas"][schema_name])
    schema["properties"][key] = {**schema["properties"][key], "nullable": True}
    content = spec["paths"][path]["put"]["requestBody"]["content"]
    content["application/json"]["schema"] = schema


def _add_query_parameter(
    spec: dict[str, Any], path: str, method: str, name: str
) -> None:
    operation = spec["paths"][path][method]
    operation.setdefault("parameters", []).append(
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
    )


def patch_cloud_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Work around the Cloud spec's defects that touch the nine activities."""
    _drop_bad_enum_defaults(spec)
    _nullable_body(
        spec, "/rest/api/3/issue/{issueIdOrKey}/assignee", "User", "accountId"
    )
    return spec


def patch_data_center_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Work around the Data Center spec's defects that touch the nine activities."""
    _drop_bad_enum_defaults(spec)
    _nullable_body(spec, "/api/2/issue/{issueIdOrKey}/assignee", "UserBean", "name")
    fields = spec["components"]["schemas"]["IssueUpdateBean"]["properties"]["fields"]
    fields["additionalProperties"] = {}
    _add_query_parameter(
        spec, "/api/2/issue/{issueIdOrKey}/transitions", "get", "expand"
    )
    _add_query_parameter(spec, "/api/2/mypermissions", "get", "permissions")
    return spec


def _read_spec(folder: Path, name: str) -> dict[str, Any]:
    try:
        with open(folder / name, encoding="utf-8") as spec_file:
            return json.load(spec_file)
    except (OSError, ValueError) as error:
        raise SpecLoadError(
            f"Cannot load the OpenAPI spec {folder / name}: {error}"
        ) from error


def load_specs(folder: Path) -> None:
    """Load and patch both specs and build their validators; raise SpecLoadError."""
    from jsonschema_path import SchemaPath
    from openapi_core.validation.request.validators import (
        V30RequestBodyValidator,
        V30RequestParametersValidator,
    )

    started = time.monotonic()
    specs = {
        "cloud": patch_cloud_spec(_read_spec(folder, CLOUD_SPEC_FILE)),
        "data_center": patch_data_center_spec(
            _read_spec(folder, DATA_CENTER_SPEC_FILE)
        ),
    }
    for flavour, spec in specs.items():
        schema_path = SchemaPath.from_dict(spec)
        _validators[flavour] = _Validators(
            parameters=V30RequestParametersValidator(
                schema_path, spec_validator_cls=None
            ),
            body=V30RequestBodyValidator(schema_path, spec_validator_cls=None),
        )
    logger.info(
        "Loaded the OpenAPI specs from %s in %.2f s",
        folder,
        time.monotonic() - started,
    )


def specs_loaded() -> bool:
    """Return whether requests are being validated."""
    return bool(_validators)


def _spec_request(request: HttpRequest) -> tuple[str, SpecRequest] | None:
    from openapi_core.datatypes import RequestParameters
    from werkzeug.datastructures import Headers, ImmutableMultiDict

    cloud = CLOUD_PATH.match(request.path)
    data_center = DATA_CENTER_PATH.match(request.path) if cloud is None else None
    if cloud is not None:
        flavour, host_url, path = "cloud", CLOUD_HOST_URL, cloud["path"]
    elif data_center is not None:
        flavour = "data_center"
        host_url, path = DATA_CENTER_HOST_URL, "/rest/api/2" + data_center["path"]
    else:
        return None
    parameters = RequestParameters(
        query=ImmutableMultiDict(
            [(name, value) for name, values in request.GET.lists() for value in values]
        ),
        header=Headers(list(request.headers.items())),
        cookie=ImmutableMultiDict(),
        path={},
    )
    multipart = request.content_type == "multipart/form-data"
    return flavour, SpecRequest(
        host_url=host_url,
        path=path,
        method=(request.method or "").lower(),
        parameters=parameters,
        content_type=request.META.get("CONTENT_TYPE") or None,
        body=None if multipart else request.body,
    )


def validation_error(request: HttpRequest) -> str | None:
    """Return why the request breaks its spec, or None if it conforms or is unknown."""
    from openapi_core.deserializing.media_types.exceptions import (
        MediaTypeDeserializeError,
    )
    from openapi_core.templating.paths.exceptions import PathError

    described = _spec_request(request)
    if described is None or not _validators:
        return None
    flavour, spec_request = described
    validators = _validators[flavour]
    checks = [validators.parameters]
    if spec_request.body is not None:
        checks.append(validators.body)
    for validator in checks:
        for error in validator.iter_errors(spec_request):
            # Unknown paths get the URL map's 404, and a body that is not JSON
            # at all gets Jira's own "Invalid request payload" from the view.
            if isinstance(error, PathError) or isinstance(
                error.__cause__, MediaTypeDeserializeError
            ):
                return None
            return _describe(error)
    return None


def _describe(error: Exception) -> str:
    causes = [error, error.__cause__]
    details: list[str] = []
    for cause in causes:
        for schema_error in getattr(cause, "schema_errors", None) or []:
            details.append(getattr(schema_error, "message", str(schema_error)))
    text = str(error)
    if details:
        text = f"{text}: {'; '.join(dict.fromkeys(details))}"
    return text[:1000]


class OpenApiValidationMiddleware:
    """Answer 400 to Jira REST requests that break the flavour's OpenAPI spec."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        folder = getattr(settings, "SANDBOX_OPENAPI_DIR", "")
        if not folder:
            # Without specs nothing is validated, so Django leaves this
            # middleware out of the chain and requests skip its work.
            raise MiddlewareNotUsed("No OpenAPI spec folder is configured.")
        if not _validators:
            load_specs(Path(folder))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        message = validation_error(request)
        if message is None:
            return self.get_response(request)
        logger.info(
            "Rejected %s %s: it breaks the OpenAPI spec: %s",
            request.method,
            request.path,
            message,
        )
        body = {"errorMessages": [message], "errors": {}}
        return JsonResponse(body, status=400)
