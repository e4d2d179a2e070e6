"""The Neuron catalog and image resolution: facts agree with each other and mistakes are refused by name."""

import re

import pytest
from aws_cdk.region_info import Fact, FactName

from neuron.catalog import (
    CLARIFY_ACCOUNTS,
    CLARIFY_ACCOUNTS_SOURCE,
    CONTAINERS,
    DLC_ACCOUNTS_NOT_IN_CDK,
    HBM_GBPS_PER_CHIP,
    INSTANCES,
    MODEL_MONITOR_ACCOUNTS,
    MODEL_MONITOR_ACCOUNTS_SOURCE,
    PUBLIC_CACHE_ENTRIES,
    SAGEMAKER_REGIONS,
    TENSOR_PARALLEL_DEGREES,
    ContainerKind,
    UnknownInstanceTypeError,
    instance,
    public_cache_entry,
)
from neuron.images import (
    ImageMismatchError,
    ImageNotInRegionError,
    UnknownRegionError,
    clarify_image_uri,
    dlc_account,
    image_uri,
    model_monitor_image_uri,
)


def test_inf2_and_trn1_have_16_gib_of_hbm_per_neuroncore_and_two_cores_per_chip() -> None:
    for spec in INSTANCES.values():
        if spec.family in ("inf2", "trn1", "trn1n"):
            assert spec.memory_per_core_gib == 16, spec.name
            assert spec.neuron_cores == 2 * spec.chips, spec.name


def test_published_instance_sizes() -> None:
    assert (instance("ml.inf2.48xlarge").chips, instance("ml.inf2.48xlarge").neuron_cores) == (12, 24)
    assert instance("ml.inf2.xlarge").host_memory_gib == 16
    assert (instance("ml.trn1.32xlarge").efa_gbps, instance("ml.trn1n.32xlarge").efa_gbps) == (800, 1600)
    assert (instance("ml.trn2.48xlarge").accelerator_memory_gib, instance("ml.trn2.48xlarge").efa_gbps) == (1536, 3200)
    assert instance("ml.trn1.32xlarge").local_nvme_gb > 0 and instance("ml.inf2.48xlarge").local_nvme_gb == 0


def test_every_family_has_tensor_parallel_degrees_within_its_largest_instance() -> None:
    for family, degrees in TENSOR_PARALLEL_DEGREES.items():
        largest = max(s.neuron_cores for s in INSTANCES.values() if s.family == family)
        assert max(degrees) <= largest, family
    assert TENSOR_PARALLEL_DEGREES["inf2"] == (1, 2, 4, 8, 12, 24)
    assert TENSOR_PARALLEL_DEGREES["trn1"] == (1, 2, 8, 16, 32)


def test_hbm_bandwidth_matches_the_published_instance_totals() -> None:
    # Instance pages list the total: inf2.48xlarge 9.8 TB/s (12 chips), trn1.32xlarge 13.1 TB/s, trn2.48xlarge 46 TB/s.
    for name, published_tbps in (("ml.inf2.48xlarge", 9.8), ("ml.trn1.32xlarge", 13.1), ("ml.trn2.48xlarge", 46)):
        spec = instance(name)
        assert spec.memory_gbps_per_core is not None
        assert spec.memory_gbps_per_core * spec.neuron_cores / 1000 == pytest.approx(published_tbps, rel=0.01), name
    # A trn2 logical core (LNC=2) is a quarter chip: 2900 / 4 GB/s; an inf2 core half a chip: 820 / 2.
    assert (instance("ml.trn2.48xlarge").memory_gbps_per_core, instance("ml.inf2.xlarge").memory_gbps_per_core) == (
        725.0,
        410.0,
    )
    assert {s.family for s in INSTANCES.values()} - set(HBM_GBPS_PER_CHIP) == {"inf1"}
    assert instance("ml.inf1.xlarge").memory_gbps_per_core is None


def test_unknown_instance_type_lists_the_catalog() -> None:
    with pytest.raises(UnknownInstanceTypeError, match=r"'ml\.g5\.xlarge' is not in the Neuron catalog; known: .*inf2"):
        instance("ml.g5.xlarge")


def test_every_sagemaker_region_has_a_dlc_account() -> None:
    for region in SAGEMAKER_REGIONS:
        assert re.fullmatch(r"\d{12}", dlc_account(region)), region


def test_supplement_holds_only_regions_cdk_lacks() -> None:
    for region in DLC_ACCOUNTS_NOT_IN_CDK:
        assert Fact.find(region, FactName.DLC_REPOSITORY_ACCOUNT) is None, f"CDK now knows {region}: drop it"


