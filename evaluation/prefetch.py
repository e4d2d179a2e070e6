"""Fetch, at image build time, everything fmeval 1.2.3 loads lazily for the metrics this job runs; the Dockerfile then
sets HF_HUB_OFFLINE / HF_EVALUATE_OFFLINE, and the job runs on subnets without an internet route.

What and why (fmeval v1.2.3, read at the tag):
- evaluate's `bertscore` metric script: importing fmeval.eval_algorithms.qa_accuracy builds a BertscoreHelperModel as a
  default argument (transforms/summarization_accuracy_metrics.py:288), which calls `evaluate.load("bertscore")`
  (eval_algorithms/helper_models/helper_model.py:163). Cached under $HF_HOME/modules/evaluate_modules.
- detoxify's "unbiased" checkpoint via torch.hub (helper_model.py:97-105, under $TORCH_HOME/hub/checkpoints) and the
  roberta config and tokenizer it names (helper_model.py:111-117, under $HF_HOME/hub): the toxicity classifier.
Not fetched, because this job never computes them: BERTScore's deberta model (only QAAccuracy.evaluate uses it; the job
uses the QAAccuracyScores transform), ROUGE / METEOR / NLTK data (summarization), WER (general semantic robustness).
"""

from __future__ import annotations

import sys


def main() -> int:
    import evaluate
    from fmeval.eval_algorithms.helper_models.helper_model import DetoxifyHelperModel

    evaluate.load("bertscore")
    scores = DetoxifyHelperModel().get_helper_scores(["prefetch"])
    print(f"prefetched: bertscore metric script, detoxify checkpoint and tokenizer ({sorted(scores)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
