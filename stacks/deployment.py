"""Wire the stacks of one profile into an App: the only place that knows which stacks exist."""

from __future__ import annotations

import aws_cdk as cdk

from cdk_constructs.handoffs import EvaluationStage, ServingTarget
from compliance.packs import add_compliance_checks
from config import AppConfig
from sagemaker_requests.run_names import CANDIDATE_PREFIX
from stacks.compile import CompileStack, compilable_models
from stacks.evaluation import EvaluationStack
from stacks.hub_staging import HubStagingStack, staged_models
from stacks.hyperpod import HyperPodStack
from stacks.inference import InferenceStack
from stacks.lifecycle import LifecycleStack
from stacks.platform import PlatformStack


def build_stacks(app: cdk.App, config: AppConfig) -> dict[str, cdk.Stack]:
    env = cdk.Environment(account=config.account, region=config.region)
    platform = PlatformStack(app, config.stack_name("platform"), config=config, env=env)
    stacks: dict[str, cdk.Stack] = {"platform": platform}
    serving: ServingTarget | None = None
    evaluation: EvaluationStage | None = None
    invoke_arns: list[str] = []
    if staged_models(config.inference):  # first: the compile workflow and the endpoint read what it stages
        stacks["staging"] = HubStagingStack(
            app, config.stack_name("staging"), config=config, platform=platform.platform, env=env
        )
    if compilable_models(config.inference):  # before the endpoint that loads what it compiles (docs/compile.md)
        stacks["compile"] = CompileStack(
            app, config.stack_name("compile"), config=config, platform=platform.platform, env=env
        )
    if config.inference is not None:
        inference = InferenceStack(
            app, config.stack_name("inference"), config=config, platform=platform.platform, env=env
        )
        stacks["inference"], serving = inference, inference.serving_target
        invoke_arns = inference.invoke_arns
    if config.evaluation is not None:  # monitoring watches the tabular endpoint its config names
        evaluation_stack = EvaluationStack(
            app,
            config.stack_name("evaluation"),
            config=config,
            platform=platform.platform,
            env=env,
            invoke_arns=invoke_arns,
            # The lifecycle scores its candidate endpoints with these jobs (only when it hosts candidates).
            candidate_endpoint_prefix=CANDIDATE_PREFIX if serving and config.lifecycle.enabled else None,
        )
        stacks["evaluation"], evaluation = evaluation_stack, evaluation_stack.stage
    if config.lifecycle.enabled:  # joins whichever of the inference and evaluation stacks exist
        stacks["lifecycle"] = LifecycleStack(
            app,
            config.stack_name("lifecycle"),
            config=config,
            platform=platform.platform,
            env=env,
            serving=serving,
            evaluation=evaluation,
        )
    if config.hyperpod.enabled:
        stacks["hyperpod"] = HyperPodStack(
            app, config.stack_name("hyperpod"), config=config, platform=platform.platform, env=env
        )
    for key, value in {**config.tags, "profile": config.profile}.items():
        cdk.Tags.of(app).add(key, value)
    add_compliance_checks(app)
    return stacks
