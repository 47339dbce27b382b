"""Distillation as a command, for one CPU process or many GPUs under DeepSpeed.

One process (what the `student_llm` asset does, minus MLflow):

    python -m training.distill_cli --teacher packaged:smollm2 --dialogs data/dialogs --out state/distill

Several GPUs with DeepSpeed ZeRO (the recipe's TrainingArguments plus `deepspeed=<config>`):

    deepspeed --num_gpus 8 -m training.distill_cli --teacher HuggingFaceTB/SmolLM2-1.7B-Instruct \\
        --dialogs data/dialogs --out /ckpt/distill --deepspeed configs/deepspeed/zero2.json --bf16
    accelerate launch --config_file configs/accelerate/deepspeed_zero3.yaml -m training.distill_cli ...

Every rank runs this file. The student is initialised from the teacher on the main process first
(`PartialState.main_process_first`), the others load it after; the Trainer shards the work and
writes checkpoints under `--out/checkpoints`, so a killed run started again with the same
arguments resumes from the last one. `sky/distill.yaml` runs the same command on a cluster.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from .base_models import resolve_llm
from .dialog_corpus import read_corpus
from .distill import DistillConfig, distill, init_student_from_teacher, spread_layers

DEFAULT_RECIPE = DistillConfig().recipe
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _value(text: str):
    """`--set key=value`: numbers (1e-4 too, which YAML 1.1 reads as a string), else a YAML scalar."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return yaml.safe_load(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.distill_cli", description=__doc__.splitlines()[0])
    p.add_argument("--teacher", required=True, help="packaged:smollm2, a hub id, or a local save_pretrained folder")
    p.add_argument("--dialogs", required=True, help="folder with train.jsonl and heldout.jsonl (the dialog_corpus)")
    p.add_argument("--out", required=True, help="work folder: init/, checkpoints/, model/")
    p.add_argument("--student-layers", type=int, default=10)
    p.add_argument("--recipe", default=DEFAULT_RECIPE, help="YAML of transformers.TrainingArguments")
    p.add_argument("--deepspeed", default=None, help="DeepSpeed JSON config (sets TrainingArguments.deepspeed)")
    p.add_argument("--bf16", action="store_true", help="bf16 mixed precision (GPUs)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a TrainingArguments field, e.g. --set max_steps=100")
    p.add_argument("--temperature", type=float, default=DistillConfig().temperature)
    p.add_argument("--alpha", type=float, default=DistillConfig().alpha)
    p.add_argument("--max-length", type=int, default=DistillConfig().max_length)
    p.add_argument("--local_rank", "--local-rank", type=int, default=-1, help=argparse.SUPPRESS)  # set by `deepspeed`
    return p.parse_args(argv)


def overrides_from(args: argparse.Namespace) -> dict:
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = _value(value)
    if args.deepspeed:
        overrides["deepspeed"] = str(Path(args.deepspeed).resolve())
        overrides["use_cpu"] = False
    if args.bf16:
        overrides.update(bf16=True, use_cpu=False)
    return overrides


def main(argv: list[str] | None = None) -> dict:
    from accelerate import PartialState

    args = parse_args(argv)
    out = Path(args.out)
    state = PartialState()
    with state.main_process_first():  # resolve/import the teacher and build the student once
        teacher = resolve_llm(args.teacher, out / "teacher")
        init_dir = out / "init"
        if not (init_dir / "config.json").exists():
            from transformers import AutoConfig

            n_teacher = AutoConfig.from_pretrained(teacher.path).num_hidden_layers
            init_student_from_teacher(teacher.path, init_dir, spread_layers(n_teacher, args.student_layers))
    recipe = Path(args.recipe)
    if not recipe.is_absolute() and not recipe.exists():  # relative to the project, from any working directory
        recipe = PROJECT_ROOT / recipe
    cfg = DistillConfig(str(recipe), overrides_from(args), args.temperature, args.alpha, args.max_length)
    outcome = distill(teacher.path, init_dir, read_corpus(args.dialogs, "train"), read_corpus(args.dialogs, "heldout"),
                      out, cfg)
    summary = {"model_dir": str(outcome.model_dir), "validation": outcome.validation,
               "resumed_from": outcome.resumed_from, "n_train": outcome.n_train, "n_eval": outcome.n_eval}
    if state.is_main_process:
        print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
