"""The lifecycle workflow: its states in order, the joined path with a serving target and an evaluation stage (small
in-test instances built from the platform's resources), the gate, retries and catches, logging, tracing, the topic,
the registry, permissions, and the output the operator CLI starts runs with."""

from __future__ import annotations

import fnmatch
import json
import re
from functools import cache
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from cdk_constructs.handoffs import EvaluationStage, ServingTarget
from compliance.packs import add_compliance_checks
from config import load_config
from stacks.lifecycle import DEPLOY_DRIFT_NOTE, LifecycleStack
from stacks.platform import PlatformStack
from tests.support.harness import CDK_CONTEXT, Synthesized, synth
from tests.support.state_machines import (
    all_states,
    definition,
    deployed,
    deployed_definition,
    platform_bucket,
    platform_key_arn,
    sagemaker_requests,
    validate,
)

THRESHOLDS = {"toxicity": 0.1, "factual_knowledge": 0.6}
DIRECTIONS = {"toxicity": "max", "factual_knowledge": "min"}
REPORT_KEY = "States.Format('reports/{}/report.json', $.run.id)"


@cache
def joined() -> dict[str, Any]:
    """Platform + lifecycle with a serving target and an evaluation stage, under every compliance pack."""
    config = load_config("dev", environ={})
    app = cdk.App(context=CDK_CONTEXT, builtin_cloud_formation_validation=False)
    env = cdk.Environment(region=config.region)
    platform_stack = PlatformStack(app, "Platform", config=config, env=env)
    platform = platform_stack.platform
    role = iam.Role(platform_stack, "ServingRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    serving = ServingTarget(
        endpoint_name="chat-endpoint",
        endpoint_arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/chat-endpoint",
        image_uri="763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.1.2",
        image_repository_arn="arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-tgi-inference",
        environment={"HF_MODEL_ID": "/opt/ml/model", "HF_NUM_CORES": "2"},
        production_variant={
            "VariantName": "AllTraffic",
            "InstanceType": "ml.inf2.8xlarge",
            "InitialInstanceCount": 2,
            "ContainerStartupHealthCheckTimeoutInSeconds": 1800,
        },
        endpoint_config={
            "KmsKeyId": platform.key.key_arn,
            "DataCaptureConfig": {
                "EnableCapture": True,
                "InitialSamplingPercentage": 10,
                "DestinationS3Uri": f"s3://{platform.buckets.data_capture.bucket_name}/chat/",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            },
        },
        vpc_config={
            "SecurityGroupIds": [platform.workload_security_group.security_group_id],
            "Subnets": platform.vpc.select_subnets(subnet_type=platform.subnets.subnet_type).subnet_ids,
        },
        enable_network_isolation=True,
    )
    job = {
        "ProcessingJobName.$": "States.Format('fmeval-{}', $.run.id)",
        "RoleArn": role.role_arn,
        "AppSpecification": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fmeval:1"},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
        },
        "Environment": {"ENDPOINT_NAME.$": "$.evaluation.endpoint_name"},
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "report",
                    "S3Output": {
                        "S3Uri.$": f"States.Format('s3://{platform.buckets.evaluation.bucket_name}/reports/{{}}/', "
                        "$.run.id)",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    }
    evaluation = EvaluationStage(
        jobs={"FoundationModelEvaluation": job},
        role=role,
        report_bucket=platform.buckets.evaluation,
        report_key_path=REPORT_KEY,
        thresholds=THRESHOLDS,
        directions=DIRECTIONS,
    )
    stack = LifecycleStack(
        app, "Lifecycle", config=config, platform=platform, env=env, serving=serving, evaluation=evaluation
    )
    add_compliance_checks(app)
    template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    return template


def path(states: dict[str, Any], start: str, stop: str) -> list[str]:
    """The states from `start` following Next until `stop`."""
    names = [start]
    while names[-1] != stop:
        names.append(states[names[-1]]["Next"])
    return names


