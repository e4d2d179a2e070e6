"""Facts about Neuron hardware, regions and container images: one place, each fact with its source and date.

Everything that sizes, validates or names an image reads from here, so a corrected fact is corrected everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from neuron.errors import UserError

CHECKED = "2026-11"

# --------------------------------------------------------------------------------------------------------------------
# Instances
# --------------------------------------------------------------------------------------------------------------------
SOURCE_INF = "https://aws.amazon.com/ec2/instance-types/inf2/ and /inf1/ (checked 2026-11)"
SOURCE_TRN = "https://aws.amazon.com/ec2/instance-types/trn1/ and /trn2/ (checked 2026-11)"
SOURCE_NEURON_ARCH = (
    "https://awsdocs-neuron.readthedocs-hosted.com/en/latest/general/arch/neuron-hardware/ (checked 2026-11)"
)


@dataclass(frozen=True)
class InstanceSpec:
    """One SageMaker ML instance type with Neuron accelerators."""

    name: str
    family: str  # inf1 | inf2 | trn1 | trn1n | trn2
    chips: int
    neuron_cores: int  # logical NeuronCores a process can address (trn2: LNC=2, the default)
    accelerator_memory_gib: int  # device memory (HBM on inf2/trn; DRAM on inf1) across all chips
    host_memory_gib: int
    vcpus: int
    efa_gbps: int  # 0 = no EFA
    local_nvme_gb: int  # 0 = EBS only; >0 means SageMaker rejects a volume KMS key
    source: str

    @property
    def memory_per_core_gib(self) -> float:
        return self.accelerator_memory_gib / self.neuron_cores

    @property
    def accelerator(self) -> str:
        return "trainium" if self.family.startswith("trn") else "inferentia"

    @property
    def memory_gbps_per_core(self) -> float | None:
        """Device-memory bandwidth one NeuronCore reads at (its chip's share); None where the catalog has no figure."""
        per_chip = HBM_GBPS_PER_CHIP.get(self.family)
        return None if per_chip is None else per_chip * self.chips / self.neuron_cores

    @property
    def container_family(self) -> str:
        """Neuron SDK v1 images (`neuron`) run only on inf1; everything newer needs `neuronx`."""
        return "neuron" if self.family == "inf1" else "neuronx"


def _spec(
    name: str, family: str, chips: int, cores: int, mem: int, host: int, vcpus: int, efa: int, nvme: int, source: str
) -> InstanceSpec:
    return InstanceSpec(name, family, chips, cores, mem, host, vcpus, efa, nvme, source)


INSTANCES: dict[str, InstanceSpec] = {
    s.name: s
    for s in (
        # Inferentia1: 4 NeuronCore-v1 and 8 GiB DRAM per chip.
        _spec("ml.inf1.xlarge", "inf1", 1, 4, 8, 8, 4, 0, 0, SOURCE_INF),
        _spec("ml.inf1.2xlarge", "inf1", 1, 4, 8, 16, 8, 0, 0, SOURCE_INF),
        _spec("ml.inf1.6xlarge", "inf1", 4, 16, 32, 48, 24, 0, 0, SOURCE_INF),
        _spec("ml.inf1.24xlarge", "inf1", 16, 64, 128, 192, 96, 0, 0, SOURCE_INF),
        # Inferentia2: 2 NeuronCore-v2 and 32 GiB HBM per chip (16 GiB per core).
        _spec("ml.inf2.xlarge", "inf2", 1, 2, 32, 16, 4, 0, 0, SOURCE_INF),
        _spec("ml.inf2.8xlarge", "inf2", 1, 2, 32, 128, 32, 0, 0, SOURCE_INF),
        _spec("ml.inf2.24xlarge", "inf2", 6, 12, 192, 384, 96, 0, 0, SOURCE_INF),
        _spec("ml.inf2.48xlarge", "inf2", 12, 24, 384, 768, 192, 0, 0, SOURCE_INF),
        # Trainium1: 2 NeuronCore-v2 and 32 GiB HBM per chip.
        _spec("ml.trn1.2xlarge", "trn1", 1, 2, 32, 32, 8, 0, 474, SOURCE_TRN),
        _spec("ml.trn1.32xlarge", "trn1", 16, 32, 512, 512, 128, 800, 7600, SOURCE_TRN),
        _spec("ml.trn1n.32xlarge", "trn1n", 16, 32, 512, 512, 128, 1600, 7600, SOURCE_TRN),
        # Trainium2: 8 NeuronCore-v3 and 96 GiB HBM per chip; logical core size 2 by default -> 64 cores of 24 GiB.
        _spec("ml.trn2.48xlarge", "trn2", 16, 64, 1536, 2048, 192, 3200, 7600, SOURCE_TRN),
    )
}

# Tensor-parallel degrees the Neuron runtimes support per instance family (collectives need these ring sizes).
TENSOR_PARALLEL_DEGREES: dict[str, tuple[int, ...]] = {
    "inf1": (1, 2, 4, 8, 16),  # NeuronCore pipeline / group sizes for neuron-cc compiled models
    "inf2": (1, 2, 4, 8, 12, 24),
    "trn1": (1, 2, 8, 16, 32),
    "trn1n": (1, 2, 8, 16, 32),
    "trn2": (1, 2, 4, 8, 16, 32, 64),
}
TENSOR_PARALLEL_SOURCE = (
    "Neuron docs, transformers-neuronx / NxD Inference and NxD Training parallelism guides (checked 2026-11)"
)

# Device-memory (HBM) bandwidth per chip in GB/s (10^9 bytes): Inferentia2 and Trainium1 820 GB/s (inf2.48xlarge lists
# 9.8 TB/s for 12 chips, trn1.32xlarge 13.1 TB/s for 16), Trainium2 2.9 TB/s (trn2.48xlarge lists 46 TB/s for 16).
# Inf1 keeps weights in on-chip cache and DRAM: no figure, so nothing bandwidth-bound is estimated for it.
HBM_GBPS_PER_CHIP: dict[str, float] = {"inf2": 820.0, "trn1": 820.0, "trn1n": 820.0, "trn2": 2900.0}
HBM_BANDWIDTH_SOURCE = "https://aws.amazon.com/ec2/instance-types/inf2/, /trn1/, /trn2/ (checked 2026-11)"


class UnknownInstanceTypeError(UserError):
    pass


def instance(name: str) -> InstanceSpec:
    """The catalog entry for an instance type, or an error that lists the ones the catalog knows."""
    try:
        return INSTANCES[name]
    except KeyError:
        raise UnknownInstanceTypeError(
            f"instance type {name!r} is not in the Neuron catalog; known: {', '.join(INSTANCES)}"
        ) from None


# --------------------------------------------------------------------------------------------------------------------
# Regions and registry accounts
# --------------------------------------------------------------------------------------------------------------------
# The regions SageMaker serves outside the isolated partitions (SageMaker endpoints page, checked 2026-11).
SAGEMAKER_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-east-1",
    "us-gov-west-1",
)
SAGEMAKER_REGIONS_SOURCE = "https://docs.aws.amazon.com/general/latest/gr/sagemaker.html (checked 2026-11)"

