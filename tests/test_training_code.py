"""The entry point's CPU logic: reading and packing data in a resumable order, planning a resume from what SageMaker
restored to /opt/ml/checkpoints, and laying out the exported model. (Torch-dependent parts: test_training_torch.py;
the argument contract: test_training_contract.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import train_data, train_export, train_resume


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- data --------------------------------------------------------------------------------------------------------
def test_records_read_every_json_lines_file_in_path_order(tmp_path: Path) -> None:
    write(tmp_path / "b/2.jsonl", '{"prompt": "Q: ", "completion": "A"}\n')
    write(tmp_path / "a.jsonl", '{"text": "one"}\n\n{"messages": [{"role": "user", "content": "hi"}]}\n')
    write(tmp_path / "notes.txt", "ignored")
    chat = lambda messages: "|".join(m["content"] for m in messages)  # noqa: E731
    assert train_data.texts(tmp_path, chat) == ["one", "hi", "Q: A"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("not json\n", "a.jsonl:1: not JSON", id="not-json"),
        pytest.param("[1, 2]\n", "a.jsonl:1: a record must be a JSON object", id="not-an-object"),
        pytest.param('{"text": "x"}\n{"title": "y"}\n', "a.jsonl:2: no training text; give one of text", id="no-text"),
        pytest.param('{"messages": []}\n', "a.jsonl:1: a `messages` record needs a tokenizer with a chat", id="chat"),
    ],
)
def test_bad_records_name_the_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    write(tmp_path / "a.jsonl", content)
    with pytest.raises(train_data.DataError) as err:
        train_data.texts(tmp_path)
    assert message in str(err.value)


def test_an_empty_channel_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(train_data.DataError, match=r"no \.jsonl or \.json files below"):
        train_data.texts(tmp_path)


def test_pack_joins_documents_with_eos_and_cuts_equal_blocks() -> None:
    blocks = train_data.pack([[1, 2, 3], [4], [5, 6, 7, 8, 9]], block=4, eos=0)
    assert blocks == [[1, 2, 3, 0], [4, 0, 5, 6], [7, 8, 9, 0]]  # the tail (nothing) is dropped
    assert train_data.pack([[1, 2]], block=4, eos=0) == []
    with pytest.raises(train_data.DataError, match="too short"):
        train_data.pack([[1]], block=1, eos=0)


def test_epoch_order_is_a_seeded_permutation_per_epoch_the_same_on_every_restart() -> None:
    order = train_data.epoch_order(10, epochs=3, seed=42)
    assert len(order) == 30 and all(sorted(order[i * 10 : (i + 1) * 10]) == list(range(10)) for i in range(3))
    assert order[:10] != order[10:20]  # each epoch reshuffled
    assert order == train_data.epoch_order(10, epochs=3, seed=42)
    assert order != train_data.epoch_order(10, epochs=3, seed=43)


# ---- resume ------------------------------------------------------------------------------------------------------
def checkpoint(root: Path, segment: int, local: int, complete: bool = True) -> Path:
    path = root / f"segment-{segment}" / f"checkpoint-{local}"
    path.mkdir(parents=True)
    if complete:
        write(path / "trainer_state.json", json.dumps({"global_step": local}))
    return path


def test_a_fresh_job_starts_at_step_zero(tmp_path: Path) -> None:
    plan = train_resume.plan(tmp_path)
    assert plan == train_resume.ResumePlan(segment=0, start_step=0, checkpoint=None, lora_chain=())
    assert not plan.resumed
    assert train_resume.segment_start(train_resume.write_segment(tmp_path, plan)) == 0


def test_resume_picks_the_newest_complete_checkpoint_across_segments(tmp_path: Path) -> None:
    checkpoint(tmp_path, 0, 200)
    checkpoint(tmp_path, 0, 400)
    checkpoint(tmp_path, 0, 600, complete=False)  # interrupted while writing: not used
    write(tmp_path / "segment-1/segment.json", json.dumps({"start_step": 400}))
    newest = checkpoint(tmp_path, 1, 100)  # global step 500
    (tmp_path / "lora-merged/1").mkdir(parents=True)
    plan = train_resume.plan(tmp_path)
    assert (plan.segment, plan.start_step, plan.checkpoint) == (2, 500, newest)
    assert plan.lora_chain == (tmp_path / "lora-merged/1",)
    assert plan.segment_dir(tmp_path) == tmp_path / "segment-2"


def test_a_segment_file_with_a_bad_step_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "segment-0/segment.json", json.dumps({"start_step": -3}))
    checkpoint(tmp_path, 0, 5)
    with pytest.raises(ValueError, match="start_step must be a non-negative integer, got -3"):
        train_resume.plan(tmp_path)


def test_resume_arithmetic_skips_the_consumed_blocks_and_runs_the_remaining_steps() -> None:
    # trn1.32xlarge x 2, TP 8: DP 8; micro-batch 1 x 16 accumulation steps -> 128 blocks per optimizer step.
    batch = train_resume.global_batch(1, 16, train_resume.data_parallel_degree(64, 8, 1))
    assert batch == 128
    assert train_resume.total_steps(10_000, batch, max_steps=-1) == 78
    assert train_resume.remaining(10_000, batch, max_steps=-1, done=50) == (6400, 28)
    assert train_resume.remaining(10_000, batch, max_steps=-1, done=78) == (9984, 0)
    assert train_resume.remaining(10_000, batch, max_steps=100, done=90) == (10_000, 10)
    assert train_resume.epochs_needed(100, batch, 10_000) == 2  # max_steps beyond one pass over the data
    assert train_resume.remaining_warmup(100, 30) == 70 and train_resume.remaining_warmup(100, 300) == 0
    with pytest.raises(ValueError, match="tensor_parallel_size 8 x pipeline_parallel_size 3 does not divide"):
        train_resume.data_parallel_degree(64, 8, 3)


# ---- export layout -------------------------------------------------------------------------------------------------
def test_the_exported_directory_is_a_hugging_face_model(tmp_path: Path) -> None:
    base, saved, target = tmp_path / "base", tmp_path / "saved", tmp_path / "model"
    write(base / "config.json", '{"model_type": "llama"}')
    write(base / "generation_config.json", "{}")
    write(saved / "model-00001-of-00002.safetensors", "w1")
    write(saved / "model-00002-of-00002.safetensors", "w2")
    write(saved / "model.safetensors.index.json", "{}")
    write(saved / "training_args.bin", "pickle the job wrote")
    assert not train_export.sharded(saved)
    train_export.full_weights(saved, target)
    train_export.copy_model_files(base, target)
    assert sorted(p.name for p in target.iterdir()) == [
        "config.json",
        "generation_config.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
    ]


def test_export_refuses_a_directory_without_weights_or_config(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no model shards and no"):
        train_export.full_weights(write(tmp_path / "saved/x.bin", "").parent, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        train_export.copy_model_files(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="no LoRA adapter"):
        train_export.adapter_dir(tmp_path / "saved")


def test_sharded_saves_are_recognised_by_optimum_neurons_directory_names(tmp_path: Path) -> None:
    (tmp_path / "full/shards").mkdir(parents=True)
    (tmp_path / "lora/adapter_default/adapter_shards").mkdir(parents=True)
    write(tmp_path / "plain/adapter_config.json", "{}")
    assert train_export.sharded(tmp_path / "full") and train_export.sharded(tmp_path / "lora")
    assert not train_export.sharded(tmp_path / "plain")
    assert train_export.adapter_dir(tmp_path / "plain") == tmp_path / "plain"