# Every pinned image as a literal URI, with where its tag and registry account were read (the same sources
# neuron/catalog.py cites): a changed tag, repository, account or domain fails here, not at the image pull.
# Accounts: 763104351884 in us-east-1/eu-west-2 (aws-cdk-lib region fact DLC_REPOSITORY_ACCOUNT; also
# aws/sagemaker-python-sdk image_uri_config/huggingface-neuronx.json 'registries'); il-central-1 780543022126 and
# cn-north-1 727897471807 from the same huggingface-neuronx.json registries (training "4.55.4" at a2481266).
IMAGES = [
    # aws/sagemaker-python-sdk v3.20.0 sagemaker-core/src/sagemaker/core/image_uri_config/huggingface-llm-neuronx.json,
    # inference 0.0.28: tag_prefix 2.1.2-optimum0.0.28, container_version inf2 ubuntu22.04.
    (
        ContainerKind.TGI_NEURONX,
        "us-east-1",
        "ml.inf2.xlarge",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.1.2-optimum0.0.28-neuronx-py310-ubuntu22.04",
    ),
    (
        ContainerKind.TGI_NEURONX,
        "eu-west-2",
        "ml.inf2.xlarge",
        "763104351884.dkr.ecr.eu-west-2.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.1.2-optimum0.0.28-neuronx-py310-ubuntu22.04",
    ),
    # aws/deep-learning-containers ff5dd4bd available_images.md L211 (DJLServing 0.30.0, Neuron SDK 2.20.1).
    (
        ContainerKind.LMI_NEURONX,
        "us-east-1",
        "ml.inf2.xlarge",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.30.0-neuronx-sdk2.20.1",
    ),
    (  # China regions: the amazonaws.com.cn domain
        ContainerKind.LMI_NEURONX,
        "cn-north-1",
        "ml.inf2.xlarge",
        "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/djl-inference:0.30.0-neuronx-sdk2.20.1",
    ),
    # aws/deep-learning-containers e0ecedea docs/src/data/huggingface-vllm-inference-neuronx/0.11-neuronx-sdk2.26.1.yml
    # (tags: "0.11.0-optimum0.4.5-neuronx-py310-sdk2.26.1-ubuntu22.04").
    (
        ContainerKind.VLLM_NEURONX,
        "us-east-1",
        "ml.inf2.xlarge",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-vllm-inference-neuronx:"
        "0.11.0-optimum0.4.5-neuronx-py310-sdk2.26.1-ubuntu22.04",
    ),
    # aws/deep-learning-containers e0ecedea docs/src/data/huggingface-pytorch-inference-neuronx/
    # 2.8-neuronx-sdk2.26.0.yml
    (
        ContainerKind.HF_INFERENCE_NEURONX,
        "us-east-1",
        "ml.inf2.xlarge",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference-neuronx:"
        "2.8.0-transformers4.55.4-neuronx-py310-sdk2.26.0-ubuntu22.04",
    ),
    # aws/deep-learning-containers available_images.md, Neuron section (checked 2026-11): the inf1 (SDK v1) image.
    (
        ContainerKind.NEURON_V1_INFERENCE,
        "us-east-1",
        "ml.inf1.xlarge",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference-neuron:1.13.1-neuron-py310-sdk2.20.2-ubuntu20.04",
    ),
    # aws/deep-learning-containers e0ecedea docs/src/data/pytorch-training-neuronx/2.9-neuronx-sdk2.30.0.yml L11;
    # il-central-1: a DLC account aws-cdk-lib's region facts lack (neuron/catalog.py DLC_ACCOUNTS_NOT_IN_CDK).
    (
        ContainerKind.PYTORCH_TRAINING_NEURONX,
        "il-central-1",
        "ml.trn1.2xlarge",
        "780543022126.dkr.ecr.il-central-1.amazonaws.com/pytorch-training-neuronx:"
        "2.9.0-neuronx-py312-sdk2.30.0-ubuntu24.04",
    ),
    # aws/deep-learning-containers e0ecedea docs/src/data/huggingface-pytorch-training-neuronx/
    # 2.8-neuronx-sdk2.26.0.yml (tag: "2.8.0-transformers4.55.4-neuronx-py310-sdk2.26.0-ubuntu22.04")
    (
        ContainerKind.HF_TRAINING_NEURONX,
        "us-east-1",
        "ml.trn1.2xlarge",
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training-neuronx:"
        "2.8.0-transformers4.55.4-neuronx-py310-sdk2.26.0-ubuntu22.04",
    ),
]


@pytest.mark.parametrize(("kind", "region", "instance_type", "expected"), IMAGES)
def test_image_uri_is_the_published_uri(kind: ContainerKind, region: str, instance_type: str, expected: str) -> None:
    assert image_uri(kind, region, instance_type) == expected


