"""The one configuration model of the whole app; each subsystem's settings live in their own module."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from config.base import StrictModel, setting_errors
from config.evaluation import EvaluationConfig
from config.inference import InferenceConfig
from config.lifecycle import MODEL_PACKAGE_GROUP_NAME_MAX, HyperPodConfig, LifecycleConfig
from config.platform import PlatformConfig
from neuron.images import check_region


class AppConfig(StrictModel):
    profile: str = Field(pattern=r"^[a-z][a-z0-9-]{0,20}$")
    region: str
    account: str | None = Field(None, description="Taken from CDK_DEFAULT_ACCOUNT when the profile leaves it out.")
    stack_prefix: str = Field("NeuronGenAI", pattern=r"^[A-Za-z][A-Za-z0-9]{0,30}$")
    tags: dict[str, str] = Field(default_factory=dict)
    platform: PlatformConfig = PlatformConfig()
    inference: InferenceConfig | None = None
    evaluation: EvaluationConfig | None = None
    lifecycle: LifecycleConfig = LifecycleConfig()
    hyperpod: HyperPodConfig = HyperPodConfig()

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        return check_region(value)

    @field_validator("account")
    @classmethod
    def _account_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{12}", value):
            raise ValueError("an AWS account id is 12 digits")
        return value

    def stack_name(self, unit: str) -> str:
        return f"{self.stack_prefix}-{self.profile}-{unit}"

    @property
    def model_package_group_name(self) -> str:
        return f"{self.stack_prefix}-{self.profile}-{self.lifecycle.model_package_group}"

    @model_validator(mode="after")
    def _lifecycle_fits_the_app(self) -> AppConfig:
        """Lifecycle rules that need the rest of the app; each error is reported at the lifecycle setting."""
        problems: list[tuple[tuple[str, ...], object, str]] = []
        lifecycle, inference = self.lifecycle, self.inference
        if lifecycle.enabled and lifecycle.deploy and inference is not None and inference.inference_components:
            problems.append(
                (
                    ("lifecycle", "deploy"),
                    True,
                    (
                        "the deploy stage with inference.inference_components = true: it updates the endpoint to a "
                        "config "
                        "with one single-model variant (UpdateEndpoint), which fails on an endpoint that hosts "
                        "inference "
                        "components or removes them; set lifecycle.deploy: false (the workflow still evaluates and "
                        "registers the model; deploy it as its own inference component by hand)"
                    ),
                )
            )
        name = self.model_package_group_name
        if lifecycle.enabled and len(name) > MODEL_PACKAGE_GROUP_NAME_MAX:
            problems.append(
                (
                    ("lifecycle", "model_package_group"),
                    lifecycle.model_package_group,
                    (
                        f"the model package group name {name!r} (stack_prefix-profile-lifecycle.model_package_group) "
                        "has "
                        f"{len(name)} characters, SageMaker allows {MODEL_PACKAGE_GROUP_NAME_MAX}; shorten "
                        "lifecycle.model_package_group, stack_prefix or the profile name"
                    ),
                )
            )
        if problems:
            raise setting_errors(type(self).__name__, problems)
        return self
