"""A stand-in bot for router tests: answers /v1/chat with its own name (no models)."""

import os

from fastapi import FastAPI, Request

NAME = os.environ.get("ECHO_NAME", "echo")


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/readyz")
    def readyz():
        return {"status": "ready"}

    @app.post("/v1/chat")
    async def chat(request: Request):
        body = await request.json()
        return {"turn_id": "t", "answer": NAME, "intent": "greeting", "confidence": 0.9, "route": "template",
                "citations": [], "refused": False, "versions": {"bundle": NAME}, "session": body.get("session_id")}

    return app
