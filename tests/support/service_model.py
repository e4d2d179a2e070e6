"""Requests checked against the installed botocore's service models, as the service itself would check them.

botocore's `ParamValidator` checks structure only (types, required and unknown members, minimum lengths): it lets a
CreateTrainingJob with `TrainingInputMode: "Bogus"` or a 90-character job name through, because the service, not the
client, enforces `enum`, `max` and `pattern`. `violations` adds those three, reading each shape's constraints from the
same service model (`botocore/data/<service>/<version>/service-2.json` of the botocore the lock pins):
- `enum`: the value is one of the listed strings;
- `min` / `max`: a string's length, a list's or map's number of entries, a number's range;
- `pattern`: the regular expression matches the whole value. Smithy, which these models are generated from, says a
  pattern "is not implicitly anchored" (smithy.io, "pattern trait"), but the installed SageMaker model's patterns carry
  no anchors at all (`TrainingJobName`: `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`) while the rule AWS documents for the name
  ("between 1 and 63 characters, start with a letter or number, and contain only letters, numbers, and hyphens") is
  only met by a whole-value match; patterns with explicit anchors (Step Functions') read the same either way. The
  patterns are Java regular expressions: `java_pattern` translates the constructs they use that Python's `re` lacks
  (`\\p{L}`, `\\p{Alnum}`, `\\p{ASCII}` and UTF-16 surrogate pairs) by compiling with the
  `regex` package, which has Unicode and POSIX property classes.

The validator lives in tests/support, not in shipped code: what the product sends is built at synth time into state
machines (checked here for every profile), and `neuronctl` sends its requests through boto3, whose client already runs
the structure check; the server-side constraints are a property of the service to test against, not something a
deployed client should re-implement and keep in step with botocore. `check_client` hooks the validator into a real
client, so every request `neuronctl` (or the evaluation job) sends in a test is checked the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import botocore.session
import regex
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator

SERVICES = {"sagemaker", "s3", "sns", "stepfunctions"}  # what the workflows embed
# What neuronctl calls (neuronctl/discovery.py, invoke.py, run.py, capacity.py) and the evaluation job's runtime client.
CLIENT_SERVICES = {"cloudformation", "ssm", "sagemaker-runtime", "bedrock-runtime", "stepfunctions", "sagemaker", "ec2"}


@cache
def service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


@cache
def java_pattern(pattern: str) -> regex.Pattern[str]:
    """A botocore (Java) pattern as a `regex` pattern. Java writes a character outside the Basic Multilingual Plane as
    its UTF-16 surrogate pair; Python strings hold code points, so the pair range `\\uD800\\uDC00-\\uDBFF\\uDFFF` is
    the code point range U+10000-U+10FFFF."""
    translated = pattern.replace("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF")
    return regex.compile(translated)


def violations(service: str, operation: str, request: dict[str, Any]) -> list[str]:
    """Every way `request` breaks the operation's input shape: botocore's structure report, then each value's enum,
    length/range and pattern. Empty when the service would accept the request's values."""
    return operation_violations(service_model(service).operation_model(operation), request)


def operation_violations(operation: OperationModel, request: dict[str, Any]) -> list[str]:
    """`violations` for an operation model already at hand (a client's, in `check_client`)."""
    shape = operation.input_shape
    report = ParamValidator().validate(request, shape)
    found = [line for line in report.generate_report().splitlines() if line.strip()] if report.has_errors() else []
    return found + constraints(request, shape, operation.name)


def check_client(client: Any, report: Callable[[str], None]) -> None:
    """Validate every request `client` sends, before it is serialized: each violation goes to `report` as
    "<service> <Operation>.<path>: ..." (a list's `append`, so a fixture can fail the test at teardown even when the
    code under test catches exceptions; `neuronctl.cli.main` turns any exception into an exit code).

    botocore emits `before-parameter-build.<service>.<Operation>` with the caller's parameters and the operation model
    before it serializes them (`BaseClient._emit_api_params` in botocore/client.py of the installed botocore 1.44.8);
    a Stubber on the same client listens to the same event, so stubbed and real sends are both checked."""
    service = client.meta.service_model.service_name

    def hook(params: dict[str, Any], model: OperationModel, **_: Any) -> None:
        for problem in operation_violations(model, params):
            report(f"{service} {problem}")

    client.meta.events.register("before-parameter-build", hook, unique_id=f"service-model-check-{id(client)}")


def constraints(value: Any, shape: Shape, path: str) -> list[str]:
    """The enum, min/max and pattern violations of a value and everything nested in it."""
    meta = shape.metadata
    found: list[str] = []
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, item in value.items():
            if name in shape.members:
                found += constraints(item, shape.members[name], f"{path}.{name}")
        return found
    if kind == "list" and isinstance(value, list):
        found += _bounds(len(value), meta, path, "entries")
        for i, item in enumerate(value):
            found += constraints(item, shape.member, f"{path}[{i}]")
        return found
    if kind == "map" and isinstance(value, dict):
        found += _bounds(len(value), meta, path, "entries")
        for key, item in value.items():
            found += constraints(key, shape.key, f"{path} key {key!r}")
            found += constraints(item, shape.value, f"{path}[{key!r}]")
        return found
    if kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            found.append(f"{path}: {value!r} is not one of {shape.name}'s values {shape.enum}")
        found += _bounds(len(value), meta, path, "characters", value)
        if "pattern" in meta and not java_pattern(meta["pattern"]).fullmatch(value):
            found.append(f"{path}: {value!r} does not match {shape.name}'s pattern {meta['pattern']}")
        return found
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in {"integer", "long", "float", "double"} and numeric:
        found += _bounds(value, meta, path, "", value)
    return found


def _bounds(measure: float, meta: dict[str, Any], path: str, unit: str, value: Any = None) -> list[str]:
    shown = f" ({value!r})" if isinstance(value, str) else ""
    what = f"{measure} {unit}".strip()
    if "min" in meta and measure < meta["min"]:
        return [f"{path}: {what}{shown} is below the minimum {meta['min']}"]
    if "max" in meta and measure > meta["max"]:
        return [f"{path}: {what}{shown} is above the maximum {meta['max']}"]
    return []
