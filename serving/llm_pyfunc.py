"""An MLflow pyfunc model around an LLM folder (plain `save_pretrained` or the int8 layout).

MLflow's transformers flavor cannot hold a dynamic-quantized model (it is not `save_pretrained`-able),
so the int8 student is registered as a pyfunc: the folder travels as an artifact and this class, with
`serving/` shipped as code, loads it through `serving.llm_runtime.load_causal_lm` in any fresh process:

    model = mlflow.pyfunc.load_model("models:/convbot-student-llm-int8@challenger")
    model.predict(["what's the weather in oslo"], params={"max_new_tokens": 32})
"""

from __future__ import annotations

import mlflow.pyfunc
import mlflow.transformers

MODEL_DIR_ARTIFACT = "model_dir"
ADAPTER_ARTIFACT = "adapter_dir"


class CausalLMPyfunc(mlflow.pyfunc.PythonModel):
    """Greedy chat replies: one user turn per input string, rendered with the model's chat template."""

    def load_context(self, context) -> None:
        from serving.llm_runtime import load_causal_lm

        self.model, self.tokenizer = load_causal_lm(context.artifacts[MODEL_DIR_ARTIFACT])

    def predict(self, context, model_input: list[str], params: dict | None = None) -> list[str]:
        from serving.llm_runtime import generate_greedy

        max_new_tokens = int((params or {}).get("max_new_tokens", 64))
        texts, _, _ = generate_greedy(self.model, self.tokenizer, list(model_input), max_new_tokens)
        return texts


def load_base_llm(reference: str):
    """The base model an adapter was trained on, by reference: a registry URI (`models:/NAME/VERSION`),
    or a model spec (`packaged:smollm2`, a hub id, a folder) resolved as the pipeline resolves it."""
    import tempfile
    from pathlib import Path

    import torch
    from transformers import AutoModelForCausalLM

    if reference.startswith("models:/"):
        return mlflow.transformers.load_model(reference, return_type="components")["model"].float()
    try:  # a model spec resolves through the project's own resolver: it needs the convbot package
        from training.base_models import resolve_llm
    except ImportError as exc:
        raise RuntimeError(f"the adapter's base '{reference}' is a model spec, which needs the convbot project "
                           "installed to resolve; register the base and train on its registry version") from exc

    resolved = resolve_llm(reference, Path(tempfile.gettempdir()) / "convbot-base-models")
    return AutoModelForCausalLM.from_pretrained(resolved.path, dtype=torch.float32)


class LoraAdapterPyfunc(mlflow.pyfunc.PythonModel):
    """A PEFT LoRA adapter applied to its base model at load time; model_config["base"] names the base by
    registry URI or model spec, never by a path on the machine that trained it."""

    def load_context(self, context) -> None:
        from peft import PeftModel
        from transformers import AutoTokenizer

        base = load_base_llm(context.model_config["base"])
        self.model = PeftModel.from_pretrained(base, context.artifacts[ADAPTER_ARTIFACT]).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(context.artifacts[ADAPTER_ARTIFACT])

    def predict(self, context, model_input: list[str], params: dict | None = None) -> list[str]:
        from serving.llm_runtime import generate_greedy

        max_new_tokens = int((params or {}).get("max_new_tokens", 64))
        texts, _, _ = generate_greedy(self.model, self.tokenizer, list(model_input), max_new_tokens)
        return texts
