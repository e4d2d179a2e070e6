"""Every AWS request a synthesized state machine sends, with its computed values evaluated as a worst-case execution
would produce them, for `tests.support.service_model.violations`.

Deploy-time values (`resolver`): what CloudFormation makes of each reference at its longest: a generated bucket name
is 63 characters (the S3 maximum), a generated role name 64 (IAM's maximum), key ARNs carry a key UUID.

Run-time values (`sample_state`, `evaluate`): Step Functions computes every `"Key.$"` value from the state and the
context object. The sample execution is named with 80 characters (StartExecution's `name` limit, Step Functions
service model shape `Name`, max 80), `States.UUID()` yields a 36-character UUID, `States.Hash` the digest itself, and
the state a request reads is built by evaluating the workflow's own Pass states and the results its tasks record, so a
name like `States.Format('fine-tune-{}', $.run.id)` is checked at the length it really reaches. `evaluate` implements
only the intrinsic functions the workflows use (`States.Format`, `States.UUID`, `States.Hash`, `States.MathAdd`,
`States.JsonToString`, `States.JsonMerge`, `States.StringToJson`) and plain JSONPaths `$.a.b` / `$$.Execution.*` /
`$$.StateMachine.*` — anything else fails loudly rather than being guessed
(the grammar: docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from tests.support.harness import Synthesized

ACCOUNT = "123456789012"
EXECUTION_NAME = "e" * 80  # StartExecution `name`: max 80 (stepfunctions service model, shape Name)
RUN_UUID = str(uuid.UUID(int=(1 << 128) - 1))  # 36 characters, like every States.UUID()
HASH_ALGORITHMS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}

# Task resource prefix -> service (botocore name); the action after it is the operation in camelCase.
TASK_PREFIXES = {
    "arn:aws:states:::sagemaker:": "sagemaker",
    "arn:aws:states:::aws-sdk:sagemaker:": "sagemaker",
    "arn:aws:states:::aws-sdk:s3:": "s3",
    "arn:aws:states:::s3:": "s3",
    "arn:aws:states:::sns:": "sns",
    "arn:aws:states:::aws-sdk:sns:": "sns",
    "arn:aws:states:::states:": "stepfunctions",
    "arn:aws:states:::aws-sdk:sfn:": "stepfunctions",
}

# What a task's API call returns, as far as the workflow reads it (the members the ResultSelectors and later
# JSONPaths use). A `.sync` job's output is its Describe* response, which echoes the request's names.
TASK_OUTPUTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "CreateTrainingJob": lambda request: {**request, "TrainingJobStatus": "Completed"},
    "CreateProcessingJob": lambda request: {
        **request,
        "ProcessingJobStatus": "Completed",
        "ProcessingJobArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:processing-job/{request['ProcessingJobName']}",
    },
    "DescribeEndpoint": lambda request: {
        "EndpointName": request["EndpointName"],
        "EndpointStatus": "InService",
        "EndpointConfigName": "c" * 63,
    },
    "CreateModelPackage": lambda request: {
        "ModelPackageArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/{request['ModelPackageGroupName']}/1"
    },
    "GetObject": lambda request: {"Body": json.dumps({"passed": True})},
}


# --- deploy time -----------------------------------------------------------------------------------------------------
def resolver(s: Synthesized) -> Callable[[Any, str], Any]:
    """Template values -> the strings they deploy as, following cross-stack outputs to their source resource."""
    units = {s.config.stack_name(unit): unit for unit in s.templates}
    pseudo = {"AWS::Partition": "aws", "AWS::Region": s.config.region, "AWS::AccountId": ACCOUNT}
    pseudo["AWS::URLSuffix"] = "amazonaws.com"

    def generated(unit: str, logical: str, limit: int) -> str:
        """CloudFormation's generated physical name: stack name, logical id and a random suffix, cut to the limit."""
        return f"{s.config.stack_name(unit)}-{logical}-ABCDEF123456".lower()[-limit:].lstrip("-.")

    def reference(unit: str, logical: str) -> str:
        resource = s.templates[unit]["Resources"][logical]
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::S3::Bucket":
            return value(props["BucketName"], unit) if "BucketName" in props else generated(unit, logical, 63)
        if kind == "AWS::SNS::Topic":
            name = value(props["TopicName"], unit) if "TopicName" in props else generated(unit, logical, 256)
            return f"arn:aws:sns:{s.config.region}:{ACCOUNT}:{name}"
        if kind == "AWS::EC2::Subnet":
            return "subnet-0123456789abcdef0"
        if kind == "AWS::IAM::Role":
            return value(props["RoleName"], unit) if "RoleName" in props else generated(unit, logical, 64)
        raise AssertionError(f"no deployed value for Ref {logical} ({kind}) in {unit}: add one to the resolver")

    def attribute(unit: str, logical: str, name: str) -> str:
        resource = s.templates[unit]["Resources"][logical]
        kind, props = resource["Type"], resource.get("Properties", {})
        if (kind, name) == ("AWS::IAM::Role", "Arn"):
            return f"arn:aws:iam::{ACCOUNT}:role/{reference(unit, logical)}"
        if (kind, name) == ("AWS::KMS::Key", "Arn"):
            return f"arn:aws:kms:{s.config.region}:{ACCOUNT}:key/{uuid.UUID(int=1)}"
        if (kind, name) == ("AWS::EC2::SecurityGroup", "GroupId"):
            return "sg-0123456789abcdef0"
        if (kind, name) == ("AWS::SageMaker::Endpoint", "EndpointName"):
            return value(props["EndpointName"], unit) if "EndpointName" in props else generated(unit, logical, 63)
        raise AssertionError(f"no deployed value for {logical}.{name} ({kind}) in {unit}: add one to the resolver")

    def value(node: Any, unit: str) -> Any:
        if isinstance(node, str | int | float | bool) or node is None:
            return node
        if isinstance(node, list):
            return [value(item, unit) for item in node]
        if "Fn::Join" in node:
            delimiter, parts = node["Fn::Join"]
            return delimiter.join(str(value(p, unit)) for p in parts)
        if "Fn::Sub" in node:
            return re.sub(r"\$\{([^}]+)\}", lambda m: pseudo[m.group(1)], node["Fn::Sub"])
        if "Fn::GetStackOutput" in node:
            source = units[node["Fn::GetStackOutput"]["StackName"]]
            return value(s.templates[source]["Outputs"][node["Fn::GetStackOutput"]["OutputName"]]["Value"], source)
        if "Ref" in node:
            return pseudo[node["Ref"]] if node["Ref"] in pseudo else reference(unit, node["Ref"])
        if "Fn::GetAtt" in node:
            return attribute(unit, *node["Fn::GetAtt"])
        return {k: value(v, unit) for k, v in node.items()}

    return value


