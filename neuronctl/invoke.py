"""Send a prompt to the deployed endpoint (or one inference component) with validated generation settings.

Order of events: resolve the target from the stack outputs -> merge the deployed defaults with the command line ->
validate the settings with the same model the synth uses -> build the zero- or few-shot prompt -> check the context
window (refuse before sending) -> optionally the guardrail on the prompt -> invoke (streamed where the server
streams), retrying ModelNotReady and scale-from-zero with a message -> optionally the guardrail on the completion.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from botocore.exceptions import ClientError

from neuronctl import output, tokens
from neuronctl.discovery import (
    COMPONENT_NAMES,
    ENDPOINT_NAME,
    EVALUATION,
    GUARDRAIL_ID,
    GUARDRAIL_VERSION,
    INFERENCE,
    Deployment,
    ModelDefaults,
    deploy_hint,
    generation_defaults,
)
from neuronctl.errors import CliError, ExitCode, error_code, error_message, explain
from neuronctl.prompts import Prompt, TokenBudget, check_context_window
from neuronctl.servers import SETTING_NAMES, StreamDecoder, completion_text, protocol
from neuronctl.session import CONTAINER_LIMIT_S, Aws
from neuronctl.settings import validate_settings

NOT_READY_FIRST_WAIT_S = 2.0
NOT_READY_MAX_WAIT_S = 30.0


@dataclass(frozen=True)
class InvokeRequest:
    prompt: Prompt
    overrides: Mapping[str, Any] = field(default_factory=dict)  # settings given on the command line
    model: str | None = None
    endpoint: str | None = None
    component: str | None = None
    server: str | None = None
    context_window: int | None = None
    token_margin: int = tokens.SAFETY_MARGIN
    stream: bool | None = None  # None: stream when the server can and no guardrail must see the whole completion
    guardrail: bool = False
    grounding: str | None = None
    wait_ready_s: float = 600.0
    allow_temperature_and_top_p: bool = False


@dataclass(frozen=True)
class Target:
    endpoint: str
    component: str | None
    model: str
    server: str
    context_window: int | None
    defaults: Mapping[str, Any]


@dataclass
class InvokeResult:
    target: Target
    settings: dict[str, Any]
    budget: TokenBudget | None
    completion: str = ""
    streamed: bool = False
    seconds: float = 0.0
    not_ready_retries: int = 0
    guardrail: dict[str, Any] = field(default_factory=dict)
    dropped_settings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.target.endpoint,
            "component": self.target.component,
            "model": self.target.model,
            "server": self.target.server,
            "settings": self.settings,
            "settings_not_sent": self.dropped_settings,
            "prompt_tokens_estimate": self.budget.prompt_tokens if self.budget else None,
            "context_window": self.target.context_window,
            "token_count_method": tokens.METHOD,
            "completion": self.completion,
            "streamed": self.streamed,
            "seconds": round(self.seconds, 3),
            "not_ready_retries": self.not_ready_retries,
            "guardrail": self.guardrail,
        }


def resolve_target(deployment: Deployment | None, request: InvokeRequest) -> Target:
    """Endpoint, component, server and window: command line first, then what the stacks published."""
    defaults: dict[str, ModelDefaults] = generation_defaults(deployment) if deployment else {}
    endpoint = request.endpoint
    components: list[str] = []
    if endpoint is None:
        if deployment is None:
            raise CliError("no endpoint: pass --endpoint NAME or use a deployed profile (-c PROFILE)", ExitCode.USAGE)
        endpoint = deployment.output(INFERENCE, ENDPOINT_NAME)
        listed = deployment.optional_output(INFERENCE, COMPONENT_NAMES) or ""
        components = [c.strip() for c in listed.split(",") if c.strip()]
    chosen = _choose_model(defaults, request)
    component = request.component or (chosen.component if chosen else None)
    if component is None and len(components) == 1:
        component = components[0]
    if component is None and len(components) > 1:
        raise CliError(
            f"endpoint {endpoint} hosts {len(components)} inference components ({', '.join(components)}): "
            "choose one with --component or --model",
            ExitCode.USAGE,
        )
    if component is not None and components and component not in components:
        raise CliError(
            f"inference component {component!r} is not on endpoint {endpoint}; its components: {', '.join(components)}",
            ExitCode.NOT_FOUND,
        )
    server = request.server or (chosen.server if chosen else None)
    if server is None:
        raise CliError(
            f"the serving container of endpoint {endpoint} is unknown (no generation defaults published): "
            "pass --server",
            ExitCode.USAGE,
        )
    protocol(server)  # unknown server names fail here, with the known ones listed
    window = request.context_window or (chosen.context_window if chosen else None)
    return Target(
        endpoint,
        component,
        chosen.key if chosen else (component or endpoint),
        server,
        window,
        chosen.settings if chosen else {},
    )


def _choose_model(defaults: Mapping[str, ModelDefaults], request: InvokeRequest) -> ModelDefaults | None:
    if request.model is not None:
        if request.model not in defaults:
            known = ", ".join(defaults) or "none published"
            raise CliError(f"model {request.model!r} has no published defaults; models: {known}", ExitCode.NOT_FOUND)
        return defaults[request.model]
    if request.component is not None:
        for entry in defaults.values():
            if entry.component == request.component:
                return entry
    if len(defaults) == 1:
        return next(iter(defaults.values()))
    if len(defaults) > 1 and request.component is None:
        raise CliError(
            f"the endpoint serves {len(defaults)} models ({', '.join(defaults)}): choose one with --model",
            ExitCode.USAGE,
        )
    return None


def invoke(
    aws: Aws,
    deployment: Deployment | None,
    request: InvokeRequest,
    *,
    stream_to: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> InvokeResult:
    if request.stream and request.guardrail:
        # Streamed pieces reach the terminal as they arrive, before the output guardrail has seen the completion.
        raise CliError(
            "--stream with --guardrail: the streamed completion would be shown before the guardrail checks it; "
            "drop --stream (with --guardrail the completion is read whole, checked, then shown)",
            ExitCode.USAGE,
        )
    target = resolve_target(deployment, request)
    settings = validate_settings(target.defaults, request.overrides, allow_both=request.allow_temperature_and_top_p)
    server = protocol(target.server)
    dropped = server.unsupported(settings)
    for name in dropped:
        output.note(f"note: {target.server} has no {name} parameter; {name}={settings[name]!r} is not sent")
    budget = None
    if target.context_window is not None:
        budget = check_context_window(
            request.prompt,
            max_new_tokens=settings["max_new_tokens"],
            context_window=target.context_window,
            model=target.model,
            margin=request.token_margin,
        )
    else:
        output.note(
            "note: the model's context window is unknown (no published defaults): the prompt is sent "
            "unchecked; pass --context-window to check it"
        )
    text = request.prompt.text()
    result = InvokeResult(target, settings, budget, dropped_settings=dropped)
    guardrail = _guardrail(aws, deployment) if request.guardrail else None
    if guardrail:
        result.guardrail["input"] = _apply_guardrail(aws, guardrail, "INPUT", [_text(text)])
    stream = request.stream if request.stream is not None else (server.streams and not request.guardrail)
    if stream and not server.streams:
        raise CliError(f"{target.server} does not stream responses: drop --stream", ExitCode.USAGE)
    body = json.dumps(server.build(text, settings, stream)).encode()
    started = time.monotonic()
    result.completion, result.not_ready_retries = _send(
        aws, target, body, stream, request.wait_ready_s, stream_to, sleep, deployment
    )
    result.streamed = stream
    result.seconds = time.monotonic() - started
    if guardrail:
        content = [_text(text, "query"), _text(result.completion, "guard_content")]
        if request.grounding:
            content.insert(0, _text(request.grounding, "grounding_source"))
        result.guardrail["output"] = _apply_guardrail(aws, guardrail, "OUTPUT", content)
    return result


def _send(
    aws: Aws,
    target: Target,
    body: bytes,
    stream: bool,
    wait_ready_s: float,
    stream_to: TextIO | None,
    sleep: Callable[[float], None],
    deployment: Deployment | None,
) -> tuple[str, int]:
    runtime = aws.client("sagemaker-runtime")
    params: dict[str, Any] = {
        "EndpointName": target.endpoint,
        "Body": body,
        "ContentType": "application/json",
        "Accept": "application/json",
    }
    if target.component:
        params["InferenceComponentName"] = target.component
    deadline = time.monotonic() + wait_ready_s
    wait, retries = NOT_READY_FIRST_WAIT_S, 0
    while True:
        try:
            if not stream:
                response = runtime.invoke_endpoint(**params)
                raw = response["Body"].read()
                try:
                    return completion_text(json.loads(raw)), retries
                except json.JSONDecodeError:
                    return raw.decode("utf-8", errors="replace"), retries
            return _read_stream(runtime.invoke_endpoint_with_response_stream(**params), stream_to), retries
        except ClientError as err:
            reason = _not_ready_reason(err)
            if reason is None:
                raise _runtime_error(err, target, aws, deployment) from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CliError(
                    f"{_where(target)} is still not ready after waiting {wait_ready_s:.0f} s ({reason}); "
                    "check the component's copies and the endpoint's scaling activity, or raise "
                    "--wait-ready",
                    ExitCode.UNAVAILABLE,
                ) from None
            pause = min(wait, remaining)
            retries += 1
            output.note(
                f"{_where(target)} is not ready ({reason}); retrying in {pause:.0f} s "
                f"(retry {retries}, giving up after {wait_ready_s:.0f} s)"
            )
            sleep(pause)
            wait = min(wait * 2, NOT_READY_MAX_WAIT_S)


def _read_stream(response: Mapping[str, Any], stream_to: TextIO | None) -> str:
    decoder, parts = StreamDecoder(), []
    for event in response["Body"]:
        if "PayloadPart" in event:
            piece = decoder.feed(event["PayloadPart"].get("Bytes", b""))
        elif "ModelStreamError" in event:
            error = event["ModelStreamError"]
            raise CliError(
                f"the model failed while streaming: {error.get('ErrorCode', '')}: {error.get('Message', '')}",
                ExitCode.FAILED,
            )
        elif "InternalStreamFailure" in event:
            raise CliError(
                f"SageMaker broke off the stream: {event['InternalStreamFailure'].get('Message', '')}",
                ExitCode.UNAVAILABLE,
            )
        else:
            continue
        if piece:
            parts.append(piece)
            if stream_to is not None:
                stream_to.write(piece)
                stream_to.flush()
    tail = decoder.close()
    if tail:
        parts.append(tail)
        if stream_to is not None:
            stream_to.write(tail)
    return "".join(parts)


def _where(target: Target) -> str:
    return f"endpoint {target.endpoint}" + (f" component {target.component}" if target.component else "")


def _not_ready_reason(err: ClientError) -> str | None:
    """ModelNotReady (copies still loading) and scale-from-zero are worth waiting for; nothing else is."""
    code, message = error_code(err), error_message(err)
    if code in {"ModelNotReadyException", "ModelNotReady"}:
        return f"ModelNotReady: {message}"
    if code == "ValidationError" and "no capacity" in message.lower():
        return f"scaling out from zero: {message}"
    return None


def _runtime_error(err: ClientError, target: Target, aws: Aws, deployment: Deployment | None) -> CliError:
    code, message = error_code(err), error_message(err)
    if code in {"ModelError", "ModelStreamError"}:
        status = err.response.get("OriginalStatusCode")
        original = err.response.get("OriginalMessage") or message
        log = err.response.get("LogStreamArn")
        where = f"; container log: {_log_hint(log)}" if log else ""
        status_text = f" HTTP {status}" if status else ""
        return CliError(
            f"the model container on {_where(target)} answered{status_text}: {original}{where}", ExitCode.FAILED
        )
    if code == "ValidationError" and "not found" in message.lower():
        fix = deploy_hint(deployment.config, INFERENCE) if deployment else "check --endpoint / --component"
        return CliError(f"{message.rstrip('.')} (region {aws.region}): {fix}", ExitCode.NOT_FOUND)
    if code == "ValidationError" and "timed out" in message.lower():
        return CliError(
            f"the container did not answer within SageMaker's {CONTAINER_LIMIT_S} s limit: {message}; "
            "lower --max-new-tokens or use --stream",
            ExitCode.FAILED,
        )
    return explain(err)


def _log_hint(arn: str) -> str:
    """`aws logs tail` for the LogStreamArn of a ModelError."""
    parts = arn.split(":log-group:", 1)
    if len(parts) == 2 and ":log-stream:" in parts[1]:
        group, stream = parts[1].split(":log-stream:", 1)
        return f"{arn} (aws logs tail {group} --log-stream-names {stream} --since 15m)"
    return arn


def _text(value: str, qualifier: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"text": value}
    if qualifier:
        block["qualifiers"] = [qualifier]
    return {"text": block}


def _guardrail(aws: Aws, deployment: Deployment | None) -> tuple[str, str]:
    if deployment is None:
        raise CliError(
            "--guardrail needs a deployed profile (-c PROFILE) whose evaluation stack has the guardrail", ExitCode.USAGE
        )
    return deployment.output(EVALUATION, GUARDRAIL_ID), deployment.output(EVALUATION, GUARDRAIL_VERSION)


def _apply_guardrail(
    aws: Aws, guardrail: tuple[str, str], source: str, content: list[dict[str, Any]]
) -> dict[str, Any]:
    identifier, version = guardrail
    response = aws.client("bedrock-runtime").apply_guardrail(
        guardrailIdentifier=identifier, guardrailVersion=version, source=source, content=content
    )
    verdict = {"action": response.get("action"), "findings": _findings(response.get("assessments", []))}
    if response.get("action") == "GUARDRAIL_INTERVENED":
        said = " ".join(o.get("text", "") for o in response.get("outputs", [])).strip()
        what = "prompt" if source == "INPUT" else "completion"
        findings = ", ".join(verdict["findings"]) or "no detail"
        raise CliError(
            f"guardrail {identifier} v{version} blocked the {what}: {findings}"
            + (f"; it answers: {said}" if said else ""),
            ExitCode.BLOCKED,
        )
    return verdict


def _findings(assessments: list[dict[str, Any]]) -> list[str]:
    """One short label per policy hit, e.g. `content:VIOLENCE(HIGH)`, `topic:investment-advice`."""
    found: list[str] = []
    for assessment in assessments:
        for topic in assessment.get("topicPolicy", {}).get("topics", []):
            found.append(f"topic:{topic.get('name')}")
        for item in assessment.get("contentPolicy", {}).get("filters", []):
            found.append(f"content:{item.get('type')}({item.get('confidence')})")
        for item in assessment.get("wordPolicy", {}).get("customWords", []):
            found.append(f"word:{item.get('match')}")
        for item in assessment.get("wordPolicy", {}).get("managedWordLists", []):
            found.append(f"word:{item.get('type')}")
        for item in assessment.get("sensitiveInformationPolicy", {}).get("piiEntities", []):
            found.append(f"pii:{item.get('type')}")
        for item in assessment.get("contextualGroundingPolicy", {}).get("filters", []):
            if item.get("action") == "BLOCKED":
                found.append(f"grounding:{item.get('type')}({item.get('score')}<{item.get('threshold')})")
    return found


def settings_from_args(values: Mapping[str, Any]) -> dict[str, Any]:
    """The generation settings the operator actually passed (None means: keep the deployed default)."""
    return {k: values[k] for k in SETTING_NAMES if values.get(k) is not None}


def print_result(result: InvokeResult, *, as_json: bool, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if as_json:
        output.dump_json(result.as_json(), out)
        return
    if not result.streamed:
        out.write(result.completion)
    out.write("\n")
    budget = (
        f"prompt ~{result.budget.prompt_tokens} tokens of {result.target.context_window}, " if result.budget else ""
    )
    retries = f", {result.not_ready_retries} not-ready retries" if result.not_ready_retries else ""
    output.note(
        f"[{_where(result.target)} | {result.target.server} | {budget}max_new_tokens "
        f"{result.settings['max_new_tokens']} | {result.seconds:.2f} s{retries}]"
    )