# Deep learning container registry accounts for the regions aws-cdk-lib's region facts
# (FactName.DLC_REPOSITORY_ACCOUNT) lack; for every other region the CDK fact is used.
DLC_ACCOUNTS_NOT_IN_CDK: dict[str, str] = {
    "af-south-1": "626614931356",
    "ap-northeast-3": "364406365360",
    "ap-southeast-5": "550225433462",
    "ap-southeast-7": "590183813437",
    "ca-west-1": "204538143572",
    "il-central-1": "780543022126",
    "mx-central-1": "637423239942",
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
}
DLC_ACCOUNTS_SOURCE = (
    "aws/sagemaker-python-sdk src/sagemaker/image_uri_config/huggingface-neuronx.json 'registries' and "
    "aws/deep-learning-containers available_images.md (checked 2026-11)"
)

SDK_IMAGE_URI_CONFIG = (
    "aws/sagemaker-python-sdk v3.20.0 (10ada9be, 2026-08-14) sagemaker-core/src/sagemaker/core/image_uri_config"
)

# SageMaker Clarify processing image `sagemaker-clarify-processing:1.0`: a different account in every region.
CLARIFY_IMAGE_REPOSITORY = "sagemaker-clarify-processing"
CLARIFY_IMAGE_TAG = "1.0"
CLARIFY_ACCOUNTS: dict[str, str] = {
    "af-south-1": "811711786498",
    "ap-east-1": "098760798382",
    "ap-northeast-1": "377024640650",
    "ap-northeast-2": "263625296855",
    "ap-northeast-3": "912233562940",
    "ap-south-1": "452307495513",
    "ap-southeast-1": "834264404009",
    "ap-southeast-2": "007051062584",
    "ap-southeast-3": "705930551576",
    "ca-central-1": "675030665977",
    "cn-north-1": "122526803553",
    "cn-northwest-1": "122578899357",
    "eu-central-1": "017069133835",
    "eu-central-2": "730335477804",
    "eu-north-1": "763603941244",
    "eu-south-1": "638885417683",
    "eu-west-1": "131013547314",
    "eu-west-2": "440796970383",
    "eu-west-3": "341593696636",
    "me-south-1": "835444307964",
    "sa-east-1": "520018980103",
    "us-east-1": "205585389593",
    "us-east-2": "211330385671",
    "us-gov-west-1": "598674086554",
    "us-west-1": "740489534195",
    "us-west-2": "306415355426",
}
CLARIFY_ACCOUNTS_SOURCE = (
    f"{SDK_IMAGE_URI_CONFIG}/clarify.json, processing version 1.0 'registries', restricted to SAGEMAKER_REGIONS "
    f"(left out: us-isof-east-1, us-isof-south-1) (checked {CHECKED})"
)