def definitions(s: Synthesized) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(unit, state machine name, definition as deployed) of every state machine of a profile. A machine without a
    StateMachineName gets CloudFormation's generated one, at its longest: 80 characters (CreateStateMachine `name`)."""
    value = resolver(s)
    for unit, template in s.templates.items():
        for logical, resource in template["Resources"].items():
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                props = resource["Properties"]
                name = value(props["StateMachineName"], unit) if "StateMachineName" in props else None
                name = name or f"{logical}-{'x' * 80}"[:80]
                yield unit, name, json.loads(value(props["DefinitionString"], unit))


# --- run time --------------------------------------------------------------------------------------------------------
def context(machine: str) -> dict[str, Any]:
    arn = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:{machine}:{EXECUTION_NAME}"
    machine_arn = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{machine}"
    return {
        "Execution": {"Name": EXECUTION_NAME, "Id": arn, "Input": {}},
        "StateMachine": {"Name": machine, "Id": machine_arn},
    }


def run_id_of(machine: str) -> str:
    """The lifecycle run id of `machine`'s sample execution: the MD5 hex digest of its ARN
    (sagemaker_requests.run_names), computed here with hashlib, independently of the evaluator."""
    return hashlib.md5(context(machine)["Execution"]["Id"].encode()).hexdigest()