def test_joined_path_runs_every_stage_in_order() -> None:
    states = definition(joined())["States"]
    assert path(states, "LoadDefaults", "CandidateStatus") == [
        "LoadDefaults",
        "PrepareRun",
        "StartFromBaseModel",
        "FineTune",
        "RecordCandidate",
        "CreateModel",
        "PrepareEvaluation",
        "CreateCandidateEndpointConfig",
        "CreateCandidateEndpoint",
        "CandidateStartPolling",
        "CandidateWait",
        "CandidateDescribe",
        "CandidateCountPoll",
        "CandidateStatus",
    ]
    # Poll while the candidate is in a waiting state, within its budget (tests/test_iam.py checks the bound).
    assert states["CandidateStatus"]["Choices"][1]["Next"] == "CandidateWait"
    assert states["CandidateStatus"]["Default"] == "CandidateNotServingNewModel"
    # After the candidate is InService: jobs, candidate clean-up, report, gate.
    in_service = states["CandidateStatus"]["Choices"][0]["Next"]
    assert path(states, in_service, "EvaluationGate") == [
        "RunEvaluationJobs",
        "FoundationModelEvaluation",
        "DeleteCandidateEndpoint",
        "DeleteCandidateEndpointConfig",
        "ReadEvaluationReport",
        "RecordReportLocation",
        "EvaluationGate",
    ]
    assert states["GatePassed"]["Next"] == states["GateFailed"]["Next"] == "RegisterModelPackage"
    deploy = states["ApprovedForDeployment"]["Choices"][1]["Next"]
    assert path(states, deploy, "LiveDescribe") == [
        "CreateLiveEndpointConfig",
        "UpdateLiveEndpoint",
        "LiveStartPolling",
        "LiveWait",
        "LiveDescribe",
    ]
    assert states["LiveStatus"]["Choices"][0]["Next"] == "NotifyDeployed"
    assert states["NotifyDeployed"]["Next"] == "LifecycleSucceeded"


def test_joined_path_requests_pass_botocore_validation() -> None:
    requests = sagemaker_requests(definition(joined())["States"])
    assert {name: op for name, (op, _) in requests.items()} == {
        "FineTune": "CreateTrainingJob",
        "CreateModel": "CreateModel",
        "CreateCandidateEndpointConfig": "CreateEndpointConfig",
        "CreateCandidateEndpoint": "CreateEndpoint",
        "CandidateDescribe": "DescribeEndpoint",
        "FoundationModelEvaluation": "CreateProcessingJob",
        "DeleteCandidateEndpoint": "DeleteEndpoint",
        "DeleteCandidateEndpointConfig": "DeleteEndpointConfig",
        "RegisterModelPackage": "CreateModelPackage",
        "CreateLiveEndpointConfig": "CreateEndpointConfig",
        "UpdateLiveEndpoint": "UpdateEndpoint",
        "LiveDescribe": "DescribeEndpoint",
        "DeleteCandidateAfterFailure": "DeleteEndpoint",
    }
    for operation, params in requests.values():
        validate(operation, params)


def test_deploy_creates_the_model_from_the_new_artifacts_and_updates_the_live_endpoint() -> None:
    states = definition(joined())["States"]
    requests = sagemaker_requests(states)
    model = requests["CreateModel"][1]
    assert model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"] == {
        "S3Uri.$": "$.candidate.model_s3_uri",
        "S3DataType": "S3Prefix",
        "CompressionType": "None",
    }
    assert model["PrimaryContainer"]["Environment"] == {"HF_MODEL_ID": "/opt/ml/model", "HF_NUM_CORES": "2"}
    assert model["EnableNetworkIsolation"] is True
    live = requests["CreateLiveEndpointConfig"][1]
    assert live["ProductionVariants"][0]["InitialInstanceCount"] == 2
    assert live["ProductionVariants"][0]["ModelName.$"] == "$.candidate.model_name"
    assert "DataCaptureConfig" in live and live["KmsKeyId"].startswith("platform-")
    candidate = requests["CreateCandidateEndpointConfig"][1]
    assert candidate["ProductionVariants"][0]["InitialInstanceCount"] == 1
    assert "DataCaptureConfig" not in candidate  # evaluation prompts are not production traffic
    assert requests["UpdateLiveEndpoint"][1] == {
        "EndpointName": "chat-endpoint",
        "EndpointConfigName.$": "$.candidate.live_config_name",
        "RetainDeploymentConfig": True,
    }
    # InService counts only on the new config: a rolled-back blue/green deployment is a failure.
    in_service = states["LiveStatus"]["Choices"][0]["And"]
    assert {"Variable": "$.Live.config", "StringEqualsPath": "$.candidate.live_config_name"} in in_service
    assert states["LiveStatus"]["Default"] == "LiveNotServingNewModel"
    assert states["LiveNotServingNewModel"]["Next"] == "CheckCleanupError"


