"""The one configuration model of the whole app; each subsystem's settings live in their own module."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from config.base import StrictModel
from config.evaluation import EvaluationConfig
from config.inference import InferenceConfig
from config.lifecycle import HyperPodConfig, LifecycleConfig
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