def test_every_container_kind_has_a_literal_uri() -> None:
    assert {kind for kind, *_ in IMAGES} == set(ContainerKind)


def test_unknown_region_is_refused_naming_known_regions() -> None:
    with pytest.raises(UnknownRegionError, match=r"region 'xx-east-9' is not a SageMaker region .* known: us-east-1"):
        image_uri("tgi-neuronx", "xx-east-9", "ml.inf2.xlarge")


def test_container_family_must_fit_the_instance_family() -> None:
    with pytest.raises(ImageMismatchError, match=r"tgi-neuronx is built for the neuronx SDK family but ml\.inf1"):
        image_uri("tgi-neuronx", "us-east-1", "ml.inf1.xlarge")
    with pytest.raises(ImageMismatchError, match=r"neuron-v1-inference is built for the neuron SDK family but ml"):
        image_uri("neuron-v1-inference", "us-east-1", "ml.inf2.xlarge")


def test_unknown_container_kind_lists_known_kinds() -> None:
    with pytest.raises(ImageMismatchError, match="container kind 'triton' is not in the catalog; known: tgi-neuronx"):
        image_uri("triton", "us-east-1", "ml.inf2.xlarge")


def test_every_container_is_pinned_with_a_source() -> None:
    for kind, image in CONTAINERS.items():
        assert image.tag and "latest" not in image.tag, kind
        assert image.source and image.family in image.tag, kind


def test_clarify_image_differs_per_region_and_is_refused_where_missing() -> None:
    # aws/sagemaker-python-sdk image_uri_config/clarify.json, processing "1.0" registries: "us-east-1":
    # "205585389593", "eu-west-1": "131013547314", repository sagemaker-clarify-processing.
    assert (
        clarify_image_uri("us-east-1")
        == "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"
    )
    assert (
        clarify_image_uri("eu-west-1")
        == "131013547314.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-clarify-processing:1.0"
    )
    with pytest.raises(UnknownRegionError, match="SageMaker Clarify has no processing image in region 'il-central-1'"):
        clarify_image_uri("il-central-1")


def test_model_monitor_analyzer_image_differs_per_region_and_is_refused_where_missing() -> None:
    assert (
        model_monitor_image_uri("us-east-1")
        == "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer:latest"
    )
    assert (
        model_monitor_image_uri("cn-north-1")
        == "453000072557.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-model-monitor-analyzer:latest"
    )
    # aws/sagemaker-python-sdk v3.20.0 sagemaker-core/src/sagemaker/core/image_uri_config/model-monitor.json,
    # version "" registries; the SDK v3.20.0 table added af-south-1, il-central-1, me-central-1, eu-south-2 and
    # others the old one lacked.
    for region, account in (
        ("eu-west-1", "468650794304"),
        ("il-central-1", "843974653677"),
        ("af-south-1", "875698925577"),
    ):
        assert model_monitor_image_uri(region) == (
            f"{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-model-monitor-analyzer:latest"
        )
    with pytest.raises(UnknownRegionError) as err:
        model_monitor_image_uri("ap-southeast-7")
    assert str(err.value) == (
        "SageMaker Model Monitor has no analyzer image in region 'ap-southeast-7'; regions with one: "
        + ", ".join(sorted(MODEL_MONITOR_ACCOUNTS))
    )
    assert "us-west-2" in str(err.value) and "ap-east-1" in str(err.value)
    with pytest.raises(UnknownRegionError, match="region 'moon-1' is not a SageMaker region"):
        model_monitor_image_uri("moon-1")
    assert set(MODEL_MONITOR_ACCOUNTS) <= set(SAGEMAKER_REGIONS)
    assert "model-monitor.json" in MODEL_MONITOR_ACCOUNTS_SOURCE and "v3.20.0" in MODEL_MONITOR_ACCOUNTS_SOURCE


def test_clarify_table_is_the_sdk_v3_20_table() -> None:
    # clarify.json processing 1.0 at v3.20.0 added ap-southeast-3 and eu-central-2; il-central-1 still has none.
    for region, account in (("ap-southeast-3", "705930551576"), ("eu-central-2", "730335477804")):
        assert clarify_image_uri(region) == f"{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-clarify-processing:1.0"
    assert len(CLARIFY_ACCOUNTS) == 26 and set(CLARIFY_ACCOUNTS) <= set(SAGEMAKER_REGIONS)
    assert "clarify.json" in CLARIFY_ACCOUNTS_SOURCE and "v3.20.0" in CLARIFY_ACCOUNTS_SOURCE


