"""The bot over HTTP: FastAPI app factory, request/response models, Prometheus metrics."""
