"""Settings of the stateful platform: network, keys, buckets, logs."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from config.base import StrictModel

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


class PlatformConfig(StrictModel):
    vpc_cidr: str = "10.40.0.0/16"
    max_azs: int = Field(2, ge=2, le=3, description="Availability zones for the private subnets.")
    retain_data: bool = Field(
        False, description="Keep buckets and the key when the stack is deleted, and protect the stack from deletion."
    )
    log_retention_days: int = 365
    noncurrent_version_expiration_days: int = Field(90, ge=1, le=3650)

    @field_validator("vpc_cidr")
    @classmethod
    def _private_cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value)
        except ValueError as err:
            raise ValueError(f"not an IPv4 CIDR block ({err})") from None
        if not network.is_private or not 16 <= network.prefixlen <= 24:
            raise ValueError("must be a private IPv4 block from /16 to /24, e.g. 10.40.0.0/16")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"CloudWatch Logs accepts only {', '.join(map(str, LOG_RETENTION_DAYS))} days")
        return value
