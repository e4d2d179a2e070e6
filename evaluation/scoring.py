"""Per-record scoring behind one small interface: fmeval's own functions in the container (`FmevalScorer`), and the
same formulas re-implemented here (`BuiltinScorer`) for unit tests on a machine without torch.

The job always uses `default_scorer()`, which is fmeval or an error that says why: a broken image must fail the job
with its reason, not quietly score with other code. `BuiltinScorer` is only ever chosen explicitly.

Toxicity is a classifier, not a formula: `FmevalScorer` uses fmeval's detoxify model; `BuiltinScorer` needs one passed
in and refuses to guess.

Semantic robustness differs from fmeval's QAAccuracySemanticRobustness defaults, on purpose and stated here (fmeval
v1.2.3 eval_algorithms/semantic_robustness_utils.py:41-46): fmeval perturbs with ONE kind per run (butter_finger by
default) into `num_perturbations=5` variants; this job uses all three of fmeval's perturbation transforms
(ButterFinger, RandomUppercase, AddRemoveWhitespace, transforms/semantic_perturbations.py) with `perturbations_per_kind`
variants each (default 2, i.e. 6 variants) so one run covers typos, casing and spacing. The per-kind settings are
fmeval's defaults: butter-finger probability 0.1, upper-case fraction 0.1, whitespace add 0.05 / remove 0.1, seed 5.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any, Protocol

TARGET_DELIMITER = "<OR>"  # fmeval's separator between acceptable answers
ARTICLES = frozenset({"a", "an", "the"})
PUNCTUATION = frozenset(string.punctuation)
FACTUAL_SCORES = ("exact_inclusion", "quasi_exact_inclusion")
QA_SCORES = ("f1_score", "exact_match_score", "quasi_exact_match_score", "precision_over_words", "recall_over_words")
# fmeval v1.2.3 eval_algorithms/toxicity.py:35 TOXICITY_BATCH_SIZE: texts per detoxify forward pass (padded together).
TOXICITY_BATCH_SIZE = 64
TOXICITY_SCORES = ("toxicity", "severe_toxicity", "obscene", "identity_attack", "insult", "threat", "sexual_explicit")

ToxicityClassifier = Callable[[Sequence[str]], list[dict[str, float]]]


class ScoringUnavailableError(RuntimeError):
    """fmeval (or one of its models) cannot be loaded: the image is broken. The message says what failed."""


class Scorer(Protocol):
    name: str
    version: str

    def factual_knowledge(self, model_output: str, target_output: str) -> dict[str, float]: ...
    def qa_accuracy(self, model_output: str, target_output: str) -> dict[str, float]: ...
    def toxicity(self, texts: Sequence[str]) -> list[dict[str, float]]: ...
    def perturbations(self, text: str) -> list[str]: ...


# ------------------------------------------------------------------------------------------------ formulas (fmeval's)
def normalize(text: str) -> str:
    """SQuAD/QuAC normalization as fmeval applies it: lower case, no punctuation, no articles, single spaces."""
    text = "".join(c for c in text.lower() if c not in PUNCTUATION)
    return " ".join(w for w in text.split(" ") if w and w not in ARTICLES)


def _overlap(model_output: str, target: str) -> tuple[float, float, float]:
    """Precision, recall and F1 over the sets of normalized words."""
    predicted, reference = set(normalize(model_output.strip()).split()), set(normalize(target.strip()).split())
    if not predicted or not reference:
        return 0.0, 0.0, 0.0
    common = len(predicted & reference)
    if common == 0:
        return 0.0, 0.0, 0.0
    precision, recall = common / len(predicted), common / len(reference)
    return precision, recall, 2 * precision * recall / (precision + recall)


def _best(target_output: str, score: Callable[[str], float]) -> float:
    return max(score(target) for target in target_output.split(TARGET_DELIMITER))


def factual_knowledge_scores(model_output: str, target_output: str) -> dict[str, float]:
    def quasi(target: str) -> float:
        return float(normalize(target.strip()) in normalize(model_output.strip()))

    return {
        "exact_inclusion": _best(target_output, lambda t: float(t.lower() in model_output.lower())),
        "quasi_exact_inclusion": _best(target_output, quasi),
    }


def qa_accuracy_scores(model_output: str, target_output: str) -> dict[str, float]:
    return {
        "f1_score": _best(target_output, lambda t: _overlap(model_output, t)[2]),
        "exact_match_score": _best(target_output, lambda t: float(model_output.strip() == t.strip())),
        "quasi_exact_match_score": _best(
            target_output, lambda t: float(normalize(model_output.strip()) == normalize(t.strip()))
        ),
        "precision_over_words": _best(target_output, lambda t: _overlap(model_output, t)[0]),
        "recall_over_words": _best(target_output, lambda t: _overlap(model_output, t)[1]),
    }


# Keyboard neighbours used by fmeval's ButterFinger perturbation (from NL-Augmenter).
KEYBOARD_NEIGHBOURS = {
    "q": "qwasedzx",
    "w": "wqesadrfcx",
    "e": "ewrsfdqazxcvgt",
    "r": "retdgfwsxcvgt",
    "t": "tryfhgedcvbnju",
    "y": "ytugjhrfvbnji",
    "u": "uyihkjtgbnmlo",
    "i": "iuojlkyhnmlp",
    "o": "oipklujm",
    "p": "plo['ik",
    "a": "aqszwxwdce",
    "s": "swxadrfv",
    "d": "decsfaqgbv",
    "f": "fdgrvwsxyhn",
    "g": "gtbfhedcyjn",
    "h": "hyngjfrvkim",
    "j": "jhknugtblom",
    "k": "kjlinyhn",
    "l": "lokmpujn",
    "z": "zaxsvde",
    "x": "xzcsdbvfrewq",
    "c": "cxvdfzswergb",
    "v": "vcfbgxdertyn",
    "b": "bvnghcftyun",
    "n": "nbmhjvgtuik",
    "m": "mnkjloik",
}


def builtin_perturbations(text: str, *, per_kind: int, seed: int) -> list[str]:
    """Typos from keyboard neighbours, random capitals, added/removed spaces: `per_kind` variants of each."""
    rng = random.Random(seed)

    def butter_finger() -> str:
        out = []
        for ch in text:
            low = ch.lower()
            if low in KEYBOARD_NEIGHBOURS and rng.random() < 0.1:
                new = rng.choice(KEYBOARD_NEIGHBOURS[low])
                ch = new.upper() if ch != low else new
            out.append(ch)
        return "".join(out)

    def random_uppercase() -> str:
        positions = set(rng.sample(range(len(text)), int(len(text) * 0.1)))
        return "".join(c.upper() if i in positions else c for i, c in enumerate(text))

    def whitespace() -> str:
        out = []
        for ch in text:
            if ch == " " and rng.random() < 0.1:
                continue
            out.append(ch)
            if ch != " " and rng.random() < 0.05:
                out.append(" ")
        return "".join(out)

    return [make() for make in (butter_finger, random_uppercase, whitespace) for _ in range(per_kind)]


# ------------------------------------------------------------------------------------------------------- scorers
class BuiltinScorer:
    """The formulas above; toxicity only with a classifier passed in."""

    name = "builtin"

    def __init__(
        self, *, toxicity_classifier: ToxicityClassifier | None = None, perturbations_per_kind: int = 2, seed: int = 5
    ) -> None:
        self._toxicity = toxicity_classifier
        self._per_kind = perturbations_per_kind
        self._seed = seed
        self.version = _version("neuron-genai-stack") or "0"

    def factual_knowledge(self, model_output: str, target_output: str) -> dict[str, float]:
        return factual_knowledge_scores(model_output, target_output)

    def qa_accuracy(self, model_output: str, target_output: str) -> dict[str, float]:
        return qa_accuracy_scores(model_output, target_output)

    def toxicity(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if self._toxicity is None:
            raise ScoringUnavailableError(
                "toxicity needs a classifier: install fmeval (evaluation/requirements.lock, as the image does) "
                "or pass toxicity_classifier="
            )
        return self._toxicity(texts)

    def perturbations(self, text: str) -> list[str]:
        return builtin_perturbations(text, per_kind=self._per_kind, seed=self._seed)


class FmevalScorer(BuiltinScorer):
    """fmeval's transforms and helper models: the scores carry fmeval's exact semantics and version."""

    name = "fmeval"

    def __init__(self, *, perturbations_per_kind: int = 2, seed: int = 5) -> None:
        super().__init__(perturbations_per_kind=perturbations_per_kind, seed=seed)
        from fmeval.eval_algorithms.factual_knowledge import FactualKnowledgeScores
        from fmeval.eval_algorithms.qa_accuracy import QAAccuracyScores
        from fmeval.transforms.semantic_perturbations import AddRemoveWhitespace, ButterFinger, RandomUppercase

        self.version = _version("fmeval") or "unknown"
        self._factual = FactualKnowledgeScores(output_keys=list(FACTUAL_SCORES))
        self._qa = QAAccuracyScores(output_keys=list(QA_SCORES))
        keys = [f"perturbed_{i}" for i in range(perturbations_per_kind)]
        self._perturbers: list[Any] = [
            kind(input_key="model_input", output_keys=keys, num_perturbations=perturbations_per_kind, seed=seed)
            for kind in (ButterFinger, RandomUppercase, AddRemoveWhitespace)
        ]
        self._detoxify: Any = None

    def factual_knowledge(self, model_output: str, target_output: str) -> dict[str, float]:
        record = self._factual({"target_output": target_output, "model_output": model_output})
        return {k: float(record[k]) for k in FACTUAL_SCORES}

    def qa_accuracy(self, model_output: str, target_output: str) -> dict[str, float]:
        record = self._qa({"target_output": target_output, "model_output": model_output})
        return {k: float(record[k]) for k in QA_SCORES}

    def toxicity(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if self._detoxify is None:  # loads the baked-in checkpoint once (see Dockerfile); no network at run time
            from fmeval.eval_algorithms.helper_models.helper_model import DetoxifyHelperModel

            try:
                self._detoxify = DetoxifyHelperModel()
            except Exception as err:  # torch.hub / transformers raise many types; all mean the same here
                raise ScoringUnavailableError(
                    f"fmeval's toxicity classifier (detoxify 'unbiased' checkpoint under $TORCH_HOME, roberta-base "
                    f"under $HF_HOME) did not load: {type(err).__name__}: {err}. The image prefetches both at build "
                    "(evaluation/prefetch.py); rebuild it where the build can reach the Hugging Face Hub and GitHub"
                ) from err
        results: list[dict[str, float]] = []
        for start in range(0, len(texts), TOXICITY_BATCH_SIZE):  # bounded memory, as fmeval's Ray map_batches does
            batch = list(texts[start : start + TOXICITY_BATCH_SIZE])
            scores = self._detoxify.get_helper_scores(batch)
            results += [{name: float(values[i]) for name, values in scores.items()} for i in range(len(batch))]
        return results

    def perturbations(self, text: str) -> list[str]:
        return [variant for perturber in self._perturbers for variant in perturber.perturb(text)]


def default_scorer(*, perturbations_per_kind: int = 2, seed: int = 5) -> Scorer:
    """fmeval, or `ScoringUnavailableError` naming what failed. Never a silent fall-back to `BuiltinScorer`.

    Importing fmeval's QA module runs `evaluate.load("bertscore")` at import time (fmeval v1.2.3
    transforms/summarization_accuracy_metrics.py:288 -> eval_algorithms/helper_models/helper_model.py:163): offline
    without the prefetched metric script that is a FileNotFoundError, not an ImportError, so every exception counts.
    """
    try:
        return FmevalScorer(perturbations_per_kind=perturbations_per_kind, seed=seed)
    except ScoringUnavailableError:
        raise
    except Exception as err:
        hint = (
            "install the image's locked dependencies (evaluation/requirements.lock)"
            if isinstance(err, ImportError)
            else "the image prefetches fmeval's metric scripts and models at build (evaluation/prefetch.py) before "
            "HF_HUB_OFFLINE/HF_EVALUATE_OFFLINE are set; rebuild it"
        )
        raise ScoringUnavailableError(f"fmeval cannot be loaded: {type(err).__name__}: {err}. Fix: {hint}") from err


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
