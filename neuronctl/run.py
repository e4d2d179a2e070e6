"""Start, inspect and watch the lifecycle, evaluation and compile workflows (Step Functions) the stacks deployed.

Progress is read from the execution history: states done of the states in the definition, the state running now,
the SageMaker job it runs (name from the task's parameters, status from Describe*Job) and the elapsed time. A failed
run names the state that failed and the cause, with a SageMaker job's FailureReason pulled out of the cause JSON.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from botocore.exceptions import ClientError

from neuronctl import output
from neuronctl.discovery import (
    COMPILE,
    COMPILE_STATE_MACHINE,
    EVALUATION,
    EVALUATION_STATE_MACHINE,
    LIFECYCLE,
    LIFECYCLE_STATE_MACHINE,
    STAGING,
    STAGING_STATE_MACHINE,
    Deployment,
)
from neuronctl.errors import CliError, ExitCode, error_code

WORKFLOWS: dict[str, tuple[str, str]] = {
    "lifecycle": (LIFECYCLE, LIFECYCLE_STATE_MACHINE),
    "evaluation": (EVALUATION, EVALUATION_STATE_MACHINE),
    # The stand-alone Neuron compile of the profile's S3 models (docs/compile.md); input {"model": "<key>"|"all"}.
    "compile": (COMPILE, COMPILE_STATE_MACHINE),
    # The Hub -> S3 staging of the profile's `from_hub` sources (docs/inference.md); input {"model": "<key>"|"all"}.
    "stage": (STAGING, STAGING_STATE_MACHINE),
}
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# Task resources of the SageMaker optimized integrations -> (Describe call, name parameter, status field).
SAGEMAKER_JOBS: dict[str, tuple[str, str, str]] = {
    "createTrainingJob": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "createProcessingJob": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus"),
    "createTransformJob": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
    "createHyperParameterTuningJob": (
        "describe_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
    ),
}


# StartExecution `name` (botocore 1.44.8 botocore/data/stepfunctions/2016-11-23/service-2.json: shape `Name`, max 80;
# the member's documentation lists what a name must not contain). botocore's client checks neither, so a bad --name
# would only come back as the service's ValidationException after the run input was built and sent. Without --name,
# neuronctl sends no name and Step Functions generates a UUID (36 characters).
RUN_NAME_MAX = 80
RUN_NAME_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff\U0010ffff]")


def check_run_name(name: str) -> None:
    """Refuse a --name Step Functions would refuse, naming the limit and what to use instead."""
    if len(name) > RUN_NAME_MAX:
        raise CliError(
            f"--name is {len(name)} characters; Step Functions allows at most {RUN_NAME_MAX} for a run name: "
            "shorten it",
            ExitCode.USAGE,
        )
    bad = RUN_NAME_FORBIDDEN.search(name)
    if bad:
        raise CliError(
            f"--name {name!r} contains {bad.group()!r}, which Step Functions does not allow in a run name (no white "
            'space, brackets, ? * " # % \\ ^ | ~ ` $ & , ; : / or control characters): use letters, digits, - and _ '
            "(CloudWatch Logs needs those only)",
            ExitCode.USAGE,
        )


def state_machine_arn(deployment: Deployment, workflow: str) -> str:
    unit, key = WORKFLOWS[workflow]
    return deployment.output(unit, key)


def parse_input(raw: str | None, params: Iterable[str]) -> dict[str, Any]:
    """`--input` JSON (or @file) merged with `--param a.b=value` pairs (values parsed as JSON when they are)."""
    data: dict[str, Any] = {}
    if raw:
        text = raw
        if raw.startswith("@"):
            try:
                with open(raw[1:]) as handle:
                    text = handle.read()
            except OSError as err:
                raise CliError(f"cannot read --input file {raw[1:]}: {err.strerror}", ExitCode.USAGE) from None
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as err:
            raise CliError(f"--input is not valid JSON: {err}", ExitCode.USAGE) from None
        if not isinstance(loaded, dict):
            raise CliError("--input must be a JSON object", ExitCode.USAGE)
        data = loaded
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--param {item!r} must look like key=value (dots make nested keys)", ExitCode.USAGE)
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise CliError(f"--param {item!r}: {part!r} is already a value, not an object", ExitCode.USAGE)
            node = child
        node[leaf] = parsed
    return data


def start(deployment: Deployment, workflow: str, run_input: Mapping[str, Any], name: str | None) -> dict[str, Any]:
    if name is not None:
        check_run_name(name)
    request: dict[str, Any] = {
        "stateMachineArn": state_machine_arn(deployment, workflow),
        "input": json.dumps(run_input),
    }
    if name:
        request["name"] = name
    try:
        response = deployment.aws.client("stepfunctions").start_execution(**request)
    except ClientError as err:
        if error_code(err) == "ExecutionAlreadyExists":
            raise CliError(
                f"a {workflow} run named {name!r} already exists (names are unique for 90 days): pick another --name",
                ExitCode.USAGE,
            ) from None
        raise
    return {"executionArn": response["executionArn"], "startDate": response["startDate"]}


def execution_arn(deployment: Deployment, workflow: str, ref: str | None) -> str:
    """An execution ARN from an ARN, a run name, or (None) the workflow's latest run."""
    if ref and ref.startswith("arn:"):
        return ref
    machine = state_machine_arn(deployment, workflow)
    if ref:
        return machine.replace(":stateMachine:", ":execution:", 1) + ":" + ref
    runs = deployment.aws.client("stepfunctions").list_executions(stateMachineArn=machine, maxResults=1)
    if not runs.get("executions"):
        raise CliError(
            f"the {workflow} workflow has no runs yet: start one with `neuronctl run start {workflow}`",
            ExitCode.NOT_FOUND,
        )
    return str(runs["executions"][0]["executionArn"])