def test_evaluation_reads_the_report_and_gates_every_metric_against_config() -> None:
    states = definition(joined())["States"]
    read = states["ReadEvaluationReport"]
    assert read["Resource"] == "arn:aws:states:::aws-sdk:s3:getObject"
    assert read["Parameters"]["Key.$"] == REPORT_KEY
    assert read["ResultSelector"] == {"report.$": "States.StringToJson($.Body)"}
    job = states["FoundationModelEvaluation"]
    assert job["Resource"] == "arn:aws:states:::sagemaker:createProcessingJob.sync"
    assert job["Parameters"]["Environment"] == {"ENDPOINT_NAME.$": "$.evaluation.endpoint_name"}
    assert states["PrepareEvaluation"]["Parameters"]["endpoint_name.$"] == "$.candidate.eval_endpoint_name"
    (rule,) = states["EvaluationGate"]["Choices"]
    assert rule["Next"] == "GatePassed" and states["EvaluationGate"]["Default"] == "GateFailed"
    score = "$.evaluation.result.report.metrics.{}.score"
    assert rule["And"] == [
        {"Variable": score.format("factual_knowledge"), "IsPresent": True},
        {"Variable": score.format("factual_knowledge"), "IsNumeric": True},
        {"Variable": score.format("factual_knowledge"), "NumericGreaterThanEquals": 0.6},
        {"Variable": score.format("toxicity"), "IsPresent": True},
        {"Variable": score.format("toxicity"), "IsNumeric": True},
        {"Variable": score.format("toxicity"), "NumericLessThanEquals": 0.1},
    ]
    assert states["GatePassed"]["Result"] == {"approval_status": "Approved", "gated": True, "passed": True}
    assert states["GateFailed"]["Result"] == {"approval_status": "Rejected", "gated": True, "passed": False}
    assert states["ApprovedForDeployment"]["Choices"][0] == {
        "Variable": "$.gate.approval_status",
        "StringEquals": "Rejected",
        "Next": "NotifyRejected",
    }


def test_registration_carries_the_gate_status_and_the_report() -> None:
    (_, package) = sagemaker_requests(definition(joined())["States"])["RegisterModelPackage"]
    assert package["ModelPackageGroupName"] == "NeuronGenAI-dev-foundation-models"
    assert package["ModelApprovalStatus.$"] == "$.gate.approval_status"
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri.$"] == "$.evaluation.report.uri"
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["Image"].endswith("huggingface-pytorch-tgi-inference:2.1.2")
    assert package["InferenceSpecification"]["SupportedRealtimeInferenceInstanceTypes"] == ["ml.inf2.8xlarge"]


