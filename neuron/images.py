"""Image URIs resolved from the catalog: the one place a registry account, repository and tag become a URI."""

from __future__ import annotations

from aws_cdk.region_info import Fact, FactName

from neuron.catalog import (
    CLARIFY_ACCOUNTS,
    CLARIFY_IMAGE_REPOSITORY,
    CLARIFY_IMAGE_TAG,
    CONTAINERS,
    DLC_ACCOUNTS_NOT_IN_CDK,
    HUB_STAGING_IMAGE_REPOSITORY,
    HUB_STAGING_IMAGE_TAG,
    HUB_STAGING_REGIONS,
    MODEL_MONITOR_ACCOUNTS,
    MODEL_MONITOR_IMAGE_REPOSITORY,
    MODEL_MONITOR_IMAGE_TAG,
    SAGEMAKER_REGIONS,
    ContainerImage,
    ContainerKind,
    instance,
)
from neuron.errors import UserError


class UnknownRegionError(UserError):
    pass


class ImageMismatchError(UserError):
    pass


class ImageNotInRegionError(UnknownRegionError):
    """An image family that is not published in the region: synth would pass and the image pull would fail."""


def check_region(region: str) -> str:
    """Return the region, or raise naming every region SageMaker serves."""
    if region not in SAGEMAKER_REGIONS:
        raise UnknownRegionError(
            f"region {region!r} is not a SageMaker region in the Neuron catalog; known: {', '.join(SAGEMAKER_REGIONS)}"
        )
    return region


def registry_domain(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def dlc_account(region: str) -> str:
    """The deep learning container registry account: CDK's region fact, else the catalog's supplement."""
    check_region(region)
    account = Fact.find(region, FactName.DLC_REPOSITORY_ACCOUNT) or DLC_ACCOUNTS_NOT_IN_CDK.get(region)
    if account is None:
        raise UnknownRegionError(f"no deep learning container registry account is known for region {region!r}")
    return account


def ecr_uri(account: str, region: str, repository: str, tag: str) -> str:
    return f"{account}.dkr.ecr.{region}.{registry_domain(region)}/{repository}:{tag}"


def _regional_image(service: str, accounts: dict[str, str], region: str, repository: str, tag: str) -> str:
    """An AWS-owned image published from a different account per region, or an error naming its regions."""
    check_region(region)
    try:
        account = accounts[region]
    except KeyError:
        raise UnknownRegionError(
            f"{service} in region {region!r}; regions with one: {', '.join(sorted(accounts))}"
        ) from None
    return ecr_uri(account, region, repository, tag)


def clarify_image_uri(region: str) -> str:
    return _regional_image(
        "SageMaker Clarify has no processing image",
        CLARIFY_ACCOUNTS,
        region,
        CLARIFY_IMAGE_REPOSITORY,
        CLARIFY_IMAGE_TAG,
    )


def model_monitor_image_uri(region: str) -> str:
    """The Model Monitor analyzer image (data and model quality schedules), or an error naming its regions."""
    return _regional_image(
        "SageMaker Model Monitor has no analyzer image",
        MODEL_MONITOR_ACCOUNTS,
        region,
        MODEL_MONITOR_IMAGE_REPOSITORY,
        MODEL_MONITOR_IMAGE_TAG,
    )


def hub_staging_image_uri(region: str) -> str:
    """The Hub -> S3 staging job's image (Hugging Face's CPU inference DLC, for its huggingface_hub and boto3), or an
    error naming the regions it is published in."""
    check_region(region)
    if region not in HUB_STAGING_REGIONS:
        raise UnknownRegionError(
            f"The Hugging Face CPU image of the Hub staging job is not published in region {region!r}; regions with "
            f"one: {', '.join(sorted(HUB_STAGING_REGIONS))}"
        )
    return ecr_uri(dlc_account(region), region, HUB_STAGING_IMAGE_REPOSITORY, HUB_STAGING_IMAGE_TAG)


def container(kind: ContainerKind | str) -> ContainerImage:
    try:
        return CONTAINERS[ContainerKind(kind)]
    except ValueError:
        raise ImageMismatchError(
            f"container kind {kind!r} is not in the catalog; known: {', '.join(k.value for k in ContainerKind)}"
        ) from None


def image_uri(kind: ContainerKind | str, region: str, instance_type: str) -> str:
    """The ECR URI of a Neuron container for a region, refusing images that cannot run on the instance and images
    not published in the region (`ContainerImage.regions`, from the SageMaker Python SDK's image_uri_config)."""
    image = container(kind)
    spec = instance(instance_type)
    if image.family != spec.container_family:
        raise ImageMismatchError(
            f"container {ContainerKind(kind).value} is built for the {image.family} SDK family but {instance_type} "
            f"({spec.family}) needs a {spec.container_family} image; choose a "
            f"{spec.container_family} container or a {'ml.inf1.*' if image.family == 'neuron' else 'ml.inf2/trn*'} "
            "instance"
        )
    check_region(region)
    if image.regions is not None and region not in image.regions:
        raise ImageNotInRegionError(
            f"container {ContainerKind(kind).value} ({image.repository}:{image.tag}) is not published in region "
            f"{region!r}; regions with it: {', '.join(image.regions)} (source: {image.regions_source}); deploy to one "
            "of those regions or choose a server whose image the region has"
        )
    return ecr_uri(dlc_account(region), region, image.repository, image.tag)
