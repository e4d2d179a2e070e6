"""How the job talks to the model under evaluation: a SageMaker endpoint or one inference component on it.

The serving containers differ in request and response shape; a `PayloadFormat` names both. Generation is greedy
(`do_sample: false`) so that a perturbed prompt is the only thing that changes an answer.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import jmespath

from evaluation.catalog import PAYLOAD_FORMATS, PayloadFormat


class ModelRunner(Protocol):
    def generate(self, prompt: str) -> str: ...
    def log_probability(self, text: str) -> float: ...


class ModelResponseError(RuntimeError):
    pass


def extract_text(payload: Any, fmt: PayloadFormat) -> str:
    text = jmespath.search(fmt.output_path, payload)
    if not isinstance(text, str):
        raise ModelResponseError(
            f"the {fmt.name} response has no text at {fmt.output_path!r}: {json.dumps(payload)[:300]}"
        )
    return text


def require_log_probabilities(fmt: PayloadFormat) -> str:
    """The format's path to the prompt log probabilities; refused before any request for a format that has none."""
    if fmt.log_probability_path is None:
        raise ModelResponseError(f"the {fmt.name} payload format has no prompt log probabilities")
    return fmt.log_probability_path


def extract_log_probability(payload: Any, fmt: PayloadFormat) -> float:
    """Sum of the prompt tokens' log probabilities (the first token has none and is skipped)."""
    path = require_log_probabilities(fmt)
    values = jmespath.search(path, payload)
    numbers = [float(v) for v in values or [] if v is not None]
    if not numbers:
        raise ModelResponseError(
            f"the {fmt.name} response has no log probabilities at {path!r}: {json.dumps(payload)[:300]}"
        )
    return sum(numbers)


class EndpointModelRunner:
    """Invokes a SageMaker endpoint (optionally one inference component) through the sagemaker-runtime API."""

    def __init__(
        self,
        *,
        endpoint_name: str,
        payload_format: str,
        inference_component_name: str | None = None,
        max_new_tokens: int = 64,
        client: Any = None,
    ) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            # The container's own limit is 60 s; a longer read timeout avoids a retried duplicate generation.
            client = boto3.client(
                "sagemaker-runtime", config=Config(read_timeout=70, retries={"mode": "standard", "max_attempts": 5})
            )
        self._client = client
        self._endpoint = endpoint_name
        self._component = inference_component_name
        self._format = PAYLOAD_FORMATS[payload_format]
        self._max_new_tokens = max_new_tokens

    def _invoke(self, body: dict[str, Any]) -> Any:
        request: dict[str, Any] = {
            "EndpointName": self._endpoint,
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": json.dumps(body).encode(),
        }
        if self._component:
            request["InferenceComponentName"] = self._component
        response = self._client.invoke_endpoint(**request)
        return json.loads(response["Body"].read())

    def generate(self, prompt: str) -> str:
        return extract_text(self._invoke(self._format.generation_request(prompt, self._max_new_tokens)), self._format)

    def log_probability(self, text: str) -> float:
        require_log_probabilities(self._format)  # not an endpoint call per record only to fail on the answer
        return extract_log_probability(self._invoke(self._format.log_probability_request(text)), self._format)
