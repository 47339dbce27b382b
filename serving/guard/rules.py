"""Rules for what a classifier of harmful requests does not look for: prompt injection and data exfiltration.

Written from the published shapes of these attacks (instruction override, persona jailbreaks, system
prompt extraction, fake system turns; requests for other users' data, secrets and configuration), not
from any evaluation set. Each rule has a name, so a block says which one fired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_I = re.IGNORECASE

INJECTION = {
    "override_instructions": re.compile(
        r"\b(ignore|disregard|forget|override|bypass|skip)\b[^.?!]{0,40}\b(all|any|every|your|the|previous|prior|"
        r"above|earlier|initial|original|system)\b[^.?!]{0,30}\b(instructions?|rules|guidelines|prompts?|"
        r"directives|restrictions|polic(y|ies)|programming)\b", _I),
    "persona_jailbreak": re.compile(
        r"\b(you are now|from now on you are|act as|pretend (to be|you are)|roleplay as|become)\b[^.?!]{0,60}"
        r"\b(DAN|jailbr(oken|eak)|unfiltered|uncensored|no (rules|restrictions|limits|filters)|without (any )?"
        r"(rules|restrictions|limits|filters|guidelines)|evil|unrestricted)\b", _I),
    "developer_mode": re.compile(r"\b(developer|god|debug|admin|sudo|dan) mode\b", _I),
    "prompt_extraction": re.compile(
        r"\b(reveal|print|show|repeat|output|display|tell me|what (is|are)|give me|leak|dump)\b[^.?!]{0,30}"
        r"\b(your|the)\b[^.?!]{0,20}\b(system prompt|initial prompt|hidden (prompt|instructions)|instructions you "
        r"(were|have been) given|pre-?prompt|system message)\b", _I),
    "fake_system_turn": re.compile(r"(<\s*/?\s*(system|sys|im_start|instruction)\s*>|^\s*#{2,}\s*(system|instruction)|"
                                   r"\[\s*(system|INST)\s*\]|\bsystem\s*:\s*you (must|are|will))", _I | re.MULTILINE),
}
EXFILTRATION = {
    "other_users_data": re.compile(
        r"\b(other|another|previous|last|all|every|the other)\b[^.?!]{0,20}\b(users?|customers?|clients?|people|"
        r"persons?|accounts?)\b[^.?!]{0,30}\b(conversations?|chats?|messages|history|data|details|emails?|"
        r"e-mail addresses|phone numbers?|addresses|passwords?|information|records|said|wrote|asked)\b", _I),
    "secrets": re.compile(r"\b(api|secret|access|private|encryption|ssh)[ _-]?(keys?|tokens?)\b|\b(credentials|"
                          r"environment variables|env vars|connection string)\b", _I),
    "internals": re.compile(r"\b(dump|export|list|show|print|give me)\b[^.?!]{0,30}\b(the )?(database|db|tables?|"
                            r"user list|customer list|mailing list|config(uration)? files?|server logs?)\b", _I),
    "repeat_others": re.compile(r"\brepeat\b[^.?!]{0,30}\b(what|everything)\b[^.?!]{0,30}\b(previous|last|other|"
                                r"earlier)\b[^.?!]{0,15}\b(user|person|customer|caller)\b", _I),
}


@dataclass(frozen=True)
class RuleHit:
    kind: str  # prompt_injection | data_exfiltration
    rule: str


def match_rules(text: str) -> RuleHit | None:
    for kind, rules in (("prompt_injection", INJECTION), ("data_exfiltration", EXFILTRATION)):
        for name, pattern in rules.items():
            if pattern.search(text):
                return RuleHit(kind, name)
    return None
