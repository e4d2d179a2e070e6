"""Knowledge distillation on optimum-neuron's trainer: the student learns from the labels and from a teacher's
softened distribution (Hinton et al., 2015: loss = (1 - alpha) x CE + alpha x T^2 x KL(teacher_T || student_T)).

optimum-neuron 0.4.1 has no distillation trainer (its trainers are NeuronTrainer and NeuronSFTTrainer:
huggingface/optimum-neuron v0.4.1 optimum/neuron/trainers/), and NeuronTrainer has no `compute_loss` to override: its
`train_step` runs `model(**inputs)`, reads `loss`, scales it and calls `accelerator.backward`
(optimum/neuron/trainers/transformers.py L939-976). The subclass below replaces that one step for the unpipelined case
(the pre-flight refuses distillation with pipeline parallelism), keeping everything else of the trainer.

With tensor parallelism the models' logits are vocab-parallel (`lm_head` is a ColumnParallelLinear with
gather_output=False, optimum/neuron/models/training/llama/modeling_llama.py L710-716): each rank holds V/TP columns of
both models, as long as teacher and student share the tokenizer and TP degree. The softmaxes therefore reduce their
max and sum over the tensor-parallel group, as neuronx-distributed's own parallel cross entropy does
(neuronx_distributed/parallel_layers/loss_functions.py, v2.26.0 L132-150); the sum goes through
`reduce_from_tensor_model_parallel_region` (all-reduce forward, identity backward; parallel_layers/mappings.py L525)
so the gradient is right. `kd_loss` takes the reductions as arguments: the tests run it on CPU with the tensor-parallel
group emulated by a leading dimension.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Reduce = Callable[[Any], Any]


def _identity(x: Any) -> Any:
    return x


def log_softmax(logits: Any, reduce_sum: Reduce, reduce_max: Reduce) -> Any:
    """log softmax over a vocabulary split across ranks (the last dimension is this rank's slice)."""
    peak = reduce_max(logits.detach().amax(dim=-1, keepdim=True))
    total = reduce_sum((logits - peak).exp().sum(dim=-1, keepdim=True))
    return logits - peak - total.log()


def kd_loss(
    student_logits: Any,
    teacher_logits: Any,
    labels: Any,
    temperature: float,
    reduce_sum: Reduce = _identity,
    reduce_max: Reduce = _identity,
) -> Any:
    """T^2 x KL(teacher || student) at temperature T, averaged over the positions whose next token is a label
    (labels != -100); logits [..., seq, vocab slice], labels [..., seq]."""
    student = student_logits[..., :-1, :].float() / temperature
    teacher = teacher_logits[..., :-1, :].float().detach() / temperature
    mask = (labels[..., 1:] != -100).float()
    log_student = log_softmax(student, reduce_sum, reduce_max)
    log_teacher = log_softmax(teacher, reduce_sum, reduce_max)
    per_token = reduce_sum((log_teacher.exp() * (log_teacher - log_student)).sum(dim=-1))
    return (per_token * mask).sum() / mask.sum().clamp(min=1.0) * temperature**2


def tensor_parallel_reductions() -> tuple[Reduce, Reduce]:
    """The tensor-parallel group's sum (autograd-aware) and max, from neuronx-distributed (Neuron devices only)."""
    import torch
    from neuronx_distributed.parallel_layers.mappings import reduce_from_tensor_model_parallel_region
    from neuronx_distributed.parallel_layers.parallel_state import (
        get_tensor_model_parallel_group,
        get_tensor_model_parallel_size,
    )

    if get_tensor_model_parallel_size() == 1:
        return _identity, _identity

    def reduce_max(x: Any) -> Any:
        torch.distributed.all_reduce(x, op=torch.distributed.ReduceOp.MAX, group=get_tensor_model_parallel_group())
        return x

    return reduce_from_tensor_model_parallel_region, reduce_max


def distillation_trainer(base: type, teacher: Any, alpha: float, temperature: float) -> type:
    """A subclass of `base` (NeuronSFTTrainer) whose training step mixes the label loss with the teacher's."""

    class DistillationTrainer(base):  # type: ignore[misc]
        def train_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
            import torch

            reduce_sum, reduce_max = tensor_parallel_reductions()
            with self.autocast_smart_context_manager():
                outputs = model(**inputs)
                with torch.no_grad():
                    teacher_logits = teacher(
                        input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask")
                    ).logits
                distill = kd_loss(outputs.logits, teacher_logits, inputs["labels"], temperature, reduce_sum, reduce_max)
                loss = (1 - alpha) * outputs.loss + alpha * distill
            loss = loss / self.args.gradient_accumulation_steps
            self.accelerator.backward(loss)
            return loss

    return DistillationTrainer