def execution_status_event(machine: str, status: str) -> dict[str, Any]:
    """The EventBridge event of the end of `machine`'s sample execution, in the shape of the developer guide's examples
    ("EventBridge (CloudWatch Events) for Step Functions execution status changes",
    docs.aws.amazon.com/step-functions/latest/dg/cw-events.html)."""
    ctx = context(machine)
    arn = ctx["Execution"]["Id"]
    return {
        "version": "0",
        "id": str(uuid.UUID(int=2)),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "time": "2026-11-30T12:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": ctx["StateMachine"]["Id"],
            "name": ctx["Execution"]["Name"],
            "status": status,
            "startDate": 1764460800000,
            "stopDate": 1764504000000,
            "input": "{}",
            "output": None,
            "inputDetails": {"included": True},
            "outputDetails": None,
        },
    }


def split_arguments(text: str) -> list[str]:
    """The top-level comma-separated arguments of an intrinsic call (quotes and nested calls kept whole)."""
    args, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "'" and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            args.append(text[start:i].strip())
            start = i + 1
    last = text[start:].strip()
    return [*args, last] if last else args


def evaluate(expression: str, state: Any, ctx: dict[str, Any]) -> Any:
    """The value of a `"Key.$"` expression: a JSONPath or one of the intrinsic functions the workflows use."""
    expression = expression.strip()
    if expression.startswith("'") and expression.endswith("'"):
        return expression[1:-1].replace("\\'", "'").replace("\\{", "{").replace("\\}", "}")
    if expression in ("true", "false", "null") or re.fullmatch(r"-?\d+(\.\d+)?", expression):
        return json.loads(expression)
    if expression in ("$", "$$"):
        return state if expression == "$" else ctx
    if re.fullmatch(r"\$\$?(\.[A-Za-z0-9_-]+)+", expression):
        node = ctx if expression.startswith("$$") else state
        for part in expression.lstrip("$").lstrip(".").split("."):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"{expression}: the sample execution has no {part!r} there")
            node = node[part]
        return node
    call = re.fullmatch(r"(States\.[A-Za-z]+)\((.*)\)", expression, re.S)
    if call is None:
        raise AssertionError(f"{expression!r}: not a JSONPath or an intrinsic function the evaluator knows")
    function, args = call.group(1), [evaluate(a, state, ctx) for a in split_arguments(call.group(2))]
    if function == "States.Format":
        template, *values = args
        pieces = template.split("{}")
        assert len(pieces) == len(values) + 1, f"{expression}: {len(pieces) - 1} placeholders, {len(values)} values"
        texts = [v if isinstance(v, str) else json.dumps(v) for v in values] + [""]
        return "".join(piece + text for piece, text in zip(pieces, texts, strict=True))
    if function == "States.MathAdd":
        assert all(isinstance(a, int) and not isinstance(a, bool) for a in args), f"{expression}: {args}"
        return args[0] + args[1]
    if function == "States.UUID":
        return RUN_UUID
    if function == "States.Hash":
        # Lowercase hex of the digest; the algorithms the developer guide lists (see sagemaker_requests/run_names.py).
        data, algorithm = args
        assert isinstance(data, str) and len(data) <= 10_000, f"{expression}: data must be a string of <= 10000"
        return hashlib.new(HASH_ALGORITHMS[algorithm], data.encode()).hexdigest()
    if function == "States.JsonToString":
        return json.dumps(args[0], separators=(",", ":"))
    if function == "States.StringToJson":
        return json.loads(args[0])
    if function == "States.JsonMerge":
        left, right, deep = args
        assert deep is False, f"{expression}: only the shallow merge is used (Step Functions allows no other)"
        return {**left, **right}
    raise AssertionError(f"{function}: not an intrinsic function the workflows use; extend the evaluator")