def count_states(definition: Mapping[str, Any]) -> int:
    """Every state of a definition, including those inside Parallel branches and Map iterators."""
    total = 0
    for state in definition.get("States", {}).values():
        total += 1
        for branch in state.get("Branches", []):
            total += count_states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                total += count_states(state[key])
    return total


@dataclass
class Progress:
    execution_arn: str
    status: str
    started: datetime
    stopped: datetime | None
    states_total: int
    states_done: int
    current_state: str | None
    job: dict[str, Any] | None
    failure: dict[str, Any] | None = None
    completed_states: list[str] = field(default_factory=list)

    def elapsed(self, now: datetime) -> float:
        return ((self.stopped or now) - self.started).total_seconds()

    def line(self, now: datetime) -> str:
        parts = [
            f"[{output.duration(self.elapsed(now))}] {self.status}",
            f"{self.states_done}/{self.states_total} states done",
        ]
        if self.current_state and self.status == "RUNNING":
            parts.append(f"in {self.current_state}")
        if self.job:
            detail = f"/{self.job['secondary']}" if self.job.get("secondary") else ""
            parts.append(f"{self.job['kind']} {self.job['name']}: {self.job['status']}{detail}")
        return " | ".join(parts)

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "executionArn": self.execution_arn,
            "status": self.status,
            "started": self.started,
            "stopped": self.stopped,
            "elapsed_seconds": round(self.elapsed(now)),
            "states_done": self.states_done,
            "states_total": self.states_total,
            "current_state": self.current_state,
            "job": self.job,
            "failure": self.failure,
            "completed_states": self.completed_states,
        }


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def progress(aws_client: Callable[[str], Any], arn: str) -> Progress:
    sfn = aws_client("stepfunctions")
    try:
        execution = sfn.describe_execution(executionArn=arn)
    except ClientError as err:
        if error_code(err) in {"ExecutionDoesNotExist", "InvalidArn"}:
            raise CliError(f"no such run: {arn} ({error_code(err)})", ExitCode.NOT_FOUND) from None
        raise
    definition = json.loads(sfn.describe_state_machine_for_execution(executionArn=arn)["definition"])
    events = _history(sfn, arn)
    done: list[str] = []
    entered: list[str] = []
    last_job: tuple[str, str] | None = None
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            entered.append(event["stateEnteredEventDetails"]["name"])
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if name not in done:
                done.append(name)
        elif kind == "TaskScheduled":
            details = event["taskScheduledEventDetails"]
            job = _job_of(details.get("resourceType", ""), details.get("resource", ""), details.get("parameters"))
            if job:
                last_job = job
    running = [name for name in entered if name not in done]
    return Progress(
        execution_arn=arn,
        status=execution["status"],
        started=execution["startDate"],
        stopped=execution.get("stopDate"),
        states_total=count_states(definition),
        states_done=len(done),
        current_state=running[-1] if running else None,
        job=_describe_job(aws_client("sagemaker"), last_job) if last_job else None,
        failure=_failure(execution, events) if execution["status"] in TERMINAL - {"SUCCEEDED"} else None,
        completed_states=done,
    )


def _job_of(resource_type: str, resource: str, parameters: str | None) -> tuple[str, str] | None:
    if resource_type != "sagemaker" or not parameters:
        return None
    action = resource.split(".")[0]
    if action not in SAGEMAKER_JOBS:
        return None
    try:
        name = json.loads(parameters).get(SAGEMAKER_JOBS[action][1])
    except json.JSONDecodeError:
        return None
    return (action, name) if name else None


