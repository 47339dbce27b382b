"""Scale-out: the DeepSpeed configs, the distillation command under DeepSpeed ZeRO-2 on the CPU, and
the SkyPilot task parsed by SkyPilot itself (offline, in its own environment)."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.tiny_models import build_tiny_llm
from training.distill import TRAIN_INFO
from training.distill_cli import parse_args

ROOT = Path(__file__).resolve().parents[1]
SKY_TASK = ROOT / "sky" / "distill.yaml"


def _sky_python() -> str:
    python = os.environ.get("CONVBOT_SKY_PYTHON") or str(ROOT / ".venv-sky" / "bin" / "python")
    assert Path(python).exists(), f"{python} missing: `make install` builds the SkyPilot environment (.venv-sky)"
    return python


@pytest.mark.parametrize("name,stage", [("zero2.json", 2), ("zero3.json", 3)])
def test_deepspeed_configs_parse_and_fill_from_training_arguments(name, stage):
    from transformers import TrainingArguments

    path = ROOT / "configs" / "deepspeed" / name
    args = TrainingArguments(output_dir="unused", deepspeed=str(path), per_device_train_batch_size=3,
                             gradient_accumulation_steps=2, max_grad_norm=0.5, report_to="none")
    config = args.hf_deepspeed_config.config
    assert config["zero_optimization"]["stage"] == stage
    # "auto" values come from the TrainingArguments (one place per setting)
    assert config["train_micro_batch_size_per_gpu"] == 3
    assert config["gradient_accumulation_steps"] == 2
    assert config["gradient_clipping"] == 0.5


def test_accelerate_config_points_at_a_deepspeed_config():
    cfg = yaml.safe_load((ROOT / "configs" / "accelerate" / "deepspeed_zero3.yaml").read_text())
    assert cfg["distributed_type"] == "DEEPSPEED"
    assert (ROOT / cfg["deepspeed_config"]["deepspeed_config_file"]).exists()


def test_skypilot_task_parses_with_skypilots_own_parser():
    code = (
        "import json, sys, sky\n"
        "t = sky.Task.from_yaml(sys.argv[1])\n"
        "r = next(iter(t.resources))\n"
        "print(json.dumps({'name': t.name, 'nodes': t.num_nodes, 'accelerators': r.accelerators,\n"
        "                  'spot': r.use_spot, 'envs': t.envs, 'run': t.run, 'setup': t.setup,\n"
        "                  'mounts': sorted(t.storage_mounts)}))\n"
    )
    proc = subprocess.run([_sky_python(), "-c", code, str(SKY_TASK)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    task = json.loads(proc.stdout.strip().splitlines()[-1])
    assert task["name"] == "convbot-distill" and task["nodes"] == 1
    assert sum(task["accelerators"].values()) >= 2, "the point of the task is several GPUs"
    assert task["mounts"] == ["/ckpt"]
    assert (ROOT / task["envs"]["DEEPSPEED_CONFIG"]).exists()
    assert "dvc pull" in task["setup"]

    # the run command's arguments are ones the distillation CLI accepts
    run = " ".join(line.rstrip("\\").strip() for line in task["run"].splitlines() if "set -e" not in line)
    for key, value in {**task["envs"], "SKYPILOT_NUM_GPUS_PER_NODE": "8"}.items():
        run = run.replace(f'"${key}"', value).replace(f"${key}", value)
    words = shlex.split(run)
    assert words[:2] == [".venv/bin/deepspeed", "--num_gpus"] and "training.distill_cli" in words
    args = parse_args(words[words.index("training.distill_cli") + 1:])
    assert args.deepspeed == "configs/deepspeed/zero3.json" and args.bf16
    assert args.student_layers == int(task["envs"]["STUDENT_LAYERS"])


def test_distill_command_trains_under_deepspeed_zero2_on_cpu(tmp_path):
    torch.manual_seed(0)
    teacher = build_tiny_llm(tmp_path / "teacher", layers=4, vocab_size=2048)
    dialogs = tmp_path / "dialogs"
    dialogs.mkdir()
    for split, n in (("train", 8), ("heldout", 4)):
        rows = [{"intent": "weather", "messages": [
            {"role": "system", "content": "You are convbot."},
            {"role": "user", "content": f"weather in city {i}"},
            {"role": "assistant", "content": f"It is sunny in city {i}."}]} for i in range(n)]
        (dialogs / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    # one process of a distributed launch, as `deepspeed`/`torchrun` would start it
    env = {**os.environ, "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29533", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "training.distill_cli", "--teacher", str(teacher), "--dialogs", str(dialogs),
           "--out", str(out), "--student-layers", "2", "--deepspeed", "configs/deepspeed/zero2.json",
           "--set", "max_steps=4", "--set", "eval_steps=2", "--set", "save_steps=2", "--set", "learning_rate=1e-2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(summary["model_dir"]) == out / "model"

    info = json.loads((out / "model" / TRAIN_INFO).read_text())
    assert info["training_args"]["deepspeed"].endswith("configs/deepspeed/zero2.json")
    assert (out / "checkpoints" / "checkpoint-4").is_dir()
    before, after = load_file(out / "init" / "model.safetensors"), load_file(out / "model" / "model.safetensors")
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert not unchanged, f"parameters that did not move under DeepSpeed: {unchanged}"


def test_set_overrides_are_typed_and_malformed_ones_refused():
    from training.distill_cli import overrides_from

    base = ["--teacher", "t", "--dialogs", "d", "--out", "o"]
    args = parse_args(base + ["--set", "learning_rate=1e-4", "--set", "max_steps=10", "--set", "bf16=true",
                              "--set", "lr_scheduler_type=cosine"])
    assert overrides_from(args) == {"learning_rate": 1e-4, "max_steps": 10, "bf16": True,
                                    "lr_scheduler_type": "cosine"}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        overrides_from(parse_args(base + ["--set", "max_steps"]))


def _pins(path: Path) -> dict[str, str]:
    return {line.split("==")[0].lower(): line.split("==")[1] for line in path.read_text().split()
            if "==" in line and not line.startswith("#")}


def test_the_cloud_task_installs_from_the_gpu_lock():
    setup = yaml.safe_load(SKY_TASK.read_text())["setup"]
    installs = [line.strip() for line in setup.splitlines() if ".venv/bin/pip install" in line]
    assert any("-c requirements-gpu.lock torch==2.13.0" in line for line in installs)
    assert not any("requirements.lock" in line for line in installs), "the CPU lock pins torch 2.13.0+cpu"
    cpu, gpu = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-gpu.lock")
    assert cpu["torch"].endswith("+cpu") and gpu["torch"] == "2.13.0"
    # everything else is the tested set, at the same versions
    assert {k: v for k, v in cpu.items() if k != "torch"}.items() <= gpu.items()


def test_the_gpu_lock_resolves_torch_to_a_cuda_build_on_pypi(tmp_path):
    """What a GPU node's pip does with the task's torch line (resolution only: --dry-run --report)."""
    report = tmp_path / "report.json"
    # PyPI alone, as on a cloud node: not this machine's local wheels or its cap on torch
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "", "PIP_CONSTRAINT": ""}
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--ignore-installed",
                           "--quiet", "--report", str(report), "--index-url", "https://pypi.org/simple",
                           "-c", str(ROOT / "requirements-gpu.lock"), "torch==2.13.0"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    resolved = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    assert resolved["torch"] == "2.13.0"
    cuda = [n for n in resolved if n.startswith(("nvidia-", "cuda-"))]
    assert "nvidia-cudnn-cu13" in cuda and "triton" in resolved
    gpu = _pins(ROOT / "requirements-gpu.lock")
    assert all(gpu.get(n) == v for n, v in resolved.items() if n in gpu), "the lock and PyPI's resolution differ"