# --- regions each serving image is published in (SDK v3.20.0 image_uri_config) ---------------------------------------
def test_an_image_is_refused_in_a_region_it_is_not_published_in_naming_the_regions_that_have_it() -> None:
    # huggingface-vllm-neuronx: 11 regions, none of them il-central-1 (which has the DLC registry account).
    with pytest.raises(ImageNotInRegionError) as err:
        image_uri("vllm-neuronx", "il-central-1", "ml.inf2.24xlarge")
    message = str(err.value)
    assert message.startswith(
        "container vllm-neuronx (huggingface-vllm-inference-neuronx:0.11.0-optimum0.4.5-neuronx-py310-sdk2.26.1-"
        "ubuntu22.04) is not published in region 'il-central-1'; regions with it: ap-northeast-1, ap-south-1, "
        "ap-southeast-1, ap-southeast-2, eu-central-1, eu-west-1, eu-west-3, sa-east-1, us-east-1, us-east-2, us-west-2"
    )
    assert "huggingface-vllm-neuronx.json version 0.4.4" in message and "deploy to one of those regions" in message
    assert isinstance(err.value, UnknownRegionError)  # a UserError: app.py reports it without a traceback
    # The HF inference image is in 24 regions: not eu-west-2 or eu-north-1, although TGI is.
    with pytest.raises(ImageNotInRegionError, match=r"hf-inference-neuronx .* not published in region 'eu-west-2'"):
        image_uri("hf-inference-neuronx", "eu-west-2", "ml.inf2.xlarge")
    assert ("tgi-neuronx", "eu-west-2") in {(kind.value, region) for kind, region, *_ in IMAGES}  # resolved above
    # LMI (djl-neuronx 0.29.0 list): not us-west-1.
    with pytest.raises(ImageNotInRegionError, match=r"lmi-neuronx .* 'us-west-1'"):
        image_uri("lmi-neuronx", "us-west-1", "ml.inf2.48xlarge")


def test_serving_image_region_lists_come_from_the_sdk_and_agree_with_the_registry_accounts() -> None:
    sizes = {kind: len(CONTAINERS[kind].regions or ()) for kind in CONTAINERS}
    assert sizes[ContainerKind.VLLM_NEURONX] == 11
    assert sizes[ContainerKind.HF_INFERENCE_NEURONX] == 24
    assert sizes[ContainerKind.LMI_NEURONX] == 26  # 31 in the SDK, 5 of them in isolated partitions
    assert sizes[ContainerKind.TGI_NEURONX] == 37  # 44 in the SDK, 7 outside SAGEMAKER_REGIONS
    for kind, image in CONTAINERS.items():
        if image.purpose == "serving" and image.family == "neuronx":
            assert image.regions is not None and "image_uri_config" in image.regions_source, kind
            assert set(image.regions) <= set(SAGEMAKER_REGIONS), kind
            assert list(image.regions) == sorted(image.regions), kind
            for region in image.regions:  # every listed region resolves to a URI
                assert image_uri(kind, region, "ml.inf2.xlarge").endswith(f"/{image.repository}:{image.tag}")
    # No published list for the inf1 and training images: nothing is refused for them, and the catalog says why.
    assert CONTAINERS[ContainerKind.NEURON_V1_INFERENCE].regions is None
    assert "no per-region list" in CONTAINERS[ContainerKind.PYTORCH_TRAINING_NEURONX].regions_source


def test_the_hf_inference_image_carries_optimum_neuron_0_4_1_not_the_vllm_images_0_4_5() -> None:
    hf = CONTAINERS[ContainerKind.HF_INFERENCE_NEURONX]
    assert hf.optimum_neuron == "0.4.1" and "OPTIMUM_NEURON_VERSION=0.4.1" in hf.source
    assert CONTAINERS[ContainerKind.VLLM_NEURONX].optimum_neuron == "0.4.5"
    assert CONTAINERS[ContainerKind.TGI_NEURONX].optimum_neuron == "0.0.28"
    # LMI 0.30.0 is in the DLC image list but not in the SDK's djl-neuronx.json (newest 0.29.0): both said.
    assert "available_images.md L211" in CONTAINERS[ContainerKind.LMI_NEURONX].source
    assert "0.29.0" in CONTAINERS[ContainerKind.LMI_NEURONX].regions_source


def test_the_public_cache_table_is_empty_until_read_from_the_registry() -> None:
    assert PUBLIC_CACHE_ENTRIES == ()
    assert (
        public_cache_entry(
            ContainerKind.TGI_NEURONX,
            "meta-llama/Llama-3.1-8B-Instruct",
            batch_size=4,
            sequence_length=4096,
            degree=2,
            dtype="bf16",
        )
        is None
    )