# SageMaker Model Monitor analyzer image (data quality and model quality schedules): a different account per region.
# The SDK's model-monitor.json lists one version ("") with no tag, and the Model Monitor docs' prebuilt-container
# page gives the URI without a tag: `latest` is the only tag AWS publishes for this image, so it stays unpinned.
MODEL_MONITOR_IMAGE_REPOSITORY = "sagemaker-model-monitor-analyzer"
MODEL_MONITOR_IMAGE_TAG = "latest"
MODEL_MONITOR_ACCOUNTS: dict[str, str] = {
    "af-south-1": "875698925577",
    "ap-east-1": "001633400207",
    "ap-northeast-1": "574779866223",
    "ap-northeast-2": "709848358524",
    "ap-northeast-3": "990339680094",
    "ap-south-1": "126357580389",
    "ap-southeast-1": "245545462676",
    "ap-southeast-2": "563025443158",
    "ap-southeast-3": "669540362728",
    "ca-central-1": "536280801234",
    "cn-north-1": "453000072557",
    "cn-northwest-1": "453252182341",
    "eu-central-1": "048819808253",
    "eu-central-2": "590183933784",
    "eu-north-1": "895015795356",
    "eu-south-1": "933208885752",
    "eu-south-2": "437450045455",
    "eu-west-1": "468650794304",
    "eu-west-2": "749857270468",
    "eu-west-3": "680080141114",
    "il-central-1": "843974653677",
    "me-central-1": "588750061953",
    "me-south-1": "607024016150",
    "sa-east-1": "539772159869",
    "us-east-1": "156813124566",
    "us-east-2": "777275614652",
    "us-west-1": "890145073186",
    "us-west-2": "159807026194",
}
MODEL_MONITOR_ACCOUNTS_SOURCE = (
    f"{SDK_IMAGE_URI_CONFIG}/model-monitor.json, version \"\" 'registries', restricted to SAGEMAKER_REGIONS "
    f"(left out: us-isof-east-1, us-isof-south-1) (checked {CHECKED})"
)


