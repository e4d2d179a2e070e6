"""How each Neuron serving container wants a generation request, and how its answers (whole or streamed) read.

One table per server says which generation settings its request schema has; a setting the server lacks is not
sent, and the operator is told. Sources (checked 2026-11): TGI `GenerateParameters` (text-generation-inference
OpenAPI, /generate; top_p must be < 1 and temperature > 0, sampling off means greedy); LMI rolling-batch input schema
(djl-serving "LMI input output schema", TGI-compatible with OpenAI-style penalties); vLLM OpenAI-compatible
completions request served at /invocations by the SageMaker vLLM container; Hugging Face inference toolkit (`inputs` +
`parameters`, no streaming).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SETTING_NAMES = ("temperature", "top_p", "max_new_tokens", "frequency_penalty", "presence_penalty", "stop")


@dataclass(frozen=True)
class ServerProtocol:
    name: str
    streams: bool
    supports: frozenset[str]
    build: Callable[[str, Mapping[str, Any], bool], dict[str, Any]]

    def unsupported(self, settings: Mapping[str, Any]) -> list[str]:
        """Settings given a non-neutral value that this server's request has no field for."""
        neutral: dict[str, Any] = {"frequency_penalty": 0.0, "presence_penalty": 0.0, "stop": []}
        return [
            k for k, v in settings.items() if k not in self.supports and v is not None and v != neutral.get(k, object())
        ]


def _tgi_parameters(settings: Mapping[str, Any], *, stop_key: str) -> dict[str, Any]:
    params: dict[str, Any] = {"max_new_tokens": settings["max_new_tokens"]}
    temperature, top_p = settings.get("temperature"), settings.get("top_p")
    sampling = bool(temperature) or (top_p is not None and top_p < 1.0)
    params["do_sample"] = sampling
    if sampling and temperature:
        params["temperature"] = temperature
    if sampling and top_p is not None and top_p < 1.0:
        params["top_p"] = top_p  # TGI rejects top_p = 1.0: leaving it out means "no nucleus filter"
    for key in ("frequency_penalty", "presence_penalty"):
        if settings.get(key):
            params[key] = settings[key]
    if settings.get("stop"):
        params[stop_key] = list(settings["stop"])
    return params


def _tgi(prompt: str, settings: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    params = _tgi_parameters(settings, stop_key="stop")
    params.pop("presence_penalty", None)
    return {"inputs": prompt, "parameters": params, **({"stream": True} if stream else {})}


def _lmi(prompt: str, settings: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    return {
        "inputs": prompt,
        "parameters": _tgi_parameters(settings, stop_key="stop"),
        **({"stream": True} if stream else {}),
    }


def _openai_completions(prompt: str, settings: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": prompt, "max_tokens": settings["max_new_tokens"]}
    for key in ("temperature", "top_p", "frequency_penalty", "presence_penalty"):
        if settings.get(key) is not None:
            body[key] = settings[key]
    if settings.get("stop"):
        body["stop"] = list(settings["stop"])
    if stream:
        body["stream"] = True
    return body


def _hf_toolkit(prompt: str, settings: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    params = _tgi_parameters(settings, stop_key="stop_sequences")
    params.pop("frequency_penalty", None)
    params.pop("presence_penalty", None)
    return {"inputs": prompt, "parameters": params}


PROTOCOLS: dict[str, ServerProtocol] = {
    p.name: p
    for p in (
        ServerProtocol(
            "tgi-neuronx",
            True,
            frozenset({"temperature", "top_p", "max_new_tokens", "frequency_penalty", "stop"}),
            _tgi,
        ),
        ServerProtocol("lmi-neuronx", True, frozenset(SETTING_NAMES), _lmi),
        ServerProtocol("vllm-neuronx", True, frozenset(SETTING_NAMES), _openai_completions),
        ServerProtocol(
            "hf-inference-neuronx", False, frozenset({"temperature", "top_p", "max_new_tokens", "stop"}), _hf_toolkit
        ),
        ServerProtocol(
            "neuron-v1-inference", False, frozenset({"temperature", "top_p", "max_new_tokens", "stop"}), _hf_toolkit
        ),
    )
}


def protocol(server: str) -> ServerProtocol:
    try:
        return PROTOCOLS[server]
    except KeyError:
        raise ValueError(f"server {server!r} is unknown; known: {', '.join(PROTOCOLS)}") from None


def completion_text(payload: Any) -> str:
    """The generated text of a whole (non-streamed) answer from any of the servers above."""
    if isinstance(payload, list) and payload:
        return completion_text(payload[0])
    if isinstance(payload, dict):
        if isinstance(payload.get("generated_text"), str):
            return str(payload["generated_text"])
        choices = payload.get("choices")
        if isinstance(choices, list) and choices:
            first = choices[0]
            if isinstance(first.get("text"), str):
                return str(first["text"])
            message = first.get("message") or {}
            if isinstance(message.get("content"), str):
                return str(message["content"])
    return json.dumps(payload)


def _token_text(event: Any) -> str:
    if not isinstance(event, dict):
        return ""
    token = event.get("token")
    if isinstance(token, dict):
        return "" if token.get("special") else str(token.get("text", ""))
    choices = event.get("choices")
    if isinstance(choices, list) and choices:
        first = choices[0]
        if isinstance(first.get("text"), str):
            return str(first["text"])
        delta = first.get("delta") or {}
        return str(delta.get("content") or "")
    return ""


class StreamDecoder:
    """Turn PayloadPart bytes into text: lines of JSON (LMI) or server-sent events (TGI, vLLM), split anywhere."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> str:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        return "".join(self._line(line) for line in lines)

    def close(self) -> str:
        rest, self._buffer = self._buffer, b""
        return self._line(rest)

    @staticmethod
    def _line(raw: bytes) -> str:
        line = raw.decode("utf-8", errors="replace").strip()
        if line.startswith("data:"):
            line = line[len("data:") :].strip()
        if not line or line == "[DONE]" or line.startswith((":", "event:", "id:", "retry:")):
            return ""
        try:
            return _token_text(json.loads(line))
        except json.JSONDecodeError:
            return ""
