"""The Neuron catalog and image resolution: facts agree with each other and mistakes are refused by name."""

import re

import pytest
from aws_cdk.region_info import Fact, FactName

from neuron.catalog import (
    CONTAINERS,
    DLC_ACCOUNTS_NOT_IN_CDK,
    HBM_GBPS_PER_CHIP,
    INSTANCES,
    MODEL_MONITOR_ACCOUNTS,
    MODEL_MONITOR_ACCOUNTS_SOURCE,
    SAGEMAKER_REGIONS,
    TENSOR_PARALLEL_DEGREES,
    ContainerKind,
    UnknownInstanceTypeError,
    instance,
)
from neuron.images import (
    ImageMismatchError,
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


def test_image_uri_in_a_region_cdk_knows_and_one_it_lacks() -> None:
    assert image_uri(ContainerKind.TGI_NEURONX, "us-east-1", "ml.inf2.xlarge") == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.1.2-optimum0.0.28-neuronx-py310-ubuntu22.04"
    )
    assert image_uri("pytorch-training-neuronx", "il-central-1", "ml.trn1.2xlarge").startswith(
        "780543022126.dkr.ecr.il-central-1.amazonaws.com/pytorch-training-neuronx:"
    )
    assert ".dkr.ecr.cn-north-1.amazonaws.com.cn/" in image_uri("lmi-neuronx", "cn-north-1", "ml.inf2.xlarge")


def test_unknown_region_is_refused_naming_known_regions() -> None:
    with pytest.raises(UnknownRegionError, match=r"region 'xx-east-9' is not a SageMaker region .* known: us-east-1"):
        image_uri("tgi-neuronx", "xx-east-9", "ml.inf2.xlarge")


def test_container_family_must_fit_the_instance_family() -> None:
    with pytest.raises(ImageMismatchError, match=r"tgi-neuronx is built for the neuronx SDK family but ml\.inf1"):
        image_uri("tgi-neuronx", "us-east-1", "ml.inf1.xlarge")
    with pytest.raises(ImageMismatchError, match=r"neuron-v1-inference is built for the neuron SDK family but ml"):
        image_uri("neuron-v1-inference", "us-east-1", "ml.inf2.xlarge")
    assert "pytorch-inference-neuron:" in image_uri("neuron-v1-inference", "us-east-1", "ml.inf1.xlarge")


def test_unknown_container_kind_lists_known_kinds() -> None:
    with pytest.raises(ImageMismatchError, match="container kind 'triton' is not in the catalog; known: tgi-neuronx"):
        image_uri("triton", "us-east-1", "ml.inf2.xlarge")


def test_every_container_is_pinned_with_a_source() -> None:
    for kind, image in CONTAINERS.items():
        assert image.tag and "latest" not in image.tag, kind
        assert image.source and image.family in image.tag, kind


def test_clarify_image_differs_per_region_and_is_refused_where_missing() -> None:
    assert clarify_image_uri("us-east-1").startswith("205585389593.dkr.ecr.us-east-1.amazonaws.com/")
    assert clarify_image_uri("eu-west-1").startswith("131013547314.")
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
    assert model_monitor_image_uri("eu-west-1").startswith("468650794304.")
    with pytest.raises(UnknownRegionError) as err:
        model_monitor_image_uri("af-south-1")
    assert str(err.value) == (
        "SageMaker Model Monitor has no analyzer image in region 'af-south-1'; regions with one: "
        + ", ".join(sorted(MODEL_MONITOR_ACCOUNTS))
    )
    assert "us-west-2" in str(err.value) and "ap-east-1" in str(err.value)
    with pytest.raises(UnknownRegionError, match="region 'moon-1' is not a SageMaker region"):
        model_monitor_image_uri("moon-1")
    assert set(MODEL_MONITOR_ACCOUNTS) <= set(SAGEMAKER_REGIONS)
    assert "model-monitor.json" in MODEL_MONITOR_ACCOUNTS_SOURCE and "2026-11" in MODEL_MONITOR_ACCOUNTS_SOURCE