def _describe_job(sagemaker: Any, job: tuple[str, str]) -> dict[str, Any]:
    action, name = job
    describe, key, status_key = SAGEMAKER_JOBS[action]
    kind = key.removesuffix("Name").replace("Job", " job").replace("HyperParameterTuning", "tuning").strip()
    kind = kind[0].lower() + kind[1:]
    try:
        response = getattr(sagemaker, describe)(**{key: name})
    except ClientError as err:
        return {"kind": kind, "name": name, "status": f"unknown ({error_code(err)})"}
    info = {
        "kind": kind,
        "name": name,
        "status": response.get(status_key),
        "secondary": response.get("SecondaryStatus"),
    }
    if response.get("FailureReason"):
        info["failure_reason"] = response["FailureReason"]
    return info


def _failure(execution: Mapping[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The state that failed and why: the last task/state failure that carries an error or cause, else the run's own.

    Failures that only propagate one (ParallelStateFailed, MapStateFailed have no details) keep the branch's.
    """
    state = None
    failure: dict[str, Any] = {"error": execution.get("error"), "cause": execution.get("cause")}
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
        elif kind.endswith("Failed") and kind != "ExecutionFailed":
            details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            if details.get("error") or details.get("cause"):
                failure = {"state": state, "event": kind, "error": details.get("error"), "cause": details.get("cause")}
        elif kind in {"ExecutionTimedOut", "ExecutionAborted"}:
            failure.setdefault("state", state)
            failure["event"] = kind
    failure.setdefault("state", state)
    failure["reason"] = _reason(failure.get("cause"))
    return failure


def _reason(cause: str | None) -> str:
    """A SageMaker .sync failure's cause is the Describe*Job response as JSON: pull out the FailureReason."""
    if not cause:
        return ""
    try:
        data = json.loads(cause)
    except json.JSONDecodeError:
        return cause[:600]
    if isinstance(data, dict):
        job = next((str(v) for k, v in data.items() if k.endswith("JobName")), None)
        for key in ("FailureReason", "errorMessage", "Message", "message"):
            if data.get(key):
                return f"{job}: {data[key]}" if job else str(data[key])
    return cause[:600]


def failure_message(item: Progress) -> str:
    failure = item.failure or {}
    where = f" in state {failure['state']!r}" if failure.get("state") else ""
    error = failure.get("error") or failure.get("event") or item.status
    reason = failure.get("reason") or "no cause recorded"
    return f"run {item.status.lower().replace('_', ' ')}{where}: {error}: {reason} ({item.execution_arn})"


def watch(
    aws_client: Callable[[str], Any],
    arn: str,
    *,
    interval: float,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress_to: TextIO | None = None,
) -> Progress:
    """Poll until the run ends, writing a progress line whenever it changes (rewritten in place on a terminal)."""
    progress_to = progress_to or sys.stderr
    tty = progress_to.isatty()
    waited, last_key = 0.0, None
    while True:
        item = progress(aws_client, arn)
        line = item.line(now())
        key = (item.status, item.states_done, item.current_state, json.dumps(item.job, default=str))
        if tty:
            progress_to.write("\r\033[K" + line)
            progress_to.flush()
        elif key != last_key:
            progress_to.write(line + "\n")
            progress_to.flush()
        last_key = key
        if item.status in TERMINAL:
            if tty:
                progress_to.write("\n")
            return item
        if timeout is not None and waited >= timeout:
            if tty:
                progress_to.write("\n")
            raise CliError(f"run still {item.status} after watching {timeout:.0f} s: {arn}", ExitCode.UNAVAILABLE)
        sleep(interval)
        waited += interval


def finish(item: Progress, *, as_json: bool, now: datetime | None = None, watched: bool = False) -> int:
    """Print the final state and turn it into an exit code: non-zero, with the cause, when the run did not succeed.

    After `watch` the progress line is already on stderr, so stdout gets a one-line verdict instead of a repeat.
    """
    moment = now or datetime.now(UTC)
    if as_json:
        output.dump_json(item.as_json(moment))
    elif watched:
        print(
            f"{item.status} after {output.duration(item.elapsed(moment))} ({item.states_done}/{item.states_total} "
            f"states done): {item.execution_arn}"
        )
    else:
        print(item.line(moment))
    if item.status in TERMINAL - {"SUCCEEDED"}:
        raise CliError(failure_message(item), ExitCode.FAILED)
    return ExitCode.OK