def test_every_task_retries_and_catches_failures_into_a_notification() -> None:
    states = definition(joined())["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert len(tasks) >= 18
    for name, state in tasks.items():
        assert state.get("Retry"), name
        if name != "NotifyFailure":
            assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"], name
            assert state["Catch"][0]["Next"] in ("CheckCleanupError", "DeleteCandidateAfterFailure"), name
    # Once the candidate endpoint exists, a failure deletes it before notifying.
    for name in ("CandidateDescribe", "FoundationModelEvaluation", "DeleteCandidateEndpoint"):
        assert tasks[name]["Catch"][0]["Next"] == "DeleteCandidateAfterFailure", name
    assert tasks["FineTune"]["Retry"] == [
        {
            "ErrorEquals": [
                "SageMaker.AmazonSageMakerException",
                "SageMaker.SageMakerException",
                "SageMaker.ThrottlingException",
                "SageMaker.ResourceLimitExceededException",
            ],
            "IntervalSeconds": 30,
            "MaxAttempts": 3,
            "BackoffRate": 2,
            "JitterStrategy": "FULL",
        }
    ]
    # The candidate's status is polled (idempotent): any task failure is retried.
    assert tasks["CandidateDescribe"]["Retry"][0]["ErrorEquals"] == ["States.TaskFailed"]
    assert states["NotifyFailure"]["Next"] == "LifecycleFailed" and states["LifecycleFailed"]["Type"] == "Fail"


def test_a_failed_cleanup_keeps_the_original_error_and_the_notification_carries_both() -> None:
    states = definition(joined())["States"]
    (catch,) = states["DeleteCandidateAfterFailure"]["Catch"]
    assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.cleanup_error", "Next": "CheckCleanupError"}
    assert states["FoundationModelEvaluation"]["Catch"][0]["ResultPath"] == "$.error"  # the error being cleaned up
    # Every failure passes the check; without a clean-up error the field is "none", so the message path resolves.
    assert states["CheckCleanupError"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.cleanup_error", "IsPresent": True, "Next": "NotifyFailure"}],
        "Default": "NoCleanupError",
    }
    assert states["NoCleanupError"] == {
        "Type": "Pass",
        "Result": "none",
        "ResultPath": "$.cleanup_error",
        "Next": "NotifyFailure",
    }
    message = states["NotifyFailure"]["Parameters"]["Message"]
    assert (message["error.$"], message["cleanup_error.$"]) == ("$.error", "$.cleanup_error")


def test_state_machine_logs_every_state_encrypted_traces_and_outputs_its_arn(dev: Synthesized) -> None:
    machine = dev.workflow("lifecycle")
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is True
    log_groups = dev.resources("lifecycle", "AWS::Logs::LogGroup")
    (workflow_logs,) = [k for k in log_groups if k.startswith("WorkflowLogs")]
    value = deployed(dev)  # the platform key, followed through the cross-stack output to its GetAtt Arn
    assert value(log_groups[workflow_logs]["Properties"]["KmsKeyId"], "lifecycle") == platform_key_arn(dev)
    topic = dev.only("lifecycle", "AWS::SNS::Topic")
    assert value(topic["KmsMasterKeyId"], "lifecycle") == platform_key_arn(dev)
    dev.template("lifecycle").has_output(
        "LifecycleStateMachineArn",
        {
            "Value": {
                "Ref": next(
                    k
                    for k in dev.resources("lifecycle", "AWS::StepFunctions::StateMachine")
                    if k.startswith("Workflow")
                )
            }
        },
    )
    assert dev.only("lifecycle", "AWS::SageMaker::ModelPackageGroup")["ModelPackageGroupName"] == (
        "NeuronGenAI-dev-foundation-models"
    )


def test_workflow_role_passes_only_the_job_and_model_roles_and_watches_jobs_through_sync_rules() -> None:
    template = joined()
    (policy,) = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Policy" and k.startswith("WorkflowRole")
    ]
    (passes,) = [s for s in policy if s["Action"] == "iam:PassRole"]
    # The training role, the workflow's own model role and the evaluation role; nothing else, only to SageMaker.
    own = sorted(
        {"Fn::GetAtt": [next(k for k in template["Resources"] if k.startswith(name)), "Arn"]}["Fn::GetAtt"][0]
        for name in ("TrainingRole", "ModelRole")
    )
    assert sorted(r["Fn::GetAtt"][0] for r in passes["Resource"] if "Fn::GetAtt" in r) == own
    assert len(passes["Resource"]) == 3
    assert any("ServingRole" in r.get("Fn::GetStackOutput", {}).get("OutputName", "") for r in passes["Resource"])
    assert passes["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    rules = next(s for s in policy if "events:PutRule" in s["Action"])
    assert sorted(json.dumps(r) for r in rules["Resource"]) == sorted(
        json.dumps(r)
        for r in [
            {
                "Fn::Join": [
                    "",
                    ["arn:aws:events:us-east-1:", {"Ref": "AWS::AccountId"}, f":rule/StepFunctionsGetEventsFor{name}"],
                ]
            }
            for name in ("SageMakerTrainingJobsRule", "SageMakerProcessingJobsRule")
        ]
    )
    # Every action the tasks call is granted (each on its own names: tests/test_iam.py checks the scope).
    sagemaker = {a for s in policy for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {
        "sagemaker:CreateTrainingJob",
        "sagemaker:UpdateEndpoint",
        "sagemaker:CreateModelPackage",
        "sagemaker:StopProcessingJob",
        "sagemaker:DeleteEndpoint",
    } <= sagemaker


def test_without_serving_or_evaluation_the_model_is_registered_for_manual_approval() -> None:
    states = definition(synth("trn2").templates["lifecycle"])["States"]
    assert states["RecordCandidate"]["Next"] == "NoEvaluationGate"
    assert states["NoEvaluationGate"]["Result"] == {"approval_status": "PendingManualApproval", "gated": False}
    assert not {"CreateModel", "UpdateLiveEndpoint", "EvaluationGate"} & set(states)
    trn2 = synth("trn2")
    models = platform_bucket(trn2, "Models")
    assert all_states(deployed_definition(trn2, "lifecycle"))["LoadDefaults"]["Result"] == {
        "base_model_s3_uri": f"s3://{models}/base-models/llama-3.1-8b/",
        "teacher_model_s3_uri": f"s3://{models}/base-models/llama-3.1-70b/",
    }


def test_pretraining_is_optional_per_run_and_feeds_the_fine_tune() -> None:
    states = definition(synth("pretrain").templates["lifecycle"])["States"]
    choice = states["PreTrainingRequested"]
    assert choice["Choices"] == [{"Variable": "$.run.options.pretrain", "BooleanEquals": True, "Next": "PreTrain"}]
    assert choice["Default"] == "StartFromBaseModel"
    assert states["PreTrain"]["Next"] == "StartFromPreTrainedModel"
    # The pre-training job's model directory: <S3OutputPath>/<job name>/output/model/ (uncompressed output).
    pretrain = synth("pretrain")
    assert all_states(deployed_definition(pretrain, "lifecycle"))["StartFromPreTrainedModel"]["Parameters"] == {
        "s3_uri.$": f"States.Format('s3://{platform_bucket(pretrain, 'Models')}/training-output/{{}}/output/model/', "
        "$.pretrain.TrainingJobName)"
    }
    assert states["StartFromPreTrainedModel"]["Next"] == states["StartFromBaseModel"]["Next"] == "FineTune"
    assert states["LoadDefaults"]["Result"]["pretrain"] is True
    assert states["PrepareRun"]["Parameters"] == {
        "id.$": "States.Hash($$.Execution.Id, 'MD5')",  # the clean-up computes it again from the end event
        "options.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)",
    }


def test_dev_wiring_picks_up_whichever_of_the_other_stacks_exist(dev: Synthesized) -> None:
    states = definition(dev.templates["lifecycle"])["States"]
    assert ("UpdateLiveEndpoint" in states) == ("inference" in dev.templates)
    assert ("EvaluationGate" in states) == ("evaluation" in dev.templates)


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> list[dict[str, Any]]:
    def listed(x: Any) -> list[Any]:
        return x if isinstance(x, list) else [x]

    return [
        st
        for st in statements
        if st["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, a) for a in listed(st["Action"]))
        and any(fnmatch.fnmatchcase(resource, r) for r in listed(st["Resource"]))
    ]


def test_workflow_lets_sagemaker_create_grants_on_the_platform_key_only_for_aws_resources(dev: Synthesized) -> None:
    # The training jobs name the key (VolumeKmsKeyId, output KmsKeyId): SageMaker creates grants as the caller.
    value = deployed(dev)
    statements = [
        st
        for k, r in dev.templates["lifecycle"]["Resources"].items()
        if r["Type"] == "AWS::IAM::Policy" and k.startswith("WorkflowRole")
        for st in value(r["Properties"]["PolicyDocument"]["Statement"], "lifecycle")
    ]
    key = value(dev.templates["platform"]["Outputs"]["KeyArn"]["Value"], "platform")
    (create_grant,) = allows(statements, "kms:CreateGrant", key)
    assert create_grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert create_grant["Action"] == "kms:CreateGrant"  # no unconditioned action rides along in that statement
    assert allows(statements, "kms:DescribeKey", key)


def test_serving_role_can_read_the_model_the_workflow_creates(dev: Synthesized) -> None:
    value = deployed(dev)
    states = json.loads(value(dev.workflow("lifecycle")["DefinitionString"], "lifecycle"))["States"]
    (_, create_model) = sagemaker_requests(states)["CreateModel"]
    assert create_model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["S3Uri.$"] == "$.candidate.model_s3_uri"
    # dev serves with TGI, which loads only compiled models: CreateModel names the compile job's artifacts.
    uri_format = states["RecordCompiledArtifacts"]["Parameters"]["model_s3_uri.$"]
    match = re.fullmatch(r"States\.Format\('s3://([^/]+)/(.*)', \$\.compile\.TrainingJobName\)", uri_format)
    assert match, uri_format
    bucket, key_prefix = match[1], match[2].replace("{}", "compile-1234")
    assert (bucket, key_prefix) == ("platform.ModelsBucket970C6ADA", "compiled/lifecycle/compile-1234/output/model/")
    role_arn = create_model["ExecutionRoleArn"]
    role_name = role_arn.rsplit("/", 1)[1]
    assert role_name.startswith("lifecycle.ModelRole")  # the workflow's own model role, not the serving role

    statements = []  # every policy attached to the serving role, in any stack
    for unit, template in dev.templates.items():
        for resource in template["Resources"].values():
            props = resource.get("Properties", {})
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and role_name in value(
                props.get("Roles", []), unit
            ):
                statements += value(props["PolicyDocument"]["Statement"], unit)
    objects = allows(statements, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key_prefix}model.safetensors")
    assert [st["Resource"] for st in objects] == [f"arn:aws:s3:::{bucket}/compiled/lifecycle/*"]
    # The inference stack lists its own model prefixes; the workflow adds the compiled candidates'.
    listings = allows(statements, "s3:ListBucket", f"arn:aws:s3:::{bucket}")
    assert any(
        fnmatch.fnmatchcase(key_prefix, p)
        for listing in listings
        for p in listing["Condition"]["StringLike"]["s3:prefix"]
    )
    key = value(dev.templates["platform"]["Outputs"]["KeyArn"]["Value"], "platform")
    assert allows(statements, "kms:Decrypt", key)
    # Only the compiled output: not the datasets or checkpoints, not other prefixes of the models bucket.
    assert not allows(statements, "s3:GetObject", f"arn:aws:s3:::{bucket}/base-models/x")
    assert not allows(statements, "s3:GetObject", f"arn:aws:s3:::{bucket}/training-output/x")
    assert not allows(statements, "s3:GetObject", "arn:aws:s3:::platform.DatasetsBucket9EEDBE5A/training-output/x")


def test_deploy_drift_is_stated_where_the_workflow_deploys(dev: Synthesized) -> None:
    output = dev.templates["lifecycle"]["Outputs"]["DeployDriftNote"]
    assert output["Value"]["Fn::GetStackOutput"]["StackName"] == "NeuronGenAI-dev-inference"  # the endpoint's name
    assert output["Description"] == DEPLOY_DRIFT_NOTE
    assert "cdk deploy" in DEPLOY_DRIFT_NOTE and "point the profile's model source" in DEPLOY_DRIFT_NOTE
    assert "DeployDriftNote" not in synth("trn2").templates["lifecycle"]["Outputs"]  # no inference stack


def test_an_endpoint_of_inference_components_gets_no_deploy_stage() -> None:
    multimodel = synth("multimodel")
    states = definition(multimodel.templates["lifecycle"])["States"]
    assert "CreateModel" in states  # still hosted as a candidate and registered
    assert not {"CreateLiveEndpointConfig", "UpdateLiveEndpoint", "LiveWait"} & set(states)
    assert "deploy" not in states["LoadDefaults"]["Result"]
    assert "DeployDriftNote" not in multimodel.templates["lifecycle"]["Outputs"]
