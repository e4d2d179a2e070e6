"""Pre-flight rules of training jobs, the lifecycle and HyperPod: each rejects a bad value with the message a user
reads (setting path, bad value, numbers, fix)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from config import ConfigError, load_config
from config.training import MAX_RUNTIME_SECONDS
from tests.support.state_machines import sagemaker_model

PLAN = "arn:aws:sagemaker:us-east-1:123456789012:training-plan/p1"
BAD_PREFIX = (
    "not a models-bucket key prefix: use letters, digits and !_.*'()/-, no leading '/', ending in '/', "
    "without s3:// or the bucket name; e.g. base-models/llama-3.1-8b/"
)
CONTROLLER = {"name": "c", "node_type": "controller", "instance_type": "ml.m5.xlarge", "instance_count": 1}


def error(overrides: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config("dev", overrides, environ={})
    return str(raised.value)


def fine_tune_error(**settings: Any) -> str:
    return error({"lifecycle": {"fine_tune": settings}})


TRAINING_RULES = [
    pytest.param(
        {"instance_type": "ml.inf2.xlarge"},
        "lifecycle.fine_tune.instance_type = 'ml.inf2.xlarge': ml.inf2.xlarge is an Inferentia instance; "
        "training runs only on Trainium: ml.trn1.2xlarge, ml.trn1.32xlarge, ml.trn1n.32xlarge, "
        "ml.trn2.48xlarge",
        id="trainium-only",
    ),
    pytest.param(
        {"container": "tgi-neuronx"},
        "lifecycle.fine_tune.container = 'tgi-neuronx': container 'tgi-neuronx' cannot run the training entry "
        "point: train.py trains with optimum-neuron 0.4.1, which only hf-training-neuronx ships",
        id="neuronx-training-image",
    ),
    pytest.param(
        {"container": "pytorch-training-neuronx"},
        "lifecycle.fine_tune.container = 'pytorch-training-neuronx': container 'pytorch-training-neuronx' cannot "
        "run the training entry point: train.py trains with optimum-neuron 0.4.1, which only hf-training-neuronx "
        "ships (pytorch-training-neuronx has NxD Training but no optimum-neuron); use hf-training-neuronx",
        id="image-with-optimum-neuron",
    ),
    pytest.param(
        {"instance_type": "ml.trn2.48xlarge", "tensor_parallel_degree": 8},
        "lifecycle.fine_tune.instance_type = 'ml.trn2.48xlarge': container hf-training-neuronx on ml.trn2.48xlarge: "
        "the image's training stack is tested only on trn1, trn1n (aws/deep-learning-containers ed7cbf3a "
        "test/sagemaker_tests/huggingface_pytorch/training/conftest.py L90; huggingface/optimum-neuron v0.4.1 "
        ".github/workflows/test_trainium_training.yml L33-34); use ml.trn1.2xlarge, ml.trn1.32xlarge, "
        "ml.trn1n.32xlarge",
        id="hf-image-not-on-trn2",
    ),
    pytest.param(
        {"model": "mistral-7b"},
        "lifecycle.fine_tune.model = 'mistral-7b': model 'mistral-7b' is not an architecture optimum-neuron 0.4.1 "
        "trains with tensor parallelism (llama, granite, qwen3); trainable presets: llama-3.1-8b, llama-3.1-70b, "
        "llama-3.2-3b",
        id="trainable-architecture",
    ),
    pytest.param({"model": "gpt-9"}, "model preset 'gpt-9' is unknown; known presets:", id="unknown-model"),
    pytest.param(
        {"sequence_length": 200000},
        "lifecycle.fine_tune.sequence_length = 200000: sequence_length 200000 exceeds the 131072 positions of "
        "model llama-3.1-8b; lower sequence_length",
        id="sequence-within-positions",
    ),
    pytest.param(
        {"hyperparameters": {"tensor_parallel_size": 8, "per_device_train_batch_size": 4}},
        "per_device_train_batch_size, tensor_parallel_size: set by the job's typed settings, which the memory "
        "pre-flight checks (per_device_train_batch_size -> micro_batch_size, tensor_parallel_size -> "
        "tensor_parallel_degree); remove the hyperparameter and use the setting",
        id="derived-hyperparameters",
    ),
    pytest.param(
        {"instance_count": 2},
        "instance_count = 2 on instance_type ml.trn1.2xlarge: multi-node training needs EFA and "
        "ml.trn1.2xlarge has none; use instance_count 1 or an EFA instance type (ml.trn1.32xlarge, "
        "ml.trn1n.32xlarge, ml.trn2.48xlarge)",
        id="multi-node-needs-efa-type",
    ),
    pytest.param(
        {
            "instance_type": "ml.trn1.32xlarge",
            "instance_count": 2,
            "tensor_parallel_degree": 8,
            "efa_security_group": False,
        },
        "lifecycle.fine_tune.efa_security_group = False: efa_security_group = false with instance_count = "
        "2: EFA between the 2 nodes needs the platform's EFA security group",
        id="multi-node-needs-efa-sg",
    ),
    pytest.param(
        {"tensor_parallel_degree": 8},
        "lifecycle.fine_tune.tensor_parallel_degree = 8: tensor_parallel_degree = 8 on instance_type "
        "ml.trn1.2xlarge (2 NeuronCores per node): the degree must be one of 1, 2",
        id="tp-within-node",
    ),
    pytest.param(
        {"instance_type": "ml.trn1.32xlarge", "tensor_parallel_degree": 4},
        "the degree must be one of 1, 2, 8, 16, 32 (the trn1 collectives' ring sizes",
        id="tp-ring-size",
    ),
    pytest.param(
        {"instance_type": "ml.trn1.32xlarge", "tensor_parallel_degree": 8, "pipeline_parallel_degree": 3},
        "lifecycle.fine_tune.pipeline_parallel_degree = 3: tensor_parallel_degree 8 x pipeline_parallel_degree"
        " 3 = 24 does not divide the 32 NeuronCores of instance_count 1 x ml.trn1.32xlarge (32 each); choose "
        "degrees whose product divides 32",
        id="tp-x-pp-divides-cores",
    ),
    pytest.param(
        {"spot": True, "checkpoints": False, "max_wait_seconds": 30000},
        "lifecycle.fine_tune.spot = True: spot = true with checkpoints = false: an interrupted spot job "
        "restarts from step 0; set checkpoints to true (CheckpointConfig) or spot to false",
        id="spot-needs-checkpoints",
    ),
    pytest.param(
        {"spot": True},
        "lifecycle.fine_tune.max_wait_seconds = None: spot = true needs max_wait_seconds "
        "(MaxWaitTimeInSeconds) >= max_runtime_seconds (14400); set max_wait_seconds, e.g. to 28800",
        id="spot-needs-max-wait",
    ),
    pytest.param(
        {"spot": True, "max_wait_seconds": 3600},
        "lifecycle.fine_tune.max_wait_seconds = 3600: max_wait_seconds = 3600 is below max_runtime_seconds "
        "= 14400; SageMaker needs MaxWaitTimeInSeconds >= MaxRuntimeInSeconds: raise max_wait_seconds to at "
        "least 14400",
        id="max-wait-below-runtime",
    ),
    pytest.param(
        {"max_wait_seconds": 30000},
        "max_wait_seconds = 30000 applies only to managed spot training; set spot to true or remove max_wait_seconds",
        id="max-wait-without-spot",
    ),
    pytest.param(
        {"spot": True, "max_wait_seconds": 30000, "keep_alive_seconds": 600},
        "lifecycle.fine_tune.keep_alive_seconds = 600: keep_alive_seconds = 600 with spot = true: SageMaker "
        "managed warm pools cannot be used with spot instances",
        id="no-warm-pool-on-spot",
    ),
    pytest.param(
        # ResourceConfig.KeepAlivePeriodInSeconds: max 21600 in botocore 1.44.8's SageMaker service model.
        {"keep_alive_seconds": 21601},
        "lifecycle.fine_tune.keep_alive_seconds = 21601: Input should be less than or equal to 21600",
        id="warm-pool-limit",
    ),
    pytest.param(
        {"spot": True, "max_wait_seconds": 30000, "training_plan_arn": PLAN},
        "training_plan_arn with spot = true: a training plan runs on reserved capacity",
        id="plan-not-spot",
    ),
    pytest.param(
        {"training_plan_arn": "arn:aws:sagemaker:us-east-1:123:plan/x"},
        "lifecycle.fine_tune.training_plan_arn = 'arn:aws:sagemaker:us-east-1:123:plan/x': String should match pattern",
        id="plan-arn-shape",
    ),
    pytest.param(
        {"encrypt_volume_with_platform_key": True},
        "lifecycle.fine_tune.encrypt_volume_with_platform_key = True: instance_type ml.trn1.2xlarge has 474 GB"
        " of local NVMe storage and SageMaker rejects VolumeKmsKeyId on instance types with local NVMe",
        id="no-volume-key-on-nvme",
    ),
    pytest.param(
        {"network_isolation": True},
        "network_isolation = true with persistent_compile_cache = true: an isolated container cannot reach "
        "the S3 compile cache (NEURON_COMPILE_CACHE_URL)",
        id="isolation-vs-s3-cache",
    ),
    # 28 days: botocore 1.44.8 sagemaker service model, StoppingCondition.MaxRuntimeInSeconds documentation ("The
    # maximum value is 28 days"; the shape itself has no max); test_the_runtime_limit_is_the_service_models.
    pytest.param(
        {"max_runtime_seconds": 3000000},
        "lifecycle.fine_tune.max_runtime_seconds = 3000000: 3000000 s is above SageMaker's limit of 2419200 s "
        "(28 days) per training job",
        id="runtime-limit",
    ),
    pytest.param(
        {"spot": True, "max_runtime_seconds": 86400, "max_wait_seconds": 3000000},
        "max_wait_seconds = 3000000 is above SageMaker's limit of 2419200 s",
        id="max-wait-limit",
    ),
    pytest.param(
        {"entry_point": "missing.py"},
        "lifecycle.fine_tune.entry_point = 'missing.py': no Python file 'missing.py' in",
        id="entry-point",
    ),
    pytest.param(
        {"hyperparameters": {"sagemaker_program": "x.py"}},
        "sagemaker_program: the sagemaker_ prefix is reserved for the training toolkit's own settings",
        id="reserved-hyperparameter",
    ),
    pytest.param(
        {"channels": {"teacher": {"prefix": "x/"}}},
        "channel 'teacher' is filled by the lifecycle workflow (code, model, teacher are reserved)",
        id="reserved-channel",
    ),
    pytest.param(
        {"compiler_flags": ["--cache_dir=/tmp/x"]},
        "'--cache_dir=/tmp/x': the compile cache location is set by persistent_compile_cache",
        id="compiler-cache-flag",
    ),
]


@pytest.mark.parametrize(("settings", "message"), TRAINING_RULES)
def test_training_preflight_rule(settings: dict[str, Any], message: str) -> None:
    assert message in fine_tune_error(**settings)


def test_rules_apply_to_the_pretraining_job_too() -> None:
    message = error(
        {
            "lifecycle": {
                "pretrain": {
                    "instance_type": "ml.trn1.32xlarge",
                    "instance_count": 4,
                    "tensor_parallel_degree": 8,
                    "pipeline_parallel_degree": 3,
                }
            }
        }
    )
    assert (
        "lifecycle.pretrain.pipeline_parallel_degree = 3: tensor_parallel_degree 8 x pipeline_parallel_degree 3 = "
        "24 does not divide the 128 NeuronCores of instance_count 4 x ml.trn1.32xlarge" in message
    )


def test_valid_multi_node_spot_job_derives_its_parallel_layout() -> None:
    job = load_config("pretrain", environ={}).lifecycle.pretrain
    assert job is not None
    assert (job.total_neuron_cores, job.data_parallel_degree, job.attach_efa_security_group) == (128, 16, True)
    prod = load_config("prod", environ={}).lifecycle.fine_tune
    assert prod.spot and prod.max_wait_seconds is not None and prod.max_wait_seconds >= prod.max_runtime_seconds
    assert prod.longest_seconds == 172800


HYPERPOD_RULES = [
    pytest.param(
        [CONTROLLER, {"name": "w", "instance_type": "ml.inf2.48xlarge", "instance_count": 1}],
        "hyperpod.groups.1.instance_type = 'ml.inf2.48xlarge': node_type compute with instance_type "
        "ml.inf2.48xlarge: compute groups train on Trainium",
        id="compute-on-trainium",
    ),
    pytest.param(
        [
            {**CONTROLLER, "instance_type": "ml.trn1.2xlarge"},
            {"name": "w", "instance_type": "ml.trn1.32xlarge", "instance_count": 1},
        ],
        "node_type controller with instance_type ml.trn1.2xlarge: Slurm controller nodes run no training; "
        "use a CPU type",
        id="controller-on-cpu",
    ),
    pytest.param(
        [{"name": "w", "instance_type": "ml.trn1.32xlarge", "instance_count": 2}],
        "Slurm needs exactly one controller group with instance_count 1; found: none",
        id="one-controller",
    ),
    pytest.param(
        [CONTROLLER, {**CONTROLLER, "node_type": "compute", "instance_type": "ml.trn1.32xlarge"}],
        "instance group names must be unique; repeated: c",
        id="unique-names",
    ),
    pytest.param(
        [CONTROLLER, {"name": "w", "instance_type": "ml.trn1.2xlarge", "instance_count": 2}],
        "group w: instance_count 2 of ml.trn1.2xlarge, which has no EFA; multi-node Trainium training needs "
        "EFA: use ml.trn1.32xlarge, ml.trn1n.32xlarge, ml.trn2.48xlarge, or instance_count 1",
        id="multi-node-group-needs-efa",
    ),
    pytest.param(
        [
            {**CONTROLLER, "training_plan_arn": PLAN},
            {"name": "w", "instance_type": "ml.trn1.32xlarge", "instance_count": 1},
        ],
        "hyperpod.groups.0.training_plan_arn = '" + PLAN + "': training_plan_arn on a controller group: "
        "training plans reserve accelerated capacity; set it on a compute group",
        id="plan-on-compute",
    ),
    pytest.param([CONTROLLER], "add at least one compute group", id="needs-compute"),
]


@pytest.mark.parametrize(("groups", "message"), HYPERPOD_RULES)
def test_hyperpod_rule(groups: list[dict[str, Any]], message: str) -> None:
    assert message in error({"hyperpod": {"enabled": True, "groups": groups}})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param(
            {"package_instance_type": "ml.trn1.2xlarge"},
            "lifecycle.package_instance_type = 'ml.trn1.2xlarge': ml.trn1.2xlarge is a trainium instance; a "
            "model package is served on Inferentia",
            id="package-on-inferentia",
        ),
        pytest.param({"notification_emails": ["ops"]}, "'ops' is not an e-mail address", id="email"),
        pytest.param(
            {"distillation_teacher_prefix": "/abs/"},
            f"lifecycle.distillation_teacher_prefix = '/abs/': {BAD_PREFIX}",
            id="teacher-prefix-leading-slash",
        ),
        pytest.param(
            {"base_model_prefix": "s3://models/llama"},
            f"lifecycle.base_model_prefix = 's3://models/llama': {BAD_PREFIX}",
            id="base-model-prefix-uri",
        ),
        pytest.param(
            {"base_model_prefix": "base-models/llama"},
            f"lifecycle.base_model_prefix = 'base-models/llama': {BAD_PREFIX}",
            id="base-model-prefix-no-slash",
        ),
        pytest.param(
            {"model_package_group": "models_v1"},
            "lifecycle.model_package_group = 'models_v1': start and end "
            "with a letter or digit, hyphens only in between, at most 41 letters and digits; e.g. "
            "foundation-models",
            id="package-group-pattern",
        ),
        pytest.param(
            {"model_package_group": "models-"},
            "lifecycle.model_package_group = 'models-': start and end",
            id="package-group-trailing-hyphen",
        ),
        pytest.param(
            {"endpoint_poll_seconds": 5},
            "lifecycle.endpoint_poll_seconds = 5: Input should be greater than or equal to 10",
            id="poll-at-least-10s",
        ),
        pytest.param(
            {"endpoint_poll_seconds": 901},
            "lifecycle.endpoint_poll_seconds = 901: Input should be less than or equal to 900",
            id="poll-at-most-900s",
        ),
        pytest.param(
            {"pretrain": {"instance_type": "ml.trn1.32xlarge", "tensor_parallel_degree": 8, "method": "lora"}},
            "lifecycle.pretrain = {'instance_type': 'ml.trn1.32xlarge', 'tensor_parallel_degree': 8, 'method': "
            "'lora'}: pretrain.method = lora: pre-training trains every weight; set method: full",
            id="pretrain-is-full",
        ),
        pytest.param(
            {"distillation_teacher_prefix": "base-models/llama-3.1-70b/"},
            "lifecycle.distillation_teacher_prefix = 'base-models/llama-3.1-70b/': distillation_teacher_prefix "
            "'base-models/llama-3.1-70b/' without fine_tune.teacher_model: the memory pre-flight sizes the teacher "
            "from its preset; set fine_tune.teacher_model (e.g. llama-3.1-70b)",
            id="teacher-prefix-needs-teacher-model",
        ),
        pytest.param(
            {"fine_tune": {"teacher_model": "llama-3.2-3b"}},
            "fine_tune.teacher_model = llama-3.2-3b without distillation_teacher_prefix: the job gets no teacher "
            "weights",
            id="teacher-model-needs-prefix",
        ),
        pytest.param(
            {"training_log_group": "create"},
            "lifecycle.training_log_group: unknown key; allowed here: approval, base_model_prefix, deploy,",
            id="no-training-log-group-option",
        ),
    ],
)
def test_lifecycle_rule(settings: dict[str, Any], message: str) -> None:
    assert message in error({"lifecycle": settings})


def test_model_package_group_name_fits_sagemakers_63_characters() -> None:
    group = "a" * 41  # the longest the pattern allows; with NeuronGenAI-dev- it is 57 characters
    assert load_config("dev", {"lifecycle": {"model_package_group": group}}, environ={})
    message = error({"stack_prefix": "NeuronGenAIPlatformTeam", "lifecycle": {"model_package_group": group}})
    assert message == (
        "invalid configuration in dev.yaml (profile 'dev'):\n"
        f"  - lifecycle.model_package_group = '{group}': the model package group name "
        f"'NeuronGenAIPlatformTeam-dev-{group}' (stack_prefix-profile-lifecycle.model_package_group) has 69 "
        "characters, SageMaker allows 63; shorten lifecycle.model_package_group, stack_prefix or the profile name"
    )


def test_lifecycle_deploy_is_refused_on_an_endpoint_of_inference_components() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config("multimodel", {"lifecycle": {"deploy": True}}, environ={})
    assert str(raised.value) == (
        "invalid configuration in multimodel.yaml (profile 'multimodel'):\n"
        "  - lifecycle.deploy = True: the deploy stage with inference.inference_components = true: it updates the "
        "endpoint to a config with one single-model variant (UpdateEndpoint), which fails on an endpoint that hosts "
        "inference components or removes them; set lifecycle.deploy: false (the workflow still evaluates and "
        "registers the model; deploy it as its own inference component by hand)"
    )
    # The same settings pass when the lifecycle does not deploy, or does not exist.
    assert not load_config("multimodel", environ={}).lifecycle.deploy
    assert load_config("multimodel", {"lifecycle": {"deploy": True, "enabled": False}}, environ={})


def test_the_runtime_limit_is_the_service_models() -> None:
    """The 28-day limit config/training.py enforces is the one the installed botocore documents for the member."""
    member = sagemaker_model().shape_for("StoppingCondition").members["MaxRuntimeInSeconds"]
    days = re.search(r"The maximum value is (\d+) days", member.documentation)
    assert days and int(days[1]) * 24 * 3600 == MAX_RUNTIME_SECONDS == 2_419_200