def render(parameters: Any, state: Any, ctx: dict[str, Any]) -> Any:
    """Parameters with every `Key.$` replaced by `Key` and its evaluated value."""
    if isinstance(parameters, dict):
        return {
            k.removesuffix(".$"): evaluate(v, state, ctx) if k.endswith(".$") else render(v, state, ctx)
            for k, v in parameters.items()
        }
    if isinstance(parameters, list):
        return [render(v, state, ctx) for v in parameters]
    if isinstance(parameters, str) and parameters.startswith("$"):
        # Literal strings are only evaluated under a `.$` key; a bare "$..." value is sent as written.
        return parameters
    return parameters


def flatten(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from flatten(branch["States"])
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from flatten(processor["States"])


def set_path(state: dict[str, Any], path: str, value: Any) -> None:
    parts = path.removeprefix("$.").split(".")
    node = state
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def operation_of(resource: str) -> tuple[str, str] | None:
    for prefix, service in TASK_PREFIXES.items():
        if resource.startswith(prefix):
            action = resource.removeprefix(prefix).removesuffix(".sync").removesuffix(".waitForTaskToken")
            return service, action[0].upper() + action[1:]
    return None


def requests(
    definition: dict[str, Any], machine: str, execution_input: dict[str, Any]
) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(state name, service, operation, request as sent) of every AWS API task of a state machine.

    A worst-case execution walks the states in definition order (the order CDK writes a chain in), applying Pass
    results and the outputs its tasks record, and renders each task's request from the state as it is when that task
    runs. A Catch's error output is there from the start (a failure path may read it). A task whose input is not there
    yet in that order is rendered in a later round; one that never can be fails the test, naming the missing value."""
    state: dict[str, Any] = copy.deepcopy(execution_input)
    ctx = context(machine)
    error = {"Error": "States.TaskFailed", "Cause": "c" * 32768}  # a Cause is at most 32768 characters (Step Functions)
    for _, node in flatten(definition["States"]):
        for catch in node.get("Catch", []):
            if catch.get("ResultPath") not in (None, "$"):
                set_path(state, catch["ResultPath"], error)
    rendered: dict[str, tuple[str, str, dict[str, Any]]] = {}
    missing: dict[str, str] = {}
    for _ in range(3):
        for name, node in flatten(definition["States"]):
            found = operation_of(node.get("Resource", "")) if node["Type"] == "Task" else None
            if found and name not in rendered:
                try:
                    rendered[name] = (*found, render(node.get("Parameters", {}), state, ctx))
                    missing.pop(name, None)
                except KeyError as err:
                    missing[name] = str(err)
            # A result that replaces the whole state ("$", the default) is kept out of the sample: inside a Parallel
            # branch it is the branch's own, and the workflows read nothing after one outside a branch.
            result_path = node.get("ResultPath", "$")
            if result_path in (None, "$"):
                continue
            try:
                if node["Type"] == "Pass" and ("Parameters" in node or "Result" in node):
                    result = render(node["Parameters"], state, ctx) if "Parameters" in node else node["Result"]
                elif found and found[1] in TASK_OUTPUTS:
                    result = TASK_OUTPUTS[found[1]](render(node.get("Parameters", {}), state, ctx))
                    if "ResultSelector" in node:
                        result = render(node["ResultSelector"], result, ctx)
                else:
                    continue
            except KeyError:
                continue
            set_path(state, result_path, copy.deepcopy(result))
    assert not missing, f"{machine}: requests the sample execution cannot render: {missing}"
    for name, (service, operation, request) in rendered.items():
        if service == "sns" and not isinstance(request.get("Message"), str):
            # The workflows publish a JSON object; SNS's Message is a string, so it is checked as the JSON text.
            request = {**request, "Message": json.dumps(request["Message"])}
        yield name, service, operation, request
