"""Text instruction -> plan: category, puppet motion, root motion and camera path (AniX §3.2, step 2).

AniX parses each instruction into one of four categories, each with its camera path: locomotion (the
camera follows the character), gesture and object-centric action (the camera stays still) and camera
behaviour (an orbit around the character, or following it). :func:`parse_instruction` does this with
phrase tables, offline; given an :class:`LLMConfig` it asks an OpenAI-compatible model to choose from the
same tables, so a model can invent neither a motion nor a category.

The puppet motions do not travel in 3D: locomotion reuses the limbs of ``walk`` or ``run_in_place`` and
states the travel as data, ``root_velocity`` in the character's frame and ``turn_deg`` over the clip,
which :func:`root_motion` integrates into world positions for :func:`kinema.world.paths.camera_path`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from kinema.errors import KinemaInputError
from kinema.guidance.answers import REFUSALS
from kinema.guidance.client import ChatClient
from kinema.guidance.config import LLMConfig
from kinema.guidance.errors import MalformedAnswerError, RefusalError
from kinema.puppet.motions import MOTIONS
from kinema.world.paths import ORBIT_DIRECTIONS, PATHS, CameraPath, OrbitPath, PathConfig

Category = Literal["locomotion", "gesture", "object_action", "camera"]
CATEGORIES: tuple[Category, ...] = ("locomotion", "gesture", "object_action", "camera")
WALK_SPEED, RUN_SPEED = 1.4, 3.5  # world units per second (metres for a human-sized character)


@dataclass(frozen=True)
class Action:
    """An understood action: its ``category``, the puppet ``motion`` animating it, the camera ``path`` (a key
    of PATHS), the ``phrases`` naming it (the first is its example), and its root motion: ``velocity``
    (forward, left) in world units per second in the character's frame and ``turn_deg`` over the clip,
    counterclockwise seen from above (+ turns left)."""

    category: Category
    motion: str
    path: str
    phrases: tuple[str, ...]
    velocity: tuple[float, float] = (0.0, 0.0)
    turn_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.motion not in MOTIONS or self.path not in PATHS or self.category not in CATEGORIES:
            raise ValueError(f"action table entry names an unknown motion, path or category: {self}")


# 1. Locomotion: a gait and a direction in the character's frame; a bare gait goes forward.
GAITS = {"walk": ("walk", WALK_SPEED, ("walk", "go", "move", "step", "stroll")),
         "run": ("run_in_place", RUN_SPEED, ("run", "jog", "sprint", "dash"))}
DIRECTIONS = {"forward": ((1.0, 0.0), ("forward", "ahead", "straight", "straight ahead")),
              "backward": ((-1.0, 0.0), ("backward", "back")),
              "left": ((0.0, 1.0), ("to the left", "leftward", "sideways to the left")),
              "right": ((0.0, -1.0), ("to the right", "rightward", "sideways to the right"))}
MORE_PHRASES = {"walk_forward": ("walk", "stroll"), "run_forward": ("run", "jog", "sprint"),
                "walk_backward": ("back up", "backpedal"), "walk_left": ("sidestep left", "strafe left"),
                "walk_right": ("sidestep right", "strafe right")}


def _locomotion() -> dict[str, Action]:
    actions = {}
    for gait, (motion, speed, verbs) in GAITS.items():
        for direction, ((forward, left), words) in DIRECTIONS.items():
            name = f"{gait}_{direction}"
            phrases = tuple(f"{verb} {word}" for verb in verbs for word in words) + MORE_PHRASES.get(name, ())
            actions[name] = Action("locomotion", motion, "follow", phrases, (forward * speed, left * speed))
    return actions


PROPS = ("ball", "box", "can", "stone", "rock", "bottle", "bag", "door", "bucket", "chair")  # kickable things
ACTIONS: dict[str, Action] = _locomotion() | {
    "turn_left": Action("locomotion", "walk", "follow", ("turn left", "turn to the left", "rotate left", "face left"), turn_deg=90.0),
    "turn_right": Action("locomotion", "walk", "follow", ("turn right", "turn to the right", "rotate right", "face right"), turn_deg=-90.0),
    "turn_around": Action("locomotion", "walk", "follow", ("turn around", "turn round", "turn back", "about face"), turn_deg=180.0),
    # 2. Gestures: in place, the camera still.
    "wave": Action("gesture", "wave", "static", ("wave", "wave hello", "wave goodbye", "say hello", "say hi", "greet")),
    "clap": Action("gesture", "clap", "static", ("clap", "clap hands", "applaud")),
    "jump": Action("gesture", "jump", "static", ("jump", "jump up", "hop", "leap")),
    "squat": Action("gesture", "squat", "static", ("squat", "squat down", "crouch", "crouch down")),
    "kick": Action("gesture", "kick", "static", ("kick", "kick high", "kick leg")),
    "dance": Action("gesture", "dance", "static", ("dance", "boogie")),
    "arms_crossed": Action("gesture", "arms_crossed", "static", ("cross arms", "fold arms", "arms crossed", "arms folded")),
    "hand_sign": Action("gesture", "hand_sign", "static", ("show hand signs", "hand sign", "finger sign", "sign language")),
    "spin": Action("gesture", "spin", "static", ("spin", "spin around", "spin round", "twirl", "pirouette")),
    "run_in_place": Action("gesture", "run_in_place", "static", ("run in place", "run on the spot", "jog in place")),
    "idle": Action("gesture", "idle", "static", ("stand still", "stand", "stay still", "idle", "wait", "rest", "do nothing")),
    # 3. Object actions: the puppet's nearest motion (a squat reaches the ground), the camera still.
    "pick_up": Action("object_action", "squat", "static", ("pick up the box", "pick up", "pick", "lift", "grab", "collect")),
    "put_down": Action("object_action", "squat", "static", ("put down the box", "put down", "set down", "drop", "place", "put")),
    "kick_object": Action("object_action", "kick", "static", tuple(f"kick the {prop}" for prop in PROPS)),
    # 4. Camera behaviour: the character stands (orbit) or walks on (follow).
    "orbit": Action("camera", "idle", "orbit", (
        "the camera circles around the character", "orbit", "circle around", "circle round", "revolve around",
        "camera circle", "camera circle around", "camera rotate", "camera rotate around", "camera spin", "camera spin around",
        "camera turn around", "camera pan around", "camera go around", "camera move around",
        "rotate around the character", "go around the character", "move around the character", "pan around the character")),
    "follow": Action("camera", "walk", "follow", (
        "follow me", "follow", "the camera follows the character", "tracking shot", "track the character"),
        (WALK_SPEED, 0.0)),
}
OBJECT_PARTICLES = frozenset({"up", "down"})  # "pick the box up": the object is what remains after the verb


# Normalisation: lower case, no punctuation inside words, verb forms and synonyms to one lemma, fillers out.
VERBS = ("walk", "go", "move", "step", "stroll", "run", "jog", "sprint", "dash", "back", "backpedal", "sidestep",
         "strafe", "turn", "rotate", "face", "wave", "say", "greet", "clap", "applaud", "jump", "hop", "leap", "squat",
         "crouch", "kick", "dance", "boogie", "cross", "fold", "show", "spin", "twirl", "pirouette", "stand", "stay",
         "idle", "wait", "rest", "do", "pick", "lift", "grab", "collect", "put", "set", "drop", "place", "orbit",
         "circle", "revolve", "pan", "follow", "track", "sign")
IRREGULAR = {"ran": "run", "went": "go", "goes": "go", "gone": "go", "said": "say", "says": "say", "leapt": "leap",
             "spun": "spin", "stood": "stand", "did": "do", "does": "do", "done": "do",
             "forwards": "forward", "backwards": "backward", "leftwards": "leftward", "rightwards": "rightward",
             "arm": "arms", "hand": "hands", "fingers": "finger", "cam": "camera",
             "anticlockwise": "counterclockwise", "him": "character", "them": "character", "person": "character",
             "man": "character", "woman": "character", "boy": "character", "girl": "character", "player": "character",
             "avatar": "character", "hero": "character", "balls": "ball", "boxes": "box", "cans": "can",
             "stones": "stone", "rocks": "rock", "bottles": "bottle", "bags": "bag", "doors": "door"}
FILLERS = frozenset({"a", "an", "the", "to", "toward", "towards", "please", "his", "her", "their", "its", "my", "your",
                     "it", "slowly", "quickly", "fast", "briskly", "gently", "carefully", "now", "just"})
CONJUNCTIONS = frozenset({"and", "then", "while", "or", "but", "after", "before"})
NEGATIONS = frozenset({"not", "dont", "doesnt", "never", "no"})
MAX_GAP = 2  # words a phrase may skip between its own words ("walk slowly to the left", "pick the box up")


def _verb_forms(verb: str) -> set[str]:
    """Regular inflections of ``verb``: -s/-es, -ed/-d, -ing (dropping a final e, doubling a final consonant)."""
    forms = {verb + "s", verb + "ed", verb + "ing"}
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        forms.add(verb + "es")
    if verb.endswith("e"):
        forms |= {verb + "d", verb[:-1] + "ing"}
    if re.fullmatch(r".*[^aeiou][aeiou][^aeiouwxy]", verb):
        forms |= {verb + verb[-1] + "ing", verb + verb[-1] + "ed"}
    return forms


LEMMAS = {form: verb for verb in VERBS for form in _verb_forms(verb)} | IRREGULAR


def _clauses(text: str) -> list[list[str]]:
    """``text`` as clauses (split at punctuation and conjunctions) of lemmas, fillers dropped."""
    clauses: list[list[str]] = [[]]
    for word in re.findall(r"[a-z0-9]+|[,.;:!?]", text.lower().replace("'", "").replace("\u2019", "")):
        if word in CONJUNCTIONS or not word.isalnum():
            clauses.append([])
        elif word not in FILLERS:
            clauses[-1].append(LEMMAS.get(word, word))
    return [c for c in clauses if c]


def _phrase(text: str) -> tuple[str, ...]:
    (clause,) = _clauses(text)
    return tuple(clause)


PHRASES = [(_phrase(p), name) for name, action in ACTIONS.items() for p in action.phrases]  # (lemmas, action)


def _span(phrase: tuple[str, ...], clause: list[str]) -> tuple[int, int] | None:
    """(first, last) indices of ``phrase`` in ``clause``: its words in order, each gap at most MAX_GAP words."""
    for first in (i for i, word in enumerate(clause) if word == phrase[0]):
        last = first
        for word in phrase[1:]:
            window = clause[last + 1:last + 2 + MAX_GAP]
            if word not in window:
                break
            last += 1 + window.index(word)
        else:
            return first, last
    return None


@dataclass(frozen=True)
class _Match:
    clause: int
    first: int
    last: int
    words: int
    action: str

    def inside(self, other: _Match) -> bool:
        """Whether ``other`` covers this match with more of its own words (then this one is a part of it)."""
        return (self.clause == other.clause and other.first <= self.first and self.last <= other.last
                and other.words > self.words)


def understood() -> str:
    """The understood actions by category, each with an example phrase (for errors and the LLM prompt)."""
    return "; ".join(f"{category}: " + ", ".join(f"'{a.phrases[0]}'" for a in ACTIONS.values() if a.category == category)
                     for category in CATEGORIES)


def _not_understood(text: str, problem: str) -> KinemaInputError:
    return KinemaInputError(f"instruction '{text}'", problem, f"Give one action per instruction. Understood: {understood()}.")


def _rule_match(text: str) -> tuple[str, str | None]:
    """The action ``text`` names and, for an object action, its object; KinemaInputError unless exactly one."""
    clauses = _clauses(text)
    if any(word in NEGATIONS for clause in clauses for word in clause):
        raise _not_understood(text, "is negated; say what the character should do instead")
    matches = [_Match(c, *span, len(phrase), name) for c, clause in enumerate(clauses)
               for phrase, name in PHRASES if (span := _span(phrase, clause))]
    kept = [m for m in matches if not any(m.inside(other) for other in matches)]
    names = sorted({m.action for m in kept})
    if not names:
        raise _not_understood(text, "is not understood")
    if len(names) > 1:
        raise _not_understood(text, f"names several actions ({', '.join(names)})")
    match = kept[0]
    if ACTIONS[match.action].category != "object_action":
        return match.action, None
    rest = [w for w in clauses[match.clause][match.first + 1:] if w not in OBJECT_PARTICLES]
    return match.action, " ".join(rest) or None


def _orbit_direction(text: str) -> str:
    """Clockwise (seen from above) when ``text`` says so, or says left: the camera moving to its own left."""
    words = [w for clause in _clauses(text) for w in clause]
    pairs = set(zip(words, words[1:]))
    if "counterclockwise" in words or {("counter", "clockwise"), ("anti", "clockwise")} & pairs:
        return "counterclockwise"
    return "clockwise" if "clockwise" in words or "left" in words else "counterclockwise"


@dataclass(frozen=True)
class Plan:
    """What an instruction asks for: the ``action`` (a key of ACTIONS), its ``category`` and puppet ``motion``,
    the ``camera`` path (which also holds the clip's duration and fps), the root motion (``root_velocity``
    (forward, left) in world units per second in the character's frame, ``turn_deg`` over the clip,
    counterclockwise seen from above) and the ``object`` of an object action."""

    text: str
    action: str
    category: Category
    motion: str
    camera: CameraPath
    root_velocity: tuple[float, float] = (0.0, 0.0)
    turn_deg: float = 0.0
    object: str | None = None


def _plan(text: str, name: str, obj: str | None, direction: str | None, timing: PathConfig) -> Plan:
    """The plan of action ``name`` from the tables; ``obj`` kept for object actions, ``direction`` for orbits."""
    action = ACTIONS[name]
    path, clip = PATHS[action.path], asdict(timing)
    camera = path(**clip, direction=direction or "counterclockwise") if path is OrbitPath else path(**clip)
    return Plan(text, name, action.category, action.motion, camera, action.velocity, action.turn_deg,
                (obj or None) if action.category == "object_action" else None)


# The language-model option: a JSON answer, checked against the same tables.
UNKNOWN = "unknown"
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"action": {"enum": [*ACTIONS, UNKNOWN]}, "object": {"type": ["string", "null"]},
                   "orbit_direction": {"enum": [*ORBIT_DIRECTIONS, None]}},
    "required": ["action"], "additionalProperties": False,
}
PROMPT = """You turn one instruction for an animated character into a plan. Choose the one action it asks for:
{actions}
Answer with one JSON object and nothing else, following this JSON schema:
{schema}
"object" names the thing of an object action (e.g. "box"), else null. "orbit_direction" is for "orbit" only, \
seen from above. If the instruction asks for none of these actions, or for several, answer {{"action": "{unknown}"}}.
Instruction: {text}"""


def _prompt(text: str) -> list[dict]:
    actions = "\n".join(f"- {name} ({a.category}): e.g. '{a.phrases[0]}'" for name, a in ACTIONS.items())
    prompt = PROMPT.format(actions=actions, schema=json.dumps(ANSWER_SCHEMA), unknown=UNKNOWN, text=text)
    return [{"role": "user", "content": prompt}]


def _check_answer(text: str) -> str:
    """The model's answer as canonical JSON, or MalformedAnswerError/RefusalError when it breaks the schema."""
    if REFUSALS.match(text.strip()):
        raise RefusalError(f"the model refused to parse the instruction: {text.strip()[:120]!r}")
    try:
        data = json.loads(re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip()))
    except (ValueError, RecursionError) as err:
        raise MalformedAnswerError(f"the instruction answer is not JSON: {text[:120]!r}") from err
    properties = ANSWER_SCHEMA["properties"]
    if not isinstance(data, dict) or "action" not in data or set(data) - set(properties):
        raise MalformedAnswerError(f"the instruction answer is not an object with 'action' and only {list(properties)}: {text[:120]!r}")
    for key in ("action", "orbit_direction"):
        if key in data and data[key] not in properties[key]["enum"]:
            raise MalformedAnswerError(f"the instruction answer's {key} {data[key]!r} is not one of {properties[key]['enum']}")
    if not isinstance(data.get("object"), (str, type(None))):
        raise MalformedAnswerError(f"the instruction answer's object {data['object']!r} is not a string or null")
    return json.dumps(data, sort_keys=True)


