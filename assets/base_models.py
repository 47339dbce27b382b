"""Base model assets: the encoder and the LLM, resolved (and imported) once."""


from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from pipelines.resources import ModelStoreResource


def _result(resolved) -> MaterializeResult:
    return MaterializeResult(
        value=resolved.to_dict(),
        metadata={"path": MetadataValue.path(resolved.path), "source": resolved.source,
                  "spec": resolved.spec, "sha256": resolved.checksum},
    )


@asset(group_name="base_models", compute_kind="huggingface", code_version="1")
def base_encoder(context: AssetExecutionContext, model_store: ModelStoreResource) -> MaterializeResult:
    """The base sentence encoder (packaged all-MiniLM-L6-v2 by default)."""
    return _result(model_store.resolve_encoder())


@asset(group_name="base_models", compute_kind="huggingface", code_version="1")
def base_llm(context: AssetExecutionContext, model_store: ModelStoreResource) -> MaterializeResult:
    """The base LLM as a plain safetensors checkpoint (packaged SmolLM2-135M-Instruct by default)."""
    return _result(model_store.resolve_llm())
