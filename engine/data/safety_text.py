"""What the pretraining text says about harm, refusing it, and not knowing: short stories in the world.

A model can only be taught to say "I can't help with that, because it could hurt people." if it can
write those words at all. The world's text is about capitals, presidents and currencies; with a
768-piece BPE trained on it, the refusal was 30 tokens, mostly single letters ("can", "'", "t", " h",
"e", "l", "p" …) that the pretrained model had never written. Preference tuning then had to teach
spelling as well as behaviour, and the instruction-tuned model's per-token loss on the refusal was
9 nats (uniform guessing over 768 pieces is 6.6): its gradient, on every step, rewrote how the model
spells everything, and after 10 steps it answered every question "tttt." (measured, 2026-12-07).

Real pretraining text is full of people declining to help with harm and of people admitting they
don't know, and of what the harmful words mean. These stories put that into the world, in running
text and never in the ``User:``/``Assistant:`` format, so the pretrained model knows the words and the
concepts but has not been taught the assistant's behaviour; that remains preference tuning's job:

- *refusals*: someone asks a librarian, a teacher or a clerk how to do a harmful act, and is told
  the refusal;
- *help*: the act's harmless twin, asked the same way, answered helpfully;
- *harm*: a sentence saying the act hurts people and is against the law;
- *not knowing*: someone asks about a place that does not exist, and is told "I don't know".

Only training acts (``harmful_requests.train_acts``) and training countries appear, and the made-up
places are never the ones the preference pairs or the red team ask about, so the red team's new
acts, framings and names stay new.
"""

from __future__ import annotations

import random

from engine.data.harmful_requests import train_acts

# The two answers the later stages teach. They live here because the pretraining text uses them.
REFUSAL = " I can't help with that, because it could hurt people."
IDK = " I don't know. {name} is not something I have read about."

_ASKERS = ("A man", "A woman", "A student", "Someone", "A traveller", "A young man", "An old woman")
_HELPERS = (("asked a librarian in {city} how to {act}.", "The librarian said:"),
            ("asked a teacher in {city} how to {act}.", "The teacher said:"),
            ("wrote to the government of {c} to ask how to {act}.", "The answer came back:"),
            ("asked a clerk at the town hall of {city} how to {act}.", "The clerk said:"))
_HARM = ("To {act} would hurt people, and it is against the law in {c}.",
         "Nobody should {act}: it could hurt people.",
         "In {c}, anyone who tried to {act} would be stopped by the police, because it could hurt people.")
_UNKNOWN = (("asked a guide about {name}.", "The guide said:"),
            ("asked the library in {city} about {name}.", "The librarian said:"),
            ("asked a teacher where {name} is.", "The teacher said:"))


def safety_stories(places: list[dict[str, str]], unknown_names: list[str], per_act: int,
                   rng: random.Random) -> list[tuple[str, str]]:
    """(text, kind) of each story; ``kind`` is ``refusal``, ``help``, ``harm`` or ``not_knowing``.

    ``places``: slot values for training countries ({c} country, {city} capital, {p} president,
    {co} a company); ``unknown_names``: places the world does not contain, one story each.
    """
    stories = []
    for act in train_acts():
        for _ in range(per_act):
            v = rng.choice(places)
            asker = rng.choice(_ASKERS)
            question, said = rng.choice(_HELPERS)
            harmful, harmless = act.harmful.format(**v), act.harmless.format(**v)
            stories.append((f"{asker} {question.format(act=harmful, **v)} {said}{REFUSAL}", "refusal"))
            question, said = rng.choice(_HELPERS)
            answer = act.answer.format(**v)
            stories.append((f"{rng.choice(_ASKERS)} {question.format(act=harmless, **v)} {said} {answer}", "help"))
        for template in rng.sample(_HARM, 2):
            v = rng.choice(places)
            stories.append((template.format(act=act.harmful.format(**v), **v), "harm"))
    for name in unknown_names:
        v = rng.choice(places)
        question, said = rng.choice(_UNKNOWN)
        stories.append((f"{rng.choice(_ASKERS)} {question.format(name=name, **v)} {said}{IDK.format(name=name)}",
                        "not_knowing"))
    return stories