# The Hub -> S3 staging job's image: Hugging Face's PyTorch inference DLC for CPU, used only for the Python packages
# it carries (the job overrides its model-server entrypoint). aws/deep-learning-containers ca82ce3f68 (2026-05-13)
# huggingface/pytorch/inference/docker/2.6/py3/Dockerfile.cpu: `huggingface_hub==${HUGGINGFACE_HUB_VERSION}` with
# HUGGINGFACE_HUB_VERSION=1.10.0 (L23, L209), boto3 from conda-forge (L128), Python 3.12 under /opt/conda/bin on PATH;
# the tag is docs/src/data/huggingface-pytorch-inference/2.6-cpu-sagemaker.yml's (transformers 5.5.3), the form the
# SDK builds (`<pytorch>-transformers<version>-<processor>-<py>-<container version>`, image_uris._format_tag).
HUB_STAGING_IMAGE_REPOSITORY = "huggingface-pytorch-inference"
HUB_STAGING_IMAGE_TAG = "2.6.0-transformers5.5.3-cpu-py312-ubuntu22.04"
# Published in these regions from the region's deep learning container account (`images.dlc_account`, the same
# account the SDK's huggingface.json lists for each of them; tests/test_hub_staging.py pins them literally).
HUB_STAGING_REGIONS: tuple[str, ...] = (
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
)
HUB_STAGING_REGIONS_SOURCE = (
    f"{SDK_IMAGE_URI_CONFIG}/huggingface.json, inference version 5.5.3 / pytorch2.6.0 'registries', restricted to "
    "SAGEMAKER_REGIONS (left out: us-iso-east-1, us-isob-east-1; not published in ap-east-2, ap-southeast-5, "
    f"ap-southeast-7, mx-central-1) (checked 2026-12)"
)


# --------------------------------------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------------------------------------
class ContainerKind(StrEnum):
    TGI_NEURONX = "tgi-neuronx"
    LMI_NEURONX = "lmi-neuronx"
    VLLM_NEURONX = "vllm-neuronx"
    HF_INFERENCE_NEURONX = "hf-inference-neuronx"
    NEURON_V1_INFERENCE = "neuron-v1-inference"
    PYTORCH_TRAINING_NEURONX = "pytorch-training-neuronx"
    HF_TRAINING_NEURONX = "hf-training-neuronx"


# Regions each serving image family is published in: the 'registries' of the SDK's image_uri_config entry for the
# pinned version (or, where the SDK has no entry for it, its nearest version in the same repository, named below),
# restricted to SAGEMAKER_REGIONS. The registry account in each region equals `images.dlc_account` (checked for every
# region listed). An image family is published in fewer regions than the DLC registry account exists in: without
# this, synth passes and the image pull fails at deploy.
TGI_NEURONX_REGIONS: tuple[str, ...] = (  # huggingface-llm-neuronx.json, inference version 0.0.28
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-7", "ca-central-1", "ca-west-1", "cn-north-1", "cn-northwest-1", "eu-central-1", "eu-central-2",
    "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
    "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-gov-east-1", "us-gov-west-1",
    "us-west-1", "us-west-2",
)  # fmt: skip
LMI_NEURONX_REGIONS: tuple[str, ...] = (  # djl-neuronx.json version 0.29.0 (the SDK has no 0.30.0 entry)
    "ap-northeast-1", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-7", "ca-west-1", "cn-north-1", "cn-northwest-1", "eu-central-1", "eu-central-2",
    "eu-north-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "mx-central-1", "sa-east-1",
    "us-east-1", "us-east-2", "us-gov-east-1", "us-gov-west-1", "us-west-2",
)  # fmt: skip
VLLM_NEURONX_REGIONS: tuple[str, ...] = (  # huggingface-vllm-neuronx.json version 0.4.4 (no 0.4.5 entry)
    "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "eu-central-1", "eu-west-1", "eu-west-3",
    "sa-east-1", "us-east-1", "us-east-2", "us-west-2",
)  # fmt: skip
HF_INFERENCE_NEURONX_REGIONS: tuple[str, ...] = (  # huggingface-neuronx.json inference 4.55.4 / pytorch2.8.0
    "ap-northeast-1", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-7", "ca-west-1", "cn-north-1", "cn-northwest-1", "eu-central-1", "eu-central-2",
    "eu-south-2", "eu-west-1", "eu-west-3", "il-central-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2",
    "us-gov-east-1", "us-gov-west-1", "us-west-2",
)  # fmt: skip
# No published per-region list: the SDK's image_uri_config has no entry for pytorch-inference-neuron (inf1),
# pytorch-training-neuronx, or the huggingface-pytorch-training-neuronx tag pinned here (its 4.55.4 training entry is
# pytorch2.7.0), and the DLC docs tables (aws/deep-learning-containers docs/src/data) carry tags, not regions.
NO_REGION_LIST = (
    "no per-region list is published for this image (the SDK's image_uri_config has no entry for it): the region's "
    "DLC registry account is used unchecked"
)


