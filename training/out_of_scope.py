"""Requests the assistant does not handle, over many domains: the out-of-scope class's training rows.

A classifier learns "out of scope" only from examples of it. A handful of seeds teaches it a handful of
topics; real off-topic requests come from anywhere (cooking, health, sports, law, trivia, homework...).
Request frames are crossed with topics of many domains; every frame is a group of its own, so a frame
seen in training never reappears in a held-out split.
"""

from __future__ import annotations

import random

# (frame, kind of topic it takes)
FRAMES = [
    ("how do i {x}", "activity"), ("what's the best way to {x}", "activity"), ("can you teach me to {x}", "activity"),
    ("any tips on how to {x}", "activity"), ("is it hard to {x}", "activity"), ("help me {x}", "activity"),
    ("what is {x}", "thing"), ("tell me about {x}", "thing"), ("explain {x} to me", "thing"),
    ("what do you know about {x}", "thing"), ("i want to learn about {x}", "thing"), ("why is {x} important", "thing"),
    ("who invented {x}", "invention"), ("when was {x} invented", "invention"), ("how does {x} work", "invention"),
    ("what is the {x}", "fact"), ("do you know the {x}", "fact"), ("tell me the {x}", "fact"),
    ("recommend a good {x}", "recommendation"), ("what's a good {x}", "recommendation"),
    ("suggest a {x} for me", "recommendation"), ("which {x} should i pick", "recommendation"),
    ("is it safe to {x}", "risky"), ("is it legal to {x}", "risky"), ("should i {x}", "risky"),
    ("how many calories are in {x}", "food"), ("give me a recipe for {x}", "food"), ("how long do i cook {x}", "food"),
    ("what are the symptoms of {x}", "illness"), ("how do you treat {x}", "illness"), ("is {x} contagious", "illness"),
]
TOPICS = {
    "activity": ["fix a leaking tap", "tie a tie", "train my dog to sit", "grow tomatoes", "change a flat tyre",
                 "get rid of ants", "improve my credit score", "write a cover letter", "meditate", "learn the guitar",
                 "unclog a drain", "paint a room", "start running", "bake bread", "fold a fitted sheet",
                 "jump start a car", "save for retirement", "negotiate a raise", "remove a wine stain", "solve a rubik's cube"],
    "thing": ["quantum physics", "black holes", "the french revolution", "photosynthesis", "blockchain",
              "the roman empire", "climate change", "machine learning", "the stock market", "impressionism",
              "string theory", "the cold war", "dna", "inflation", "plate tectonics", "the renaissance"],
    "invention": ["the telephone", "the light bulb", "the internet", "the printing press", "penicillin", "the airplane",
                  "the bicycle", "the microwave", "television", "the compass"],
    "fact": ["tallest mountain in the world", "capital of australia", "population of brazil", "speed of light",
             "longest river in africa", "boiling point of water", "distance to the moon", "oldest country in europe",
             "largest ocean", "deepest lake on earth", "fastest land animal", "smallest planet"],
    "recommendation": ["book to read", "movie for tonight", "podcast about history", "board game for kids",
                       "pair of running shoes", "laptop for students", "wine with pasta", "houseplant for low light",
                       "video game", "camera for beginners", "name for my cat"],
    "risky": ["eat raw cookie dough", "swim after eating", "drive barefoot", "mix bleach and vinegar",
              "invest in crypto", "take ibuprofen with coffee", "quit my job", "buy a used car online",
              "leave my dog home alone all day"],
    "food": ["an avocado", "a banana", "lasagna", "a boiled egg", "chicken curry", "pancakes", "a turkey", "brown rice"],
    "illness": ["the flu", "strep throat", "diabetes", "migraine", "chickenpox", "food poisoning", "a sprained ankle"],
}
STANDALONE = [
    "write me a poem about the sea", "tell me a joke", "what's the meaning of life", "who won the world cup in 2014",
    "do you think aliens exist", "what's 17 times 23", "can you do my math homework", "who is the richest person alive",
    "what should i name my baby", "how old is the universe", "translate my dreams into a story", "sing me a song",
    "what's the score of the game last night", "who's going to win the election", "what's your favourite colour",
    "flip a coin for me", "roll a dice", "what's the square root of 144", "how far is mars", "why is the sky blue",
    "what's the best pizza topping", "write an essay about dogs", "where can i adopt a kitten", "how do magnets work",
    "is coffee bad for you", "what time zone is tokyo in", "give me a random fact", "what's a good hobby",
    "how do i get over a breakup", "can you diagnose this rash", "should i buy bitcoin", "what's the plot of hamlet",
]


def out_of_scope_rows(n: int, seed: int, intent: str = "out_of_scope") -> list[tuple[str, str, str, str]]:
    """Up to `n` distinct off-topic requests as (text, intent, "oos_generator", group=its frame)."""
    rng = random.Random(seed)
    candidates = [(frame.format(x=topic), f"oos/frame{i}") for i, (frame, kind) in enumerate(FRAMES)
                  for topic in TOPICS[kind]]
    candidates += [(text, f"oos/standalone{i}") for i, text in enumerate(STANDALONE)]
    rng.shuffle(candidates)
    seen, out = set(), []
    for text, group in candidates:
        if len(out) >= n:
            break
        if text not in seen:
            seen.add(text)
            out.append((text, intent, "oos_generator", group))
    return out
