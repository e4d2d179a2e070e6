"""boto3 clients configured once: standard retry mode, explicit timeouts, the region of the deployed profile.

Retries: botocore's `standard` mode retries throttling (with a 1 s exponential base), 5xx and connection errors (with
a 50 ms base), each with full jitter, up to `max_attempts` requests in all. It never retries ModelError (424) or
ModelNotReady (429, a modelled error): `neuronctl.invoke` handles those itself.

Timeouts: a SageMaker real-time container must answer within 60 s, so the runtime client waits 70 s: the container's
own timeout error arrives first and a slow generation is not cut off and sent again (botocore retries read timeouts,
which would run the same generation twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from neuronctl import __version__

CONTAINER_LIMIT_S = 60  # SageMaker real-time endpoints: the container must respond within 60 seconds
RUNTIME_READ_TIMEOUT_S = 70.0  # above CONTAINER_LIMIT_S, see module docstring
CONTROL_READ_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
DEFAULT_MAX_ATTEMPTS = 3  # botocore's standard-mode default, stated so tests and --help can name it
RUNTIME_SERVICES = frozenset({"sagemaker-runtime", "bedrock-runtime"})


@dataclass(frozen=True)
class AwsOptions:
    region: str
    aws_profile: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    runtime_read_timeout: float = RUNTIME_READ_TIMEOUT_S
    control_read_timeout: float = CONTROL_READ_TIMEOUT_S
    connect_timeout: float = CONNECT_TIMEOUT_S
    endpoint_urls: Mapping[str, str] = field(default_factory=dict)  # service -> URL (tests, VPC endpoints)


class Aws:
    """One boto3 session and one client per service, all with the same retry and timeout policy."""

    def __init__(self, options: AwsOptions, session: boto3.session.Session | None = None) -> None:
        self.options = options
        self.session = session or boto3.session.Session(profile_name=options.aws_profile, region_name=options.region)
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str:
        return self.options.region

    def config(self, service: str) -> Config:
        runtime = service in RUNTIME_SERVICES
        return Config(
            region_name=self.options.region,
            retries={"mode": "standard", "total_max_attempts": self.options.max_attempts},
            connect_timeout=self.options.connect_timeout,
            read_timeout=self.options.runtime_read_timeout if runtime else self.options.control_read_timeout,
            user_agent_extra=f"neuronctl/{__version__}",
        )

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service,
                config=self.config(service),
                endpoint_url=self.options.endpoint_urls.get(service),
            )
        return self._clients[service]