@dataclass(frozen=True)
class ContainerImage:
    """One pinned image: where it is, what it carries, and the regions it is published in."""

    repository: str
    tag: str
    family: str  # neuron (SDK v1, inf1) | neuronx (SDK 2, inf2/trn)
    purpose: str  # serving | training
    neuron_sdk: str
    source: str
    regions: tuple[str, ...] | None = None  # None: no published list (NO_REGION_LIST)
    regions_source: str = NO_REGION_LIST
    optimum_neuron: str | None = None  # the optimum-neuron version the image installs, where it has one


_DLC_SOURCE = "aws/deep-learning-containers available_images.md, Neuron section (checked 2026-11)"
# aws/deep-learning-containers ff5dd4bd (2025-10-28) available_images.md L211: the DJL 0.30.0 Neuron image.
_DLC_FF5DD4BD = "aws/deep-learning-containers ff5dd4bd86976123a36f18a44f1d39b95834a0fb (2025-10-28)"
# aws/deep-learning-containers e0ecede (2026-08-21) docs/src/data: the image tag tables that replaced available_images.
_DLC_DOCS_DATA = "aws/deep-learning-containers e0ecedea6a1c56d6b5914f9cfb2fec5c548e67e0 (2026-08-21) docs/src/data"

CONTAINERS: dict[ContainerKind, ContainerImage] = {
    ContainerKind.TGI_NEURONX: ContainerImage(
        "huggingface-pytorch-tgi-inference",
        "2.1.2-optimum0.0.28-neuronx-py310-ubuntu22.04",
        "neuronx",
        "serving",
        "2.20.0",
        f"{SDK_IMAGE_URI_CONFIG}/huggingface-llm-neuronx.json, inference version 0.0.28 "
        "(tag_prefix 2.1.2-optimum0.0.28, container_version inf2 ubuntu22.04); built from huggingface/optimum-neuron "
        "v0.0.28 text-generation-inference/Dockerfile, `sagemaker` target L155-160 (checked 2026-11)",
        regions=TGI_NEURONX_REGIONS,
        regions_source=f"{SDK_IMAGE_URI_CONFIG}/huggingface-llm-neuronx.json, inference version 0.0.28",
        optimum_neuron="0.0.28",
    ),
    ContainerKind.LMI_NEURONX: ContainerImage(
        "djl-inference",
        "0.30.0-neuronx-sdk2.20.1",
        "neuronx",
        "serving",
        "2.20.1",
        f"{_DLC_FF5DD4BD} available_images.md L211 (DJLServing 0.30.0, Neuron SDK 2.20.1, transformers-neuronx "
        "0.12.313); the SDK's djl-neuronx.json stops at 0.29.0 (checked 2026-11)",
        regions=LMI_NEURONX_REGIONS,
        regions_source=f"{SDK_IMAGE_URI_CONFIG}/djl-neuronx.json version 0.29.0, the newest entry of the djl-inference "
        "Neuron images (the SDK has no 0.30.0 entry: the 0.29.0 list stands for the repository)",
    ),
    ContainerKind.VLLM_NEURONX: ContainerImage(
        "huggingface-vllm-inference-neuronx",
        "0.11.0-optimum0.4.5-neuronx-py310-sdk2.26.1-ubuntu22.04",
        "neuronx",
        "serving",
        "2.26.1",
        f"{_DLC_DOCS_DATA}/huggingface-vllm-inference-neuronx/0.11-neuronx-sdk2.26.1.yml (optimum 0.4.5) "
        "(checked 2026-11)",
        regions=VLLM_NEURONX_REGIONS,
        regions_source=f"{SDK_IMAGE_URI_CONFIG}/huggingface-vllm-neuronx.json version 0.4.4 (same repository and SDK "
        "2.26.1; the SDK has no 0.4.5 entry)",
        optimum_neuron="0.4.5",
    ),
    ContainerKind.HF_INFERENCE_NEURONX: ContainerImage(
        "huggingface-pytorch-inference-neuronx",
        "2.8.0-transformers4.55.4-neuronx-py310-sdk2.26.0-ubuntu22.04",
        "neuronx",
        "serving",
        "2.26.0",
        f"{_DLC_DOCS_DATA}/huggingface-pytorch-inference-neuronx/2.8-neuronx-sdk2.26.0.yml; built from "
        f"{_DLC_FF5DD4BD} huggingface/pytorch/inference/docker/2.8/py3/sdk2.26.0/Dockerfile.neuronx: L24 "
        "OPTIMUM_NEURON_VERSION=0.4.1, L178 sagemaker-huggingface-inference-toolkit>=2.4.1,<3 (2.6.0, the newest "
        "release when the image was built and since) (checked 2026-11)",
        regions=HF_INFERENCE_NEURONX_REGIONS,
        regions_source=f"{SDK_IMAGE_URI_CONFIG}/huggingface-neuronx.json, inference 4.55.4 / pytorch2.8.0 (sdk2.26.0)",
        optimum_neuron="0.4.1",
    ),
    ContainerKind.NEURON_V1_INFERENCE: ContainerImage(
        "pytorch-inference-neuron",
        "1.13.1-neuron-py310-sdk2.20.2-ubuntu20.04",
        "neuron",
        "serving",
        "2.20.2",
        _DLC_SOURCE,
    ),
    # The last pytorch-training-neuronx ever published (SDK 2.31 stopped it: aws-neuron/aws-neuron-sdk
    # release-notes/components/containers.rst L49-50 @ 81ce03ae): torch-neuronx 2.9 + NxD Training 1.7.0, no
    # optimum-neuron (aws-neuron/deep-learning-containers tag 2.30.0 pytorch/training/2.9.0/Dockerfile.neuronx
    # L210-218, L277-301). For NxD Training (HyperPod, own scripts); the lifecycle's train.py does not run on it.
    ContainerKind.PYTORCH_TRAINING_NEURONX: ContainerImage(
        "pytorch-training-neuronx",
        "2.9.0-neuronx-py312-sdk2.30.0-ubuntu24.04",
        "neuronx",
        "training",
        "2.30.0",
        "aws/deep-learning-containers docs/src/data/pytorch-training-neuronx/2.9-neuronx-sdk2.30.0.yml L11 @ e0ecedea",
    ),
    # The newest HF training image: optimum-neuron[training] 0.4.1 (peft 0.17.0, trl 0.11.4), torch-neuronx 2.8
    # (SDK 2.26.0), transformers 4.55.4, the SageMaker training toolkit (aws/deep-learning-containers ed7cbf3a
    # huggingface/pytorch/training/docker/2.8/py3/sdk2.26.0/Dockerfile.neuronx L29, L217, L260-280, L288-289). Every
    # optimum-neuron release up to v0.4.5 pins torch-neuronx 2.8, so this SDK-2.26 line is the one its training runs on.
    ContainerKind.HF_TRAINING_NEURONX: ContainerImage(
        "huggingface-pytorch-training-neuronx",
        "2.8.0-transformers4.55.4-neuronx-py310-sdk2.26.0-ubuntu22.04",
        "neuronx",
        "training",
        "2.26.0",
        "aws/deep-learning-containers docs/src/data/huggingface-pytorch-training-neuronx/2.8-neuronx-sdk2.26.0.yml "
        "L12 @ e0ecedea",
    ),
}

