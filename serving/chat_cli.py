"""`make chat`: talk to a running bot from the terminal.

    python -m serving.chat_cli [--url http://127.0.0.1:8080]

Each line you type is one turn of one session; `/fix <better answer>` sends a correction of the last
answer to /v1/feedback (it reaches the DPO chain's inbox); `/quit` ends.
"""

from __future__ import annotations

import argparse
import sys
import uuid

import httpx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.chat_cli")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    args = parser.parse_args(argv)
    session, last = f"cli-{uuid.uuid4().hex[:12]}", None
    with httpx.Client(base_url=args.url, timeout=120) as client:
        try:
            ready = client.get("/readyz")
        except httpx.ConnectError:
            print(f"no bot at {args.url}: start one with `make serve`", file=sys.stderr)
            return 1
        if ready.status_code != 200:
            print(f"the bot is not ready: {ready.text}", file=sys.stderr)
            return 1
        print(f"connected to {args.url} (bundle {ready.json().get('version')}); /fix <answer> corrects, /quit ends")
        for line in sys.stdin if not sys.stdin.isatty() else iter(lambda: input("you> "), None):
            line = line.strip()
            if not line:
                continue
            if line == "/quit":
                break
            if line.startswith("/fix ") and last:
                r = client.post("/v1/feedback", json={"session_id": session, "turn_id": last, "correction": line[5:]})
                print("bot> thanks, noted." if r.status_code == 202 else f"bot> ({r.status_code}) {r.text}")
                continue
            r = client.post("/v1/chat", json={"session_id": session, "text": line})
            if r.status_code != 200:
                print(f"bot> ({r.status_code}) {r.json()['error']['message']}")
                continue
            body = r.json()
            last = body["turn_id"]
            cites = "".join(f"\n     [{c.get('id') or c.get('source')}] {c.get('source', '')}" for c in body["citations"])
            print(f"bot> {body['answer']}{cites}\n     ({body['route']}, {body['intent']} {body['confidence']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
