"""`neuronctl invoke` with botocore's Stubber: exact requests, the settings rules, the context window, the faults."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from config import load_config
from neuronctl import cli, tokens
from neuronctl.context import Context
from neuronctl.discovery import Deployment
from neuronctl.errors import CliError, ExitCode
from neuronctl.invoke import InvokeRequest, invoke
from neuronctl.prompts import Prompt, build_prompt, check_context_window, load_examples
from neuronctl.servers import StreamDecoder, protocol
from neuronctl.session import Aws
from neuronctl.tokens import SAFETY_MARGIN, estimate_tokens
from tests.support.offline import stubbed

pytest_plugins = ["tests.support.aws_fixtures"]  # the `aws` and `offline` fixtures
pytestmark = pytest.mark.usefixtures("offline")

EXAMPLES = Path(__file__).resolve().parent.parent / "neuronctl" / "examples" / "sentiment.yaml"
PARAMETER = "/neuron-genai/dev/generation-defaults"
DEFAULTS = {
    "models": {
        "llama": {
            "temperature": 0.6,
            "top_p": 1.0,
            "max_new_tokens": 256,
            "frequency_penalty": 0.0,
            "presence_penalty": 0.0,
            "stop": ["<|eot_id|>"],
            "context_window": 8192,
            "component": "llama-ic-1a2b",
            "server": "tgi-neuronx",
        }
    }
}


@pytest.fixture()
def stubs(aws: Aws) -> Iterator[dict[str, Stubber]]:
    with stubbed(aws, ("cloudformation", "ssm", "sagemaker-runtime", "bedrock-runtime")) as stubbers:
        yield stubbers


def deployment(aws: Aws) -> Deployment:
    return Deployment(load_config("dev", environ={}), aws)


def stack(outputs: dict[str, str], status: str = "CREATE_COMPLETE") -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "s",
                "CreationTime": "2026-11-01T00:00:00Z",
                "StackStatus": status,
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
        ]
    }


INFERENCE_OUTPUTS = {
    "EndpointName": "ep-7f3a",
    "InferenceComponentNames": "llama-ic-1a2b",
    "GenerationDefaultsParameter": PARAMETER,
}


def expect_discovery(
    stubs: dict[str, Stubber], defaults: dict[str, Any] = DEFAULTS, outputs: dict[str, str] = INFERENCE_OUTPUTS
) -> None:
    stubs["cloudformation"].add_response("describe_stacks", stack(outputs), {"StackName": "NeuronGenAI-dev-inference"})
    stubs["ssm"].add_response(
        "get_parameter", {"Parameter": {"Name": PARAMETER, "Value": json.dumps(defaults)}}, {"Name": PARAMETER}
    )


def body(data: Any) -> StreamingBody:
    raw = json.dumps(data).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def expect_invoke(
    stubs: dict[str, Stubber],
    sent: dict[str, Any],
    answer: Any = None,
    component: str | None = "llama-ic-1a2b",
    endpoint: str = "ep-7f3a",
) -> None:
    params = {
        "EndpointName": endpoint,
        "Body": json.dumps(sent).encode(),
        "ContentType": "application/json",
        "Accept": "application/json",
    }
    if component:
        params["InferenceComponentName"] = component
    stubs["sagemaker-runtime"].add_response(
        "invoke_endpoint",
        {"Body": body(answer or [{"generated_text": " positive"}]), "ContentType": "application/json"},
        params,
    )


def test_defaults_come_from_the_stack_and_the_exact_request_is_sent(aws: Aws, stubs: dict[str, Stubber]) -> None:
    expect_discovery(stubs)
    expect_invoke(
        stubs,
        {
            "inputs": "Hello",
            "parameters": {"max_new_tokens": 256, "do_sample": True, "temperature": 0.6, "stop": ["<|eot_id|>"]},
        },
    )
    result = invoke(aws, deployment(aws), InvokeRequest(prompt=build_prompt("Hello"), stream=False))
    assert result.completion == " positive"
    assert (result.target.endpoint, result.target.component, result.target.context_window) == (
        "ep-7f3a",
        "llama-ic-1a2b",
        8192,
    )


def test_command_line_settings_override_the_defaults(aws: Aws, stubs: dict[str, Stubber]) -> None:
    expect_discovery(stubs)
    expect_invoke(
        stubs,
        {
            "inputs": "Hello",
            "parameters": {"max_new_tokens": 64, "do_sample": False, "frequency_penalty": 0.5, "stop": ["\n\n", "END"]},
        },
    )
    result = invoke(
        aws,
        deployment(aws),
        InvokeRequest(
            prompt=build_prompt("Hello"),
            stream=False,
            overrides={"temperature": 0.0, "max_new_tokens": 64, "frequency_penalty": 0.5, "stop": ["\n\n", "END"]},
        ),
    )
    assert result.settings["temperature"] == 0.0  # greedy: TGI gets do_sample false and no temperature


def test_a_setting_the_server_lacks_is_not_sent_and_the_operator_is_told(
    aws: Aws, stubs: dict[str, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    expect_discovery(stubs)
    expect_invoke(
        stubs,
        {
            "inputs": "Hello",
            "parameters": {"max_new_tokens": 256, "do_sample": True, "temperature": 0.6, "stop": ["<|eot_id|>"]},
        },
    )
    result = invoke(
        aws,
        deployment(aws),
        InvokeRequest(prompt=build_prompt("Hello"), stream=False, overrides={"presence_penalty": 0.4}),
    )
    assert result.dropped_settings == ["presence_penalty"]
    assert "note: tgi-neuronx has no presence_penalty parameter; presence_penalty=0.4 is not sent" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"top_p": 0.9},
            "invalid generation settings:\n  - temperature = 0.6 and top_p = 0.9 both differ from neutral "
            "(1.0, 1.0): alter temperature or top_p, not both; set one of them back to 1.0, or pass "
            "--allow-temperature-and-top-p (temperature = 0.6 from temperature (deployed default), top_p = 0.9 from "
            "--top-p)",
        ),
        (
            {"temperature": 2.5},
            "invalid generation settings:\n  - --temperature = 2.5: Input should be less than or equal to 2",
        ),
        (
            {"max_new_tokens": 0},
            "invalid generation settings:\n  - --max-new-tokens = 0: Input should be greater than or equal to 1",
        ),
        (
            {"frequency_penalty": -2.5},
            "invalid generation settings:\n  - --frequency-penalty = -2.5: Input should be greater than or equal to -2",
        ),
        (
            {"stop": ["a", "b", "c", "d", "e"]},
            "invalid generation settings:\n  - --stop = ['a', 'b', 'c', 'd', 'e']: "
            "Tuple should have at most 4 items after validation, not 5",
        ),
    ],
)
def test_settings_out_of_range_are_refused_before_sending(
    aws: Aws, stubs: dict[str, Stubber], overrides: dict[str, Any], message: str
) -> None:
    expect_discovery(stubs)
    with pytest.raises(CliError) as caught:
        invoke(aws, deployment(aws), InvokeRequest(prompt=build_prompt("Hello"), overrides=overrides))
    assert (caught.value.message, caught.value.code) == (message, ExitCode.REFUSED)


def test_both_temperature_and_top_p_pass_when_explicitly_allowed(aws: Aws, stubs: dict[str, Stubber]) -> None:
    expect_discovery(stubs)
    expect_invoke(
        stubs,
        {
            "inputs": "Hello",
            "parameters": {
                "max_new_tokens": 256,
                "do_sample": True,
                "temperature": 0.6,
                "top_p": 0.9,
                "stop": ["<|eot_id|>"],
            },
        },
    )
    invoke(
        aws,
        deployment(aws),
        InvokeRequest(
            prompt=build_prompt("Hello"), stream=False, overrides={"top_p": 0.9}, allow_temperature_and_top_p=True
        ),
    )


def test_few_shot_prompt_is_built_from_the_examples_file() -> None:
    prompt = build_prompt("Arrived broken.", load_examples(EXAMPLES), shots=2)
    assert prompt.text() == (
        "Classify the sentiment of each product review as positive, negative or mixed. Answer with one word.\n\n"
        "Review: The battery lasts two full days and it charges in under an hour.\nSentiment: positive\n\n"
        "Review: It stopped pairing with my phone after a week and support never answered.\nSentiment: negative\n\n"
        "Review: Arrived broken.\nSentiment:"
    )
    assert (
        build_prompt("Arrived broken.", load_examples(EXAMPLES), shots=0)
        .text()
        .endswith("one word.\n\nReview: Arrived broken.\nSentiment:")
    )


@pytest.mark.parametrize("path", sorted(EXAMPLES.parent.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_examples_file_builds_a_prompt_that_ends_where_the_model_continues(path: Path) -> None:
    examples = load_examples(path)
    prompt = build_prompt("QUERY", examples)
    assert len(prompt.examples) == len(examples.examples) >= 2
    assert "QUERY" in prompt.query and prompt.text().endswith(prompt.query) and prompt.query.endswith(":")


def test_bad_examples_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("template: 'Q: {question}'\nexamples: [{input: a}]\n")
    with pytest.raises(CliError) as caught:
        load_examples(path)
    assert caught.value.message == (
        f"invalid configuration in examples file {path}:\n"
        "  - template = 'Q: {question}': the template must contain both {input} and {output}\n"
        "  - examples.0.output = {'input': 'a'}: Field required"
    )


def test_context_window_refuses_before_sending_and_says_how_many_examples_to_drop() -> None:
    prompt = build_prompt("Arrived broken.", load_examples(EXAMPLES))
    with_three = prompt.tokens(3) + 100 + SAFETY_MARGIN
    window = with_three + 1  # three examples fit, four do not
    assert prompt.tokens(4) + 100 + SAFETY_MARGIN > window
    with pytest.raises(CliError) as caught:
        check_context_window(prompt, max_new_tokens=100, context_window=window, model="llama")
    total = prompt.tokens() + 100 + SAFETY_MARGIN
    assert caught.value.code == ExitCode.REFUSED
    assert caught.value.message.endswith(
        f"+ max_new_tokens 100 + margin {SAFETY_MARGIN} = {total} > context window {window} of model 'llama' "
        f"(over by {total - window}): drop 2 of the 5 examples (--shots 3), or lower --max-new-tokens to "
        f"{window - prompt.tokens() - SAFETY_MARGIN}"
    )
    shorter = build_prompt("Arrived broken.", load_examples(EXAMPLES), shots=3)
    assert check_context_window(shorter, max_new_tokens=100, context_window=window, model="llama").total <= window


def test_context_window_with_no_room_at_all_says_to_shorten_the_prompt() -> None:
    prompt = Prompt("", (), "word " * 50)
    with pytest.raises(CliError, match=r"shorten the prompt by at least \d+ tokens: even without examples"):
        check_context_window(prompt, max_new_tokens=10, context_window=20, model="m")


def test_context_window_check_happens_before_any_invoke(aws: Aws, stubs: dict[str, Stubber]) -> None:
    small = {"models": {"llama": {**DEFAULTS["models"]["llama"], "context_window": 300}}}
    expect_discovery(stubs, small)  # no runtime response queued: a request would fail the stubber
    with pytest.raises(CliError) as caught:
        invoke(aws, deployment(aws), InvokeRequest(prompt=build_prompt("Arrived broken.", load_examples(EXAMPLES))))
    assert "context window 300 of model 'llama'" in caught.value.message
    assert "(--shots" in caught.value.message


def test_stack_not_deployed_says_how_to_deploy(aws: Aws, stubs: dict[str, Stubber]) -> None:
    stubs["cloudformation"].add_client_error(
        "describe_stacks",
        "ValidationError",
        "Stack with id NeuronGenAI-dev-inference does not exist",
        400,
        expected_params={"StackName": "NeuronGenAI-dev-inference"},
    )
    with pytest.raises(CliError) as caught:
        invoke(aws, deployment(aws), InvokeRequest(prompt=build_prompt("Hello")))
    assert (caught.value.message, caught.value.code) == (
        "stack NeuronGenAI-dev-inference is not deployed in us-east-1 (profile 'dev'): deploy it with "
        "`cdk deploy NeuronGenAI-dev-inference -c profile=dev`",
        ExitCode.NOT_FOUND,
    )


def test_failed_stack_is_reported(aws: Aws, stubs: dict[str, Stubber]) -> None:
    stubs["cloudformation"].add_response(
        "describe_stacks", stack({}, "ROLLBACK_COMPLETE"), {"StackName": "NeuronGenAI-dev-inference"}
    )
    with pytest.raises(CliError, match="is in state ROLLBACK_COMPLETE: fix the deployment"):
        invoke(aws, deployment(aws), InvokeRequest(prompt=build_prompt("Hello")))


def test_endpoint_not_found_says_to_deploy(aws: Aws, stubs: dict[str, Stubber]) -> None:
    expect_discovery(stubs)
    stubs["sagemaker-runtime"].add_client_error(
        "invoke_endpoint", "ValidationError", "Endpoint ep-7f3a of account 111122223333 not found.", 400
    )
    with pytest.raises(CliError) as caught:
        invoke(aws, deployment(aws), InvokeRequest(prompt=build_prompt("Hello"), stream=False))
    assert (caught.value.message, caught.value.code) == (
        "Endpoint ep-7f3a of account 111122223333 not found (region us-east-1): deploy it with "
        "`cdk deploy NeuronGenAI-dev-inference -c profile=dev`",
        ExitCode.NOT_FOUND,
    )


def test_several_components_need_a_choice(aws: Aws, stubs: dict[str, Stubber]) -> None:
    stubs["cloudformation"].add_response(
        "describe_stacks",
        stack({"EndpointName": "ep-7f3a", "InferenceComponentNames": "llama-ic,mistral-ic"}),
        {"StackName": "NeuronGenAI-dev-inference"},
    )
    with pytest.raises(CliError) as caught:
        invoke(aws, deployment(aws), InvokeRequest(prompt=build_prompt("Hello"), server="tgi-neuronx"))
    assert (caught.value.message, caught.value.code) == (
        "endpoint ep-7f3a hosts 2 inference components (llama-ic, mistral-ic): choose one with --component or --model",
        ExitCode.USAGE,
    )


def test_unknown_component_is_not_found(aws: Aws, stubs: dict[str, Stubber]) -> None:
    expect_discovery(stubs)
    with pytest.raises(CliError) as caught:
        invoke(aws, deployment(aws), InvokeRequest(prompt=build_prompt("Hello"), component="nope"))
    assert caught.value.code == ExitCode.NOT_FOUND
    assert caught.value.message == (
        "inference component 'nope' is not on endpoint ep-7f3a; its components: llama-ic-1a2b"
    )


def test_scale_from_zero_is_waited_for(aws: Aws, stubs: dict[str, Stubber], capsys: pytest.CaptureFixture[str]) -> None:
    expect_discovery(stubs)
    stubs["sagemaker-runtime"].add_client_error(
        "invoke_endpoint",
        "ValidationError",
        "Inference Component has no capacity to process this request. "
        "ApplicationAutoScaling may be in-progress (if configured)",
        400,
    )
    expect_invoke(
        stubs,
        {
            "inputs": "Hello",
            "parameters": {"max_new_tokens": 256, "do_sample": True, "temperature": 0.6, "stop": ["<|eot_id|>"]},
        },
    )
    waits: list[float] = []
    result = invoke(aws, deployment(aws), InvokeRequest(prompt=build_prompt("Hello"), stream=False), sleep=waits.append)
    assert result.not_ready_retries == 1 and waits == [2.0]
    assert "is not ready (scaling out from zero: Inference Component has no capacity" in capsys.readouterr().err


def test_model_not_ready_past_the_wait_budget_gives_up(aws: Aws, stubs: dict[str, Stubber]) -> None:
    stubs["sagemaker-runtime"].add_client_error("invoke_endpoint", "ModelNotReadyException", "not ready", 429)
    with pytest.raises(CliError) as caught:
        invoke(
            aws,
            None,
            InvokeRequest(
                prompt=build_prompt("Hi"),
                endpoint="ep",
                server="tgi-neuronx",
                context_window=4096,
                stream=False,
                wait_ready_s=0,
            ),
        )
    assert (caught.value.message, caught.value.code) == (
        "endpoint ep is still not ready after waiting 0 s (ModelNotReady: not ready); check the component's copies "
        "and the endpoint's scaling activity, or raise --wait-ready",
        ExitCode.UNAVAILABLE,
    )


# A guardrail ID as CreateGuardrail returns it: lowercase letters and digits (bedrock service model, shape GuardrailId,
# pattern [a-z0-9]+, in the installed botocore 1.44.8); the runtime refuses anything else as guardrailIdentifier.
GUARDRAIL_ID = "q7xk2m9d4t1z"


def guardrail_setup(stubs: dict[str, Stubber]) -> None:
    expect_discovery(stubs)
    stubs["cloudformation"].add_response(
        "describe_stacks",
        stack({"GuardrailId": GUARDRAIL_ID, "GuardrailVersion": "3"}),
        {"StackName": "NeuronGenAI-dev-evaluation"},
    )


def test_streaming_with_the_guardrail_is_refused_before_any_call(aws: Aws) -> None:
    """A stream leaves before the output guardrail runs: refused (no stub is set, so any AWS call would fail)."""
    request = InvokeRequest(prompt=build_prompt("Hello"), guardrail=True, stream=True)
    with pytest.raises(CliError) as caught:
        invoke(aws, None, request)
    assert caught.value.code == ExitCode.USAGE and "drop --stream" in caught.value.message


def test_guardrail_blocks_the_prompt(aws: Aws, stubs: dict[str, Stubber]) -> None:
    guardrail_setup(stubs)
    stubs["bedrock-runtime"].add_response(
        "apply_guardrail",
        {
            "usage": {
                "topicPolicyUnits": 1,
                "contentPolicyUnits": 1,
                "wordPolicyUnits": 0,
                "sensitiveInformationPolicyUnits": 0,
                "sensitiveInformationPolicyFreeUnits": 0,
                "contextualGroundingPolicyUnits": 0,
            },
            "action": "GUARDRAIL_INTERVENED",
            "outputs": [{"text": "Sorry, I cannot help with that."}],
            "assessments": [
                {"contentPolicy": {"filters": [{"type": "VIOLENCE", "confidence": "HIGH", "action": "BLOCKED"}]}}
            ],
        },
        {
            "guardrailIdentifier": GUARDRAIL_ID,
            "guardrailVersion": "3",
            "source": "INPUT",
            "content": [{"text": {"text": "Hello"}}],
        },
    )
    with pytest.raises(CliError) as caught:
        invoke(aws, deployment(aws), InvokeRequest(prompt=build_prompt("Hello"), guardrail=True))
    assert (caught.value.message, caught.value.code) == (
        f"guardrail {GUARDRAIL_ID} v3 blocked the prompt: content:VIOLENCE(HIGH); it answers: Sorry, I cannot help "
        "with that.",
        ExitCode.BLOCKED,
    )


def test_guardrail_checks_the_completion_with_query_and_grounding(aws: Aws, stubs: dict[str, Stubber]) -> None:
    guardrail_setup(stubs)
    usage = {
        "topicPolicyUnits": 1,
        "contentPolicyUnits": 1,
        "wordPolicyUnits": 0,
        "sensitiveInformationPolicyUnits": 0,
        "sensitiveInformationPolicyFreeUnits": 0,
        "contextualGroundingPolicyUnits": 1,
    }
    stubs["bedrock-runtime"].add_response(
        "apply_guardrail",
        {"usage": usage, "action": "NONE", "outputs": [], "assessments": []},
        {
            "guardrailIdentifier": GUARDRAIL_ID,
            "guardrailVersion": "3",
            "source": "INPUT",
            "content": [{"text": {"text": "Hello"}}],
        },
    )
    expect_invoke(
        stubs,
        {
            "inputs": "Hello",
            "parameters": {"max_new_tokens": 256, "do_sample": True, "temperature": 0.6, "stop": ["<|eot_id|>"]},
        },
    )
    stubs["bedrock-runtime"].add_response(
        "apply_guardrail",
        {"usage": usage, "action": "NONE", "outputs": [], "assessments": []},
        {
            "guardrailIdentifier": GUARDRAIL_ID,
            "guardrailVersion": "3",
            "source": "OUTPUT",
            "content": [
                {"text": {"text": "The manual says hi.", "qualifiers": ["grounding_source"]}},
                {"text": {"text": "Hello", "qualifiers": ["query"]}},
                {"text": {"text": " positive", "qualifiers": ["guard_content"]}},
            ],
        },
    )
    result = invoke(
        aws,
        deployment(aws),
        InvokeRequest(prompt=build_prompt("Hello"), guardrail=True, grounding="The manual says hi."),
    )
    assert not result.streamed  # the guardrail must see the whole completion before it is shown
    assert result.guardrail == {
        "input": {"action": "NONE", "findings": []},
        "output": {"action": "NONE", "findings": []},
    }


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        (
            "lmi-neuronx",
            {
                "inputs": "Hi",
                "parameters": {
                    "max_new_tokens": 32,
                    "do_sample": True,
                    "temperature": 1.0,
                    "top_p": 0.8,
                    "presence_penalty": 0.3,
                    "stop": ["###"],
                },
                "stream": True,
            },
        ),
        (
            "vllm-neuronx",
            {
                "prompt": "Hi",
                "max_tokens": 32,
                "temperature": 1.0,
                "top_p": 0.8,
                "frequency_penalty": 0.0,
                "presence_penalty": 0.3,
                "stop": ["###"],
                "stream": True,
            },
        ),
        (
            "hf-inference-neuronx",
            {
                "inputs": "Hi",
                "parameters": {
                    "max_new_tokens": 32,
                    "do_sample": True,
                    "temperature": 1.0,
                    "top_p": 0.8,
                    "stop_sequences": ["###"],
                },
            },
        ),
    ],
)
def test_each_server_gets_its_own_request_shape(server: str, expected: dict[str, Any]) -> None:
    settings = {
        "temperature": 1.0,
        "top_p": 0.8,
        "max_new_tokens": 32,
        "frequency_penalty": 0.0,
        "presence_penalty": 0.3,
        "stop": ["###"],
    }
    assert protocol(server).build("Hi", settings, protocol(server).streams) == expected


def test_stream_decoder_reads_server_sent_events_and_json_lines() -> None:
    decoder = StreamDecoder()
    sse = [b'data: {"choices": [{"text": "Hel"}]}\n\ndata: {"choi', b'ces": [{"text": "lo"}]}\n\n', b"data: [DONE]\n\n"]
    assert "".join(decoder.feed(p) for p in sse) + decoder.close() == "Hello"
    lines = StreamDecoder()
    assert lines.feed(b'{"token": {"id": 1, "text": "a"}}\n{"token": {"id": 2, "text": "b"}}') == "a"
    assert lines.close() == "b"


def test_token_estimate_against_counts_of_the_real_llama3_tokenizer() -> None:
    # Real counts measured with tiktoken + Meta's Llama 3 tokenizer.model (not shipped; see README-neuronctl.md).
    prose = "Classify the sentiment of each product review as positive, negative or mixed. Answer with one word."
    technical = "The quick brown fox jumps over the lazy dog. Inferentia2 has 32 GiB of HBM per chip."
    assert 20 <= estimate_tokens(prose) <= 20 * 1.2  # real: 20
    assert estimate_tokens(technical) + SAFETY_MARGIN >= 25  # real: 25; the margin covers acronym-heavy text
    few_shot = build_prompt("The hinge snapped after two days.", load_examples(EXAMPLES))
    assert 134 <= few_shot.tokens() <= 134 * 1.2  # real: 134 for the five-example prompt


def test_invoke_json_through_main_prints_the_completion_and_what_was_sent(
    aws: Aws, stubs: dict[str, Stubber], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """argv in, exit code and stdout out: discovery, the published defaults, the request, the JSON result."""
    expect_discovery(stubs)
    expect_invoke(
        stubs,
        {
            "inputs": "Is this review positive? Great hinge.",
            "parameters": {"max_new_tokens": 32, "do_sample": True, "temperature": 0.6, "stop": ["<|eot_id|>"]},
        },
    )
    monkeypatch.setattr(Context, "aws", property(lambda self: aws))
    code = cli.main(
        ["invoke", "Is this review positive? Great hinge.", "--max-new-tokens", "32", "--no-stream", "--json"]
    )
    captured = capsys.readouterr()
    assert (code, captured.err) == (ExitCode.OK, "")
    result = json.loads(captured.out)
    assert 0 <= result.pop("seconds") < 5
    assert result == {
        "endpoint": "ep-7f3a",
        "component": "llama-ic-1a2b",
        "model": "llama",
        "server": "tgi-neuronx",
        "settings": {  # the published defaults with --max-new-tokens on top (TGI sends only what differs)
            "temperature": 0.6,
            "top_p": 1.0,
            "max_new_tokens": 32,
            "frequency_penalty": 0.0,
            "presence_penalty": 0.0,
            "stop": ["<|eot_id|>"],
        },
        "settings_not_sent": [],
        "prompt_tokens_estimate": 9,  # neuronctl/tokens.py's estimate of the 37-character prompt
        "context_window": 8192,
        "token_count_method": tokens.METHOD,
        "completion": " positive",
        "streamed": False,
        "not_ready_retries": 0,
        "guardrail": {},
    }


def test_cli_refusal_exits_3_with_one_message(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        [
            "invoke",
            "Hello",
            "--endpoint",
            "ep",
            "--server",
            "tgi-neuronx",
            "--context-window",
            "64",
            "--max-new-tokens",
            "100",
        ]
    )
    assert code == ExitCode.REFUSED
    assert capsys.readouterr().err.splitlines() == [
        "neuronctl: error: prompt is ~1 tokens (estimated high, see neuronctl/tokens.py) + max_new_tokens 100 + margin "
        "8 = 109 > context window 64 "
        "of model 'ep' (over by 45): lower --max-new-tokens to 55"
    ]


def test_unknown_key_in_an_examples_file_lists_the_examples_file_keys(tmp_path: Path) -> None:
    """The allowed keys come from the examples file's own model, not from the profile's (a past bug)."""
    path = tmp_path / "extra.yaml"
    path.write_text("template: '{input} -> {output}'\nexamples: [{input: a, output: b, label: c}]\nregion: x\n")
    with pytest.raises(CliError) as caught:
        load_examples(path)
    assert caught.value.message == (
        f"invalid configuration in examples file {path}:\n"
        "  - examples.0.label: unknown key; allowed here: input, output\n"
        "  - region: unknown key; allowed here: examples, instruction, separator, template"
    )
