"""How real users write what the templates say: casing, punctuation, typos, contractions, indirect requests.

Templates produce tidy, complete sentences; people type "can u book me a flite to paris??" or "i was
wondering if you could check my balance". `vary` turns a template row into such surface forms, keeping
its intent and its group (so a variant never lands in another split than its template). Every change
is made by rules with a seeded random generator: no model, no network.
"""

from __future__ import annotations

import random
import re

import pandas as pd

VARIANT = "variant"  # the `source` of a variant row

QUESTION_WORDS = {"what", "what's", "whats", "how", "when", "where", "who", "why", "which", "is", "are", "do",
                  "does", "did", "will", "can", "could", "should", "would", "am", "any", "have", "has", "was"}
# wrappers for requests phrased as a command ("book a flight to paris")
INDIRECT = ["can you {x}", "could you {x}", "can u {x}", "i'd like to {x}", "i want to {x}", "i need to {x}",
            "i was wondering if you could {x}", "is it possible to {x}", "would you mind if we {x}",
            "help me {x}", "i'm trying to {x}", "please {x}", "{x} for me", "i'd love it if you could {x}",
            "is there a way to {x}", "let's {x}", "go ahead and {x}", "mind helping me {x}"]
# wrappers for anything, questions included
ANY = ["{x}", "hey {x}", "hi there, {x}", "umm {x}", "so {x}", "ok so {x}", "quick one: {x}", "{x} thx",
       "{x} pls", "{x}??", "{x}?", "{x}!", "{x} real quick", "yo {x}", "hello, {x}", "{x}, thanks in advance",
       "excuse me, {x}", "sorry to bother you but {x}", "{x} asap"]
CONTRACTIONS = [("what is", "what's"), ("i am", "i'm"), ("do not", "don't"), ("can not", "can't"),
                ("i would", "i'd"), ("it is", "it's"), ("i will", "i'll"), ("you are", "you're"),
                ("i have", "i've"), ("let us", "let's"), ("what's", "whats"), ("i'm", "im"), ("don't", "dont"),
                ("you", "u"), ("please", "pls"), ("tomorrow", "tmrw"), ("thanks", "thx"), ("are you", "r u")]
KEYBOARD = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm", [
    "wa", "qes", "wrd", "etf", "ryg", "tuh", "yij", "uok", "ipl", "ol", "qsz", "awdx", "sefc", "drgv", "fthb",
    "gyjn", "hukm", "jil", "kop", "asx", "zsdc", "xdfv", "cfgb", "vghn", "bhjm", "njk"])}


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.3:  # neighbouring key
        c = word[i].lower()
        return word[:i] + rng.choice(KEYBOARD.get(c, c)) + word[i + 1:]
    if kind < 0.55:  # dropped letter
        return word[:i] + word[i + 1:]
    if kind < 0.8:  # swapped letters
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + word[i] + word[i:]  # doubled letter


def _is_command(text: str) -> bool:
    first = text.split()[0].lower() if text.split() else ""
    return first not in QUESTION_WORDS


def vary(text: str, rng: random.Random, typo_rate: float = 0.08, request: bool = True) -> str:
    """One realistic surface form of `text` (the meaning, slots and intent unchanged). `request`: the text asks
    for something, so a command may be wrapped as an indirect request ("can you book ..."); small talk is not
    ("can you hello there" is no way anyone greets)."""
    s = text.strip().rstrip("?.!").strip()
    low = s.lower()
    if request and _is_command(low) and rng.random() < 0.5:
        s = rng.choice(INDIRECT).format(x=low)
    s = rng.choice(ANY).format(x=s)
    for full, short in CONTRACTIONS:
        if rng.random() < 0.35:
            s = re.sub(rf"\b{re.escape(full)}\b", short, s, flags=re.IGNORECASE)
    words = [(_typo(w, rng) if rng.random() < typo_rate else w) for w in s.split()]
    s = " ".join(words)
    casing = rng.random()
    if casing < 0.55:
        s = s.lower()
    elif casing < 0.65:
        s = s.upper()
    elif casing < 0.9:
        s = s[:1].upper() + s[1:]
    if rng.random() < 0.4:
        s = re.sub(r"[,.!?']", "", s)
    return re.sub(r"\s+", " ", s).strip()


def variants(rows: list[tuple[str, str, str, str]], per_intent: int, seed: int,
             not_requests: frozenset[str] = frozenset()) -> list[tuple[str, str, str, str]]:
    """`per_intent` surface variants per intent, of rows drawn from the intent's rows; each variant keeps its
    source's intent and group (source "variant"). Intents in `not_requests` (small talk) get no indirect-request
    wrapper."""
    rng = random.Random(seed)
    by_intent: dict[str, list[tuple[str, str, str, str]]] = {}
    for row in rows:
        by_intent.setdefault(row[1], []).append(row)
    out = []
    for intent in sorted(by_intent):
        pool = sorted(by_intent[intent])
        seen = {t.lower() for t, *_ in pool}
        made = 0
        for _ in range(per_intent * 3):
            if made >= per_intent:
                break
            text, _, _, group = rng.choice(pool)
            new = vary(text, rng, request=intent not in not_requests)
            if new and new.lower() not in seen:
                seen.add(new.lower())
                out.append((new, intent, VARIANT, group))
                made += 1
    return out


def without_variants(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that are not surface variants of another row. For DP training: DP-SGD's guarantee is per row,
    and a variant repeats its source's request, so training on both would protect that request only as a
    group of two. For paraphrase pairs: a variant and its source are a typo apart, not paraphrases."""
    if "source" not in frame:
        return frame
    return frame[frame["source"] != VARIANT].reset_index(drop=True)
