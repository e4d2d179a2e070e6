"""The names a lifecycle run gives what it creates, computed in one place for the two workflows that need them: the
lifecycle workflow, which creates the candidate, and the candidate clean-up, which deletes it when a run ends without
reaching its own clean-up.

Why the run id is a hash of the execution's ARN and not `States.UUID()`: a timed-out or stopped (aborted) execution runs
none of its Catch states, so the lifecycle cannot delete its candidate endpoint itself. What reacts instead is the
EventBridge event "Step Functions Execution Status Change", whose `detail` carries the execution's `executionArn`,
`name`, `status` and `input` and nothing of its state (AWS Step Functions developer guide, "EventBridge (CloudWatch
Events) for Step Functions execution status changes", docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
A name computed from the ARN can be computed again from the event; a UUID drawn inside the run cannot.

The execution ARN (`$$.Execution.Id` in the context object, whose `Execution.Id` is the execution's ARN: developer
guide, "Accessing execution data from the Context object",
docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html; `detail.executionArn` in the event) names
the region, the account, the state machine and the execution, so runs of two profiles with the same execution name get
different ids. A standard workflow refuses a name already used until 90 days after that execution closes (botocore
1.44.8, stepfunctions StartExecution `name`); a name reused after that gives the same id again, and the run's first
CreateTrainingJob then fails as a duplicate job name (SageMaker never reuses job names): start it under a new name.

`States.Hash(data, 'MD5')` returns the digest as lowercase hex (the intrinsic functions page of the developer guide
lists MD5, SHA-1, SHA-256, SHA-384 and SHA-512; localstack/localstack at commit
958890a40ed4f5f1419a4cc69a85baa5c159c5cc, localstack-core/localstack/services/stepfunctions/asl/component/intrinsic/
function/statesfunction/hash_calculations/hash_func.py, emulates it with `hexdigest()`). MD5's 32 characters fit every
name (`fine-tune-` + 32 = 42 of SageMaker's 63, shorter than the 36-character UUID it replaces). The hash names; it
protects nothing.
"""

from __future__ import annotations

import re

from sagemaker_requests.processing import generated_name_prefix

RUN_ID_ALGORITHM = "MD5"
# Names the workflow gives what it creates per run (`<prefix><run id>`): the workflows' SageMaker permissions are
# scoped to these prefixes, so they cannot create, change or delete anything else in the account.
MODEL_PREFIX = "lifecycle-"
CANDIDATE_PREFIX = "eval-"  # the candidate endpoint and its config
LIVE_CONFIG_PREFIX = "live-"
NAME_PATHS = {
    "$.candidate.model_name": MODEL_PREFIX,
    "$.candidate.eval_endpoint_name": CANDIDATE_PREFIX,
    "$.candidate.live_config_name": LIVE_CONFIG_PREFIX,
}
# The resource type each operation's name parameter names.
NAMED_RESOURCES = {
    "TrainingJobName": "training-job",
    "ProcessingJobName": "processing-job",
    "ModelName": "model",
    "EndpointConfigName": "endpoint-config",
    "EndpointName": "endpoint",
}


def run_id(execution_arn_path: str) -> str:
    """The intrinsic that computes a run's id from its execution's ARN: `$$.Execution.Id` inside the run,
    `$.detail.executionArn` in the event of its end."""
    if not re.fullmatch(r"\$\$?(\.[A-Za-z0-9_]+)+", execution_arn_path):
        raise ValueError(f"{execution_arn_path!r} is not a JSONPath to the execution ARN")
    return f"States.Hash({execution_arn_path}, '{RUN_ID_ALGORITHM}')"


def candidate_names(run_id_path: str) -> dict[str, str]:
    """Pass-state parameters naming the run's candidate model, evaluation endpoint (and its config) and live config,
    at the keys `NAME_PATHS` reads them from under `$.candidate`."""
    return {
        f"{path.removeprefix('$.candidate.')}.$": f"States.Format('{prefix}{{}}', {run_id_path})"
        for path, prefix in NAME_PATHS.items()
    }


def name_prefix(value: str) -> str:
    """The fixed prefix of a generated name: a JSONPath of the candidate names, or
    `States.Format('<prefix>{}', ...)`."""
    return NAME_PATHS[value] if value in NAME_PATHS else generated_name_prefix(value)