# Where each training image may run, where the catalog knows a limit (training images only; absent = no limit known).
# huggingface-pytorch-training-neuronx 2.8.0/sdk2.26.0: tested on trn1 only — the image's SageMaker tests know
# `NEURONX_TRN1_INSTANCES = ["ml.trn1.2xlarge", "ml.trn1.32xlarge"]` (aws/deep-learning-containers ed7cbf3a
# test/sagemaker_tests/huggingface_pytorch/training/conftest.py L90) and optimum-neuron's own training CI runs on
# trn1.32xlarge (huggingface/optimum-neuron v0.4.1 .github/workflows/test_trainium_training.yml L33-34); no training
# tutorial of v0.4.1 uses trn2. trn1n is the same Trainium1 chip with more EFA bandwidth.
TRAINING_IMAGE_FAMILIES: dict[ContainerKind, tuple[str, ...]] = {
    ContainerKind.HF_TRAINING_NEURONX: ("trn1", "trn1n"),
}
TRAINING_IMAGE_FAMILIES_SOURCE = (
    "aws/deep-learning-containers ed7cbf3a test/sagemaker_tests/huggingface_pytorch/training/conftest.py L90; "
    "huggingface/optimum-neuron v0.4.1 .github/workflows/test_trainium_training.yml L33-34"
)
# The regions the HF training image 4.55.4 is published in: aws/sagemaker-python-sdk a2481266
# sagemaker-core/src/sagemaker/core/image_uri_config/huggingface-neuronx.json, training "4.55.4" registries
# (us-west-1, eu-west-2, eu-north-1, ap-northeast-2 and others are absent).
TRAINING_IMAGE_REGIONS: dict[ContainerKind, tuple[str, ...]] = {
    ContainerKind.HF_TRAINING_NEURONX: (
        "ap-northeast-1",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "ca-west-1",
        "cn-north-1",
        "cn-northwest-1",
        "eu-central-1",
        "eu-central-2",
        "eu-south-2",
        "eu-west-1",
        "eu-west-3",
        "il-central-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-gov-east-1",
        "us-gov-west-1",
        "us-west-2",
    ),
}


