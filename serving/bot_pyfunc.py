"""The bot as one MLflow model: the serving bundle travels as an artifact, and predict runs the bot.

    bot = mlflow.pyfunc.load_model("models:/convbot-bot@champion")
    bot.predict([{"session_id": "s-1", "text": "what's the weather in Oslo tomorrow"}])

Loading verifies every checksum of the bundle's manifest and refuses a changed bundle.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow.pyfunc

BUNDLE_ARTIFACT = "bundle"


class BotPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from serving.bot.bot import Bot
        from serving.bot.sessions import SqliteSessions
        from serving.bundle import verify

        folder = Path(context.artifacts[BUNDLE_ARTIFACT])
        verify(folder)
        self._sessions_dir = tempfile.mkdtemp(prefix="convbot-sessions-")
        self.bot = Bot(folder, SqliteSessions(Path(self._sessions_dir) / "sessions.db"))

    def predict(self, context, model_input, params=None):  # no type hints: MLflow would validate rows against them
        rows = model_input.to_dict("records") if hasattr(model_input, "to_dict") else list(model_input)
        out = []
        for i, row in enumerate(rows):
            row = row if isinstance(row, dict) else {"session_id": f"pyfunc-{i}", "text": str(row)}
            turn = self.bot.respond(row.get("session_id") or f"pyfunc-{i}", row["text"])
            out.append({"turn_id": turn.turn_id, "answer": turn.answer, "intent": turn.intent, "route": turn.route,
                        "refused": turn.refused, "citations": turn.citations})
        return out
