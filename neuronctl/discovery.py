"""Find what a profile deployed from its stacks' outputs: the endpoint, its components, the workflows, the guardrail.

Nothing is looked up by a guessed physical name: the stack names come from the profile (`config.stack_name(unit)`)
and everything else from their outputs, so neuronctl follows whatever CloudFormation named the resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from config import AppConfig
from neuronctl.errors import CliError, ExitCode, error_code, error_message
from neuronctl.session import Aws

INFERENCE = "inference"
LIFECYCLE = "lifecycle"
EVALUATION = "evaluation"
COMPILE = "compile"
STAGING = "staging"

# Output keys the stacks publish (one place, so a renamed output is renamed here once).
ENDPOINT_NAME = "EndpointName"
COMPONENT_NAMES = "InferenceComponentNames"
GENERATION_DEFAULTS = "GenerationDefaultsParameter"
LIFECYCLE_STATE_MACHINE = "LifecycleStateMachineArn"
EVALUATION_STATE_MACHINE = "EvaluationStateMachineArn"
COMPILE_STATE_MACHINE = "CompileStateMachineArn"
STAGING_STATE_MACHINE = "StagingStateMachineArn"
GUARDRAIL_ID = "GuardrailId"
GUARDRAIL_VERSION = "GuardrailVersion"


def deploy_hint(config: AppConfig, unit: str) -> str:
    return f"deploy it with `cdk deploy {config.stack_name(unit)} -c profile={config.profile}`"


@dataclass
class Deployment:
    """The deployed stacks of one profile, read lazily and once."""

    config: AppConfig
    aws: Aws
    _outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    def outputs(self, unit: str) -> dict[str, str]:
        if unit not in self._outputs:
            name = self.config.stack_name(unit)
            try:
                stacks = self.aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
            except ClientError as err:
                if error_code(err) == "ValidationError" and "does not exist" in error_message(err):
                    raise CliError(
                        f"stack {name} is not deployed in {self.aws.region} (profile "
                        f"{self.config.profile!r}): {deploy_hint(self.config, unit)}",
                        ExitCode.NOT_FOUND,
                    ) from None
                raise
            stack = stacks[0]
            if stack["StackStatus"].endswith("_FAILED") or stack["StackStatus"] == "ROLLBACK_COMPLETE":
                raise CliError(
                    f"stack {name} is in state {stack['StackStatus']}: fix the deployment "
                    f"({deploy_hint(self.config, unit)})",
                    ExitCode.NOT_FOUND,
                )
            self._outputs[unit] = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return self._outputs[unit]

    def output(self, unit: str, key: str) -> str:
        outputs = self.outputs(unit)
        if key not in outputs:
            raise CliError(
                f"stack {self.config.stack_name(unit)} has no output {key} (outputs: "
                f"{', '.join(sorted(outputs)) or 'none'}); it was deployed from an older version or with that part "
                f"disabled: {deploy_hint(self.config, unit)}",
                ExitCode.NOT_FOUND,
            )
        return outputs[key]

    def optional_output(self, unit: str, key: str) -> str | None:
        return self.outputs(unit).get(key)


@dataclass(frozen=True)
class ModelDefaults:
    """What the inference stack published about one model: its server, component, window and default settings."""

    key: str
    server: str | None
    component: str | None
    context_window: int | None
    settings: dict[str, Any]


SETTINGS_KEYS = ("temperature", "top_p", "max_new_tokens", "frequency_penalty", "presence_penalty", "stop")


def generation_defaults(deployment: Deployment) -> dict[str, ModelDefaults]:
    """The per-model defaults from the SSM parameter the inference stack names in its outputs."""
    parameter = deployment.optional_output(INFERENCE, GENERATION_DEFAULTS)
    if parameter is None:
        return {}
    try:
        value = deployment.aws.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as err:
        if error_code(err) == "ParameterNotFound":
            raise CliError(
                f"SSM parameter {parameter} (output {GENERATION_DEFAULTS} of "
                f"{deployment.config.stack_name(INFERENCE)}) does not exist: "
                f"{deploy_hint(deployment.config, INFERENCE)}",
                ExitCode.NOT_FOUND,
            ) from None
        raise
    try:
        models = json.loads(value)["models"]
    except (ValueError, KeyError, TypeError):
        raise CliError(
            f'SSM parameter {parameter} does not hold the expected JSON {{"models": {{...}}}}', ExitCode.FAILED
        ) from None
    return {
        key: ModelDefaults(
            key=key,
            server=entry.get("server"),
            component=entry.get("component"),
            context_window=entry.get("context_window"),
            settings={k: entry[k] for k in SETTINGS_KEYS if k in entry},
        )
        for key, entry in models.items()
    }