# --------------------------------------------------------------------------------------------------------------------
# Public Neuron compile cache: shapes TGI-neuronx and vLLM-neuronx can start from a Hub model without an export
# --------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PublicCacheEntry:
    """One shape registered in the public Neuron cache (Hub repo aws-neuron/optimum-neuron-cache) for a server's
    optimum-neuron and neuronx-cc versions: the server fetches its compiled graphs instead of compiling."""

    server: ContainerKind
    model_id: str
    batch_size: int
    sequence_length: int
    degree: int
    dtype: str
    source: str  # where the entry was read, with its date


# Deliberately empty. The registry lives on the Hugging Face Hub (repo aws-neuron/optimum-neuron-cache, 0_REGISTRY/
# per optimum-neuron version: huggingface/optimum-neuron v0.0.28 optimum/neuron/utils/cache_utils.py L47-51 and
# hub_cache_utils.py L288-302; v0.4.5 optimum/neuron/cache/hub_cache.py L258, L351-374), which this project cannot
# read; GitHub holds only the cache-builder workflows (v0.0.28 .github/workflows/inference_cache_llm.yml L22-32,
# v0.4.5 .github/workflows/cache_llm.yml L46-58), whose shape lists are JSON files on the Hub, and benchmark pages
# that are not cache listings. An entry is added only when read from the registry itself, e.g. with
# `optimum-cli neuron cache lookup <model id>` run in the pinned image (checked 2026-11).
PUBLIC_CACHE_ENTRIES: tuple[PublicCacheEntry, ...] = ()


def public_cache_entry(
    server: ContainerKind, model_id: str, *, batch_size: int, sequence_length: int, degree: int, dtype: str
) -> PublicCacheEntry | None:
    """The catalog's public-cache entry of exactly this shape on this server, if one is recorded."""
    for entry in PUBLIC_CACHE_ENTRIES:
        if (entry.server, entry.model_id, entry.batch_size, entry.sequence_length, entry.degree, entry.dtype) == (
            server,
            model_id,
            batch_size,
            sequence_length,
            degree,
            dtype,
        ):
            return entry
    return None