def parse_instruction(text: str, duration_s: float = 4.0, fps: float = 16.0, llm: LLMConfig | None = None) -> Plan:
    """The plan of one instruction, for a clip of ``duration_s`` seconds at ``fps``.

    Rule-based and offline unless ``llm`` is given; then the model chooses among the same actions.
    Unknown, negated or several-action text raises KinemaInputError listing what is understood.
    """
    timing = PathConfig(duration_s=duration_s, fps=fps)  # checked before any parsing or request
    if not text.strip():
        raise _not_understood(text, "is empty")
    if llm is not None:
        answer = json.loads(ChatClient(llm).complete(_prompt(text), _check_answer, "instruction"))
        if answer["action"] == UNKNOWN:
            raise _not_understood(text, f"is not understood by the language model {llm.model}")
        return _plan(text, answer["action"], answer.get("object"), answer.get("orbit_direction"), timing)
    name, obj = _rule_match(text)
    return _plan(text, name, obj, _orbit_direction(text) if name == "orbit" else None, timing)


def root_motion(plan: Plan, start: np.ndarray, heading_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) root positions and (T,) headings in degrees of ``plan`` from ``start`` facing ``heading_deg``.

    Headings are counterclockwise from world +x; the heading turns at a constant rate to ``heading_deg +
    plan.turn_deg`` at the last frame, and each frame steps the root by the velocity at its heading (Euler).
    """
    frames, fps = plan.camera.num_frames, plan.camera.fps
    headings = heading_deg + plan.turn_deg * np.linspace(0.0, 1.0, frames)  # (T,)
    psi = np.radians(headings)
    forward, left = plan.root_velocity
    velocity = np.stack([forward * np.cos(psi) - left * np.sin(psi), forward * np.sin(psi) + left * np.cos(psi),
                         np.zeros(frames)], axis=1)  # (T, 3) world units per second
    steps = np.concatenate([np.zeros((1, 3)), np.cumsum(velocity[:-1] / fps, axis=0)])  # (T, 3)
    return np.asarray(start, dtype=np.float64) + steps, headings
