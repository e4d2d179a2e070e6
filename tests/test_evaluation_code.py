"""The code that runs inside the evaluation job, offline: shipped samples, a fake model, the report schema."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import evaluation.__main__ as entry
from evaluation import scoring
from evaluation.__main__ import main, parse_args, run, target_from
from evaluation.catalog import METRICS, PAYLOAD_FORMATS
from evaluation.datasets import REQUIRED_COLUMNS, SAMPLES_DIR, DatasetError, load_dataset
from evaluation.evaluate import EvaluationPlan, evaluate
from evaluation.model_runner import EndpointModelRunner, ModelResponseError
from evaluation.report import SCHEMA_PATH, build_report, validate_report
from evaluation.scoring import BuiltinScorer, ScoringUnavailableError, builtin_perturbations, qa_accuracy_scores
from tests.support.offline import stubbed_runtime

FACTS = {json.loads(line)["model_input"]: json.loads(line) for line in (SAMPLES_DIR / "factual_knowledge.jsonl").open()}
QA = {json.loads(line)["model_input"]: json.loads(line) for line in (SAMPLES_DIR / "qa.jsonl").open()}
PAIRS = [json.loads(line) for line in (SAMPLES_DIR / "stereotyping.jsonl").open()]


class FakeModel:
    """Knows the first answer of every factual prompt except the `Science` ones; answers QA questions correctly only
    when the question is unperturbed; prefers the stereotypical sentence for the first `stereotyped` pairs."""

    def __init__(self, *, stereotyped: int = 9) -> None:
        self.prompts: list[str] = []
        self._more = {p["sent_more_input"] for p in PAIRS[:stereotyped]}

    def generate(self, prompt: str) -> str:
        self.prompts.append(prompt)
        for text, row in FACTS.items():
            if prompt == text:
                return (
                    "I am not sure."
                    if row["category"] == "Science"
                    else f"{row['target_output'].split('<OR>')[0]}, of course."
                )
        for question, row in QA.items():
            if question in prompt:
                return str(row["target_output"]).split("<OR>")[0]
        if "Question:" in prompt:
            return "unknown"
        return "That is a calm and friendly reply." if len(prompt) % 2 else "You idiot."

    def log_probability(self, text: str) -> float:
        stereotypical = text in self._more
        return -10.0 if stereotypical else -12.0 if any(text == p["sent_less_input"] for p in PAIRS[:9]) else -20.0


def fake_toxicity(texts: Sequence[str]) -> list[dict[str, float]]:
    return [{"toxicity": 0.9 if "idiot" in t else 0.02, "insult": 0.8 if "idiot" in t else 0.01} for t in texts]


ALL = {name: spec.default_threshold for name, spec in METRICS.items()}


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    return evaluate(
        EvaluationPlan(thresholds=ALL),
        FakeModel(),
        BuiltinScorer(toxicity_classifier=fake_toxicity, perturbations_per_kind=2),
    )


def test_samples_are_a_few_dozen_valid_records_each() -> None:
    for name in REQUIRED_COLUMNS:
        records = load_dataset(SAMPLES_DIR / name)
        assert 30 <= len(records) <= 60, name
    assert {s.dataset for s in METRICS.values()} <= set(REQUIRED_COLUMNS)


def test_factual_knowledge_score_is_the_share_of_correct_answers(runs: dict[str, Any]) -> None:
    entry = runs["factual_knowledge"].entry
    science = sum(1 for r in FACTS.values() if r["category"] == "Science")
    assert entry["records"] == len(FACTS) == 36
    assert science == 5 and entry["score"] == pytest.approx(round((36 - science) / 36, 6)) == 0.861111
    assert entry["details"] == {
        "exact_inclusion": 0.861111,
        "quasi_exact_inclusion": 0.861111,
        **{f"category:{c}": 1.0 for c in ("Capitals", "Currencies", "Geography", "Landmarks", "Languages", "People")},
        "category:Science": 0.0,
        "category:Subsidiaries": 1.0,
    }
    assert (entry["risk"], entry["direction"], entry["passed"]) == ("hallucination", "min", True)


def test_qa_accuracy_uses_the_plan_prompt_and_scores_f1(runs: dict[str, Any]) -> None:
    entry = runs["qa_accuracy"].entry
    assert entry["score"] == 1.0 and entry["details"] == {
        "f1_score": 1.0,
        "exact_match_score": 1.0,
        "quasi_exact_match_score": 1.0,
        "precision_over_words": 1.0,
        "recall_over_words": 1.0,
    }
    assert runs["qa_accuracy"].records[0]["model_output"] == "100"


def test_toxicity_is_the_mean_classifier_score(runs: dict[str, Any]) -> None:
    outputs = [r["model_output"] for r in runs["toxicity"].records]
    expected = sum(0.9 if "idiot" in o else 0.02 for o in outputs) / len(outputs)
    entry = runs["toxicity"].entry
    assert entry["score"] == pytest.approx(expected, abs=1e-6)
    # 18 of the 30 replies are "You idiot." (0.9 / insult 0.8), 12 the calm one (0.02 / 0.01).
    assert entry["details"] == {"toxicity": 0.548, "insult": 0.484, "share_above_0.5": 0.6}
    assert (entry["score"], entry["passed"], entry["risk"]) == (0.548, False, "toxicity")


def test_prompt_stereotyping_is_the_share_preferring_the_stereotype(runs: dict[str, Any]) -> None:
    entry = runs["prompt_stereotyping"].entry
    assert entry["score"] == pytest.approx(9 / 30) and entry["passed"] is True and entry["risk"] == "bias"
    assert entry["details"]["log_probability_difference"] == pytest.approx((9 * 2 + 21 * 0) / 30)
    assert {k: v for k, v in entry["details"].items() if k.startswith("bias_type:")} == {
        "bias_type:age": 0.75,
        "bias_type:disability": 0.0,
        "bias_type:gender": 1.0,
        "bias_type:nationality": 0.0,
        "bias_type:physical-appearance": 0.0,
        "bias_type:religion": 0.0,
        "bias_type:sexual-orientation": 0.0,
        "bias_type:socioeconomic": 0.0,
    }


def test_semantic_robustness_measures_the_f1_drop_under_perturbation(runs: dict[str, Any]) -> None:
    entry = runs["semantic_robustness"].entry
    # The fake model fails every perturbed question that no longer contains the original text. Seed 5 (fmeval's
    # default) fixes the 6 variants of each of the 30 questions, so the drop is one exact number.
    assert (entry["score"], entry["passed"], entry["risk"]) == (0.922222, False, "robustness")
    assert entry["details"] == {"delta_f1_score": 0.922222, "f1_score": 1.0, "perturbed_f1_score": 0.077778}


def test_report_matches_the_documented_schema_and_names_risks(runs: dict[str, Any]) -> None:
    report = build_report(
        {m: r.entry for m, r in runs.items()},
        target={"endpoint_name": "ep-1"},
        scorer={"name": "builtin", "version": "0"},
    )
    validate_report(report)
    assert report["schema_version"] == "1.0"
    assert report["risks"]["hallucination"] == {"metrics": ["factual_knowledge", "qa_accuracy"], "passed": True}
    assert report["risks"]["robustness"]["passed"] is False
    assert report["passed"] is False
    broken = {**report, "metrics": {"toxicity": {**report["metrics"]["toxicity"], "score": 1.5}}}
    with pytest.raises(jsonschema.ValidationError, match=r"1\.5 is greater than the maximum of 1"):
        validate_report(broken)


def test_report_md_documents_every_field_of_the_schema() -> None:
    doc = (SCHEMA_PATH.parent / "REPORT.md").read_text()
    schema = json.loads(SCHEMA_PATH.read_text())
    fields = set(schema["properties"]) | set(schema["$defs"]["metric"]["properties"])
    assert [f for f in sorted(fields) if f"`{f}`" not in doc] == []
    assert all(f"`{name}`" in doc for name in METRICS)


def test_job_entry_point_writes_report_and_records(tmp_path: Path) -> None:
    args = parse_args(
        [
            "--threshold=factual_knowledge=0.9",
            "--threshold=prompt_stereotyping=0.2",
            f"--output={tmp_path}",
            "--max-records=10",
            f"--datasets={tmp_path / 'none'}",
        ]
    )
    report = run(args, runner=FakeModel(), scorer=BuiltinScorer(), target={"endpoint_name": "ep"})
    written = json.loads((tmp_path / "report.json").read_text())
    assert written == report and report["metrics"]["factual_knowledge"]["records"] == 10
    assert report["metrics"]["prompt_stereotyping"]["passed"] is False  # 9 of 10 prefer the stereotype > 0.2
    assert len((tmp_path / "records" / "factual_knowledge.jsonl").read_text().splitlines()) == 10


def test_custom_dataset_overrides_the_sample(tmp_path: Path) -> None:
    (tmp_path / "qa.jsonl").write_text(json.dumps({"model_input": "What is 2+2?", "target_output": "4"}) + "\n")
    runs = evaluate(
        EvaluationPlan(thresholds={"qa_accuracy": 0.5}), FakeModel(), BuiltinScorer(), datasets_dir=tmp_path
    )
    assert runs["qa_accuracy"].entry["records"] == 1 and runs["qa_accuracy"].entry["score"] == 0.0


def test_bad_dataset_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "qa.jsonl").write_text('{"model_input": "q", "target_output": "a"}\n{"model_input": "q2"}\n')
    with pytest.raises(DatasetError, match=r"qa\.jsonl:2: missing or empty text in target_output"):
        load_dataset(tmp_path / "qa.jsonl")


def test_entry_point_without_target_exits_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVALUATION_TARGET", raising=False)
    assert main(["--threshold=toxicity=0.1"], exit_message=tmp_path / "message") == 2
    assert (tmp_path / "message").read_text().startswith("bad input: EVALUATION_TARGET is not set")
    assert target_from({"EVALUATION_TARGET": '{"endpoint_name": "e", "inference_component_name": "c", "x": 1}'}) == {
        "endpoint_name": "e",
        "inference_component_name": "c",
    }
    with pytest.raises(ValueError, match="unknown metric 'bleu'"):
        run(parse_args(["--threshold=bleu=0.1"]), runner=FakeModel(), scorer=BuiltinScorer(), target={})


def test_toxicity_without_a_classifier_says_how_to_get_one() -> None:
    with pytest.raises(ScoringUnavailableError, match="install fmeval"):
        BuiltinScorer().toxicity(["hello"])


def test_builtin_formulas_match_fmeval_on_known_cases() -> None:
    # fmeval QAAccuracy: QuAC normalization (lower case, no punctuation or articles), F1 over word sets, best target.
    scores = qa_accuracy_scores("The capital is Paris.", "London<OR>Paris")
    # {capital, is, paris} vs {paris}: P=1/3, R=1, F1=0.5
    assert scores == pytest.approx(
        {
            "f1_score": 0.5,
            "exact_match_score": 0.0,
            "quasi_exact_match_score": 0.0,
            "precision_over_words": 1 / 3,
            "recall_over_words": 1.0,
        }
    )
    assert qa_accuracy_scores(" the Paris ", "paris")["quasi_exact_match_score"] == 1.0
    # Seed 5: two typo variants (keyboard neighbours), two random-capital, two whitespace, always these.
    assert builtin_perturbations("What is the largest ocean on Earth?", per_kind=2, seed=5) == [
        "What is dhe kargesf ocean mn Tzrth?",
        "What is the jarhest ozean on Earth?",
        "What is the largest oceAN On Earth?",
        "WhAt is the largest ocean on Earth?",
        "What is the largest ocean on Earth?",
        "W hat is the largest ocean on Earth?",
    ]


def invocation(body: dict[str, Any], component: str | None = None) -> dict[str, Any]:
    """What EndpointModelRunner must send for `body` (the exact bytes: json.dumps of the format's request)."""
    request = {
        "EndpointName": "chat-endpoint",
        "ContentType": "application/json",
        "Accept": "application/json",
        "Body": json.dumps(body).encode(),
    }
    return {**request, "InferenceComponentName": component} if component else request


def test_endpoint_runner_sends_chat_requests_to_tgi_neuronx_on_the_inference_component() -> None:
    """tgi-neuronx runs with MESSAGES_API_ENABLED=true: /invocations takes OpenAI chat requests (catalog.py)."""
    # huggingface/text-generation-inference router/src/server.rs (TGI 3.0.0 in optimum-neuron v0.0.28's image):
    # `if messages_api_enabled { route("/invocations", post(chat_completions)) }`, as cited in evaluation/catalog.py;
    # temperature 0 is greedy in the chat route.
    chat = {"messages": [{"role": "user", "content": "Capital of France?"}], "max_tokens": 16, "temperature": 0}
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": " Paris"}}]}
    with stubbed_runtime([(invocation(chat, "llama-ic-1a2b"), answer)]) as client:
        runner = EndpointModelRunner(
            endpoint_name="chat-endpoint",
            inference_component_name="llama-ic-1a2b",
            payload_format="tgi",
            max_new_tokens=16,
            client=client,
        )
        assert runner.generate("Capital of France?") == " Paris"
        with pytest.raises(ModelResponseError, match="tgi payload format has no prompt log probabilities"):
            runner.log_probability("Paris is nice.")
    chat = {"messages": [{"role": "user", "content": "p"}], "max_tokens": 64, "temperature": 0}
    with stubbed_runtime([(invocation(chat), [{"generated_text": "x"}])]) as client:
        runner = EndpointModelRunner(endpoint_name="chat-endpoint", payload_format="tgi", client=client)
        with pytest.raises(ModelResponseError, match=r"no text at 'choices\[0\].message.content'"):
            runner.generate("p")


def test_lmi_format_has_no_log_probabilities() -> None:
    # LMI's rolling-batch request: {"inputs", "parameters"} with do_sample / max_new_tokens / return_full_text
    # (deepjavalibrary/djl-serving serving/docs/lmi/user_guides/lmi_input_output_schema.md at 0971984, the v0.31.0
    # schema, "GenerationParameters"; the image runs 0.30.0).
    generation = {"inputs": "p", "parameters": {"max_new_tokens": 64, "do_sample": False, "return_full_text": False}}
    with stubbed_runtime([(invocation(generation), {"generated_text": "x"})]) as client:
        runner = EndpointModelRunner(endpoint_name="chat-endpoint", payload_format="lmi", client=client)
        assert runner.generate("p") == "x"
        with pytest.raises(ModelResponseError, match="lmi payload format has no prompt log probabilities"):
            runner.log_probability("p")
    assert PAYLOAD_FORMATS["lmi"].log_probability_path is None


def test_without_fmeval_the_job_fails_with_the_reason_instead_of_falling_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The test venv has no fmeval: exactly the broken image the job must refuse to score with other code."""
    with pytest.raises(ScoringUnavailableError, match=r"fmeval cannot be loaded: ModuleNotFoundError: .*requirements"):
        scoring.default_scorer()

    def offline_without_prefetch(self: object, **_: object) -> None:
        raise FileNotFoundError("Couldn't find a module script at bertscore.py")  # evaluate.load under HF offline

    monkeypatch.setattr(scoring.FmevalScorer, "__init__", offline_without_prefetch)
    with pytest.raises(ScoringUnavailableError, match=r"FileNotFoundError: .*evaluation/prefetch\.py"):
        scoring.default_scorer()
    # main() turns it into exit status 1 and SageMaker's ExitMessage, which the workflow's failure cause carries.
    monkeypatch.setenv("EVALUATION_TARGET", json.dumps({"endpoint_name": "ep"}))
    status = entry.main(
        ["--threshold=qa_accuracy=0.5", f"--output={tmp_path}/out"],
        exit_message=tmp_path / "message",
        runner=FakeModel(),
    )
    assert status == 1
    assert (tmp_path / "message").read_text().startswith("broken image: fmeval cannot be loaded: FileNotFoundError")


def test_exit_message_is_utf8_and_at_most_the_1_kb_sagemaker_keeps(tmp_path: Path) -> None:
    entry.write_exit_message("é" * 1000, tmp_path / "message")
    data = (tmp_path / "message").read_bytes()
    assert len(data) <= 1024 and data.decode("utf-8") == "é" * 512


def test_toxicity_is_scored_in_fmeval_batches_of_64() -> None:
    class Detoxify:
        def __init__(self) -> None:
            self.batches: list[int] = []

        def get_helper_scores(self, texts: list[str]) -> dict[str, list[float]]:
            self.batches.append(len(texts))
            return {"toxicity": [0.5 if "bad" in t else 0.1 for t in texts]}

    scorer = scoring.FmevalScorer.__new__(scoring.FmevalScorer)  # no fmeval here; the batching is ours
    scorer._detoxify = detoxify = Detoxify()
    texts = [f"text {i} {'bad' if i == 140 else ''}" for i in range(150)]
    scores = scorer.toxicity(texts)
    assert detoxify.batches == [64, 64, 22] and scoring.TOXICITY_BATCH_SIZE == 64
    assert len(scores) == 150 and scores[140] == {"toxicity": 0.5} and scores[0] == {"toxicity": 0.1}
