"""The toy video world: scripted videos of actors doing actions, their queries, and the splits.

A video is a *script* (actors, landmark, timed events) drawn from a seeded generator; rendering
it (`render_video`) is a pure function of the script. Each event is one query. The structure
builds in the distractors that make verbs matter: actor A does actions x and y, actor B also does
x (and maybe z), so the nouns of a query ("the red circle") match two events and its verb ("moves
left") matches two events; only both together localise it. In a share of the videos (A22) the two
actors also share their colour or their shape, so the subject needs both of its nouns; in
novel_word that makes the novel word needed (`needs_novel_word`, rung P4). Event times are
Dirichlet-random so no fixed proposal fits many queries.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import draw, grammar

WORLD_TOML = Path(__file__).with_name("world.toml")
SPLITS = ("train", "test", "novel_word", "novel_composition")
# The spec's data-set split names -> toy splits. Charades-CG's novel-word and novel-composition
# splits map to ours; Charades-STA's original test split is our i.i.d. test split.
SPEC_SPLITS = {
    "charades_cg/train": "train",
    "charades_cg/novel_word": "novel_word",
    "charades_cg/novel_composition": "novel_composition",
    "charades_sta/train": "train",
    "charades_sta/test": "test",
}
# Split seeds are offsets of the world seed so the splits' videos never share a random stream.
_SPLIT_STREAM = {"train": 1, "test": 2, "novel_word": 3, "novel_composition": 4, "pretrain": 5,
                 "held_out": 6, "triplets": 7}


def load_world(path: Path | None = None) -> dict:
    """The parsed world.toml (WORLD_TOML, read at call time so tests can point it at a copy)."""
    with open(path or WORLD_TOML, "rb") as f:
        return tomllib.load(f)


def config_hash(obj) -> str:
    """Stable hash of a JSON-able config (key order does not matter)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def stream(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, _SPLIT_STREAM[name]])


@dataclass
class Event:
    actor: int
    action: str
    start: int  # frame index, inclusive
    end: int  # frame index, exclusive
    amount: float = 0.0  # px moved / grown (signed for size)
    new_colour: str | None = None


@dataclass
class Script:
    vid: str
    shapes: list[str]
    colours: list[str]  # initial colour per actor
    sizes: list[float]
    xy: list[tuple[float, float]]
    landmark: tuple[str, str]  # (position, colour)
    events: list[Event]
    bg_seed: int
    queries: list[tuple[int, str]] = field(default_factory=list)  # (event index, sentence)


def _split_policy(world: dict, split: str):
    """(allowed actor colours, allowed shapes, must-have-novel, query predicate) for a split."""
    colours, shapes = list(world["vocab"]["colours"]), list(world["vocab"]["shapes"])
    novel = set(world["splits"]["novel_words"])
    comps = {tuple(c) for c in world["splits"]["novel_compositions"]}
    base_c = [c for c in colours if c not in novel]
    base_s = [s for s in shapes if s not in novel]

    def seen(sentence, shape, action):
        return not (grammar.words_of(sentence) & novel) and (shape, action) not in comps

    if split in ("train", "test"):
        return base_c, base_s, base_c, seen
    if split == "novel_word":
        return colours, shapes, colours, lambda s, sh, a: bool(grammar.words_of(s) & novel)
    if split == "novel_composition":
        return base_c, base_s, base_c, lambda s, sh, a: (sh, a) in comps and not (grammar.words_of(s) & novel)
    raise ValueError(split)


def _pick_actors(rng, world, split, colours, shapes):
    n = world["video"]["actors"]
    novel = set(world["splits"]["novel_words"])
    share = world["video"]["shared_attribute"]
    # drawn only when the knob is on, so shared_attribute = 0 gives the first design's videos exactly
    if share > 0 and rng.random() < share:
        return _pick_sharing(rng, n, split, colours, shapes, novel)
    while True:
        cs = list(rng.choice(colours, n, replace=False))
        ss = list(rng.choice(shapes, n, replace=False))
        # in novel_word every actor carries a novel word, so every query holds one
        if split != "novel_word" or all(c in novel or s in novel for c, s in zip(cs, ss)):
            return [str(c) for c in cs], [str(s) for s in ss]


_OTHER = {"colour": "shape", "shape": "colour"}


def _pick_sharing(rng, n, split, colours, shapes, novel):
    """Actors that share a colour or a shape (A22), so a query needs both of its nouns.

    In novel_word the shared value is a seen one and actor A (who does x and y) differs from the
    others by a novel word: masking that word leaves a phrase that fits A's x and B's x alike. B
    carries no novel word there, so its events give no novel_word query.
    """
    options = {"colour": colours, "shape": shapes}
    kinds = ["colour", "shape"]
    if split == "novel_word":  # share the attribute whose *other* attribute has a novel value
        kinds = [k for k in kinds if any(v in novel for v in options[_OTHER[k]])]
    kind = kinds[int(rng.integers(len(kinds)))]
    shared_pool = [v for v in options[kind] if not (split == "novel_word" and v in novel)]
    shared = str(rng.choice(shared_pool))
    pool = options[_OTHER[kind]]
    if split == "novel_word":
        first = str(rng.choice([v for v in pool if v in novel]))
        rest = [str(v) for v in rng.choice([v for v in pool if v not in novel], n - 1, replace=False)]
        differ = [first] + rest
    else:
        differ = [str(v) for v in rng.choice(pool, n, replace=False)]
    same = [shared] * n
    return (same, differ) if kind == "colour" else (differ, same)


def needs_novel_word(world: dict, script: Script, query: tuple[int, str]) -> bool:
    """Whether masking the query's novel words leaves a subject that fits another actor too: every
    noun of the subject that is not novel (its colour, its shape) equals that actor's (rung P4)."""
    novel = set(world["splits"]["novel_words"])
    ev = script.events[query[0]]

    def nouns(actor):
        return colour_at(script, actor, ev.start), script.shapes[actor]

    mine = nouns(ev.actor)
    if not any(w in novel for w in mine):
        return False
    return any(all(w in novel or w == v for w, v in zip(mine, nouns(b)))
               for b in range(len(script.shapes)) if b != ev.actor)


def _preferred_actions(world, split, shape):
    comps = {tuple(c) for c in world["splits"]["novel_compositions"]}
    if split == "novel_composition":
        return [a for (s, a) in comps if s == shape]
    return [a for a in grammar.ACTIONS if (shape, a) not in comps]


def _timing(rng, world, k):
    """Event windows: Dirichlet shares of the frames for gap, event, gap, ..., event, gap."""
    T, m = world["video"]["frames"], world["video"]["min_event_frames"]
    v = world["video"]
    alphas = [v["event_alpha"] if i % 2 else v["gap_alpha"] for i in range(2 * k + 1)]
    shares = rng.dirichlet(alphas)
    lengths = shares * (T - k * m)
    lengths[1::2] += m
    edges = np.rint(np.concatenate([[0.0], np.cumsum(lengths)])).astype(int)
    return [(int(edges[2 * i + 1]), int(edges[2 * i + 2])) for i in range(k)]


def _plan(rng, world, split, shapes):
    """Which actor does what: A does x and y, B does x (the distractors), plus z for B."""
    a_pref, b_pref = (_preferred_actions(world, split, s) for s in shapes[:2])
    k = int(rng.integers(world["video"]["events"][0], world["video"]["events"][1] + 1))
    x = str(rng.choice(a_pref))
    y = str(rng.choice([a for a in a_pref if a != x] or [a for a in grammar.ACTIONS if a != x]))
    plan = [(0, x), (0, y), (1, x)]
    if k >= 4:
        plan.append((1, str(rng.choice([a for a in b_pref if a != x] or [a for a in grammar.ACTIONS if a != x]))))
    return plan


def _order(rng, plan, windows):
    """Assign windows to planned events; an actor's appear comes first and its vanish last."""
    perm = rng.permutation(len(plan))
    slots = [windows[i] for i in perm]
    rank = {"appear": 0, "vanish": 2}
    for actor in {a for a, _ in plan}:
        idx = [i for i, (a, _) in enumerate(plan) if a == actor]
        times = sorted(slots[i] for i in idx)
        for i, t in zip(sorted(idx, key=lambda i: rank.get(plan[i][1], 1)), times):
            slots[i] = t
    return sorted((slots[i][0], slots[i][1], a, act) for i, (a, act) in enumerate(plan))


def sample_script(rng: np.random.Generator, world: dict, split: str, vid: str) -> Script | None:
    """One video script, or None when the draw is infeasible (the caller draws again)."""
    r, S = world["render"], world["render"]["size"]
    colours, shapes, turn_colours, _ = _split_policy(world, split)
    cs, ss = _pick_actors(rng, world, split, colours, shapes)
    plan = _plan(rng, world, split, ss)
    timed = _order(rng, plan, _timing(rng, world, len(plan)))
    events, sizes, xy = [], [], []
    for i in range(len(cs)):
        acts = [act for _, _, a, act in timed if a == i]
        lo = 11 if "shrink" in acts else r["actor_size"][0]
        hi = r["actor_size"][1] - (r["grow_step"][1] if "grow" in acts else 0)
        sizes.append(float(rng.integers(lo, max(lo, hi) + 1)))
    steps = {}
    for _s, _e, a, act in timed:
        if act in grammar.MOVES:
            steps[(a, act)] = float(rng.integers(r["move_step"][0], r["move_step"][1] + 1))
    for i in range(len(cs)):
        rmax = (sizes[i] + r["grow_step"][1]) / 2 + 1
        lo_hi = []
        for axis in (0, 1):
            neg = sum(v for (a, act), v in steps.items() if a == i and grammar.MOVES[act][axis] < 0)
            pos = sum(v for (a, act), v in steps.items() if a == i and grammar.MOVES[act][axis] > 0)
            lo_hi.append((rmax + neg, S - rmax - pos))
        if any(lo > hi for lo, hi in lo_hi):
            return None
        xy.append(tuple(float(rng.uniform(lo, hi)) for lo, hi in lo_hi))
    used = set(cs)
    for s, e, a, act in timed:
        ev = Event(a, act, s, e)
        if act in grammar.MOVES:
            ev.amount = steps[(a, act)]
        elif act in ("grow", "shrink"):
            step = float(rng.integers(r["grow_step"][0], r["grow_step"][1] + 1))
            ev.amount = step if act == "grow" else -step
        elif act == "turn":
            options = [c for c in turn_colours if c not in used]
            ev.new_colour = str(rng.choice(options))
            used.add(ev.new_colour)
        events.append(ev)
    if sum(ev.action == "turn" for ev in events if ev.actor == 0) > 1:
        return None
    landmark = (str(rng.choice(world["vocab"]["landmark_positions"])), str(rng.choice(turn_colours)))
    return Script(vid, ss, cs, sizes, xy, landmark, events, int(rng.integers(2**31)))


def colour_at(script: Script, actor: int, frame: int) -> str:
    """The actor's colour word at the start of a frame (a colour change takes effect at its end)."""
    colour = script.colours[actor]
    for ev in script.events:
        if ev.actor == actor and ev.action == "turn" and ev.end <= frame:
            colour = ev.new_colour
    return colour


def write_queries(rng, world: dict, split: str, script: Script) -> None:
    """One sentence per event whose (actor, action) is unique and that the split admits."""
    _, _, _, admits = _split_policy(world, split)
    keys = [(ev.actor, ev.action) for ev in script.events]
    for i, ev in enumerate(script.events):
        if keys.count(keys[i]) > 1:
            continue
        lm = script.landmark[1] if rng.random() < world["video"]["landmark_in_query"] else None
        shape = script.shapes[ev.actor]
        sent = grammar.query_sentence(rng, colour_at(script, ev.actor, ev.start), shape, ev.action,
                                      new_colour=ev.new_colour, landmark_colour=lm)
        if admits(sent, shape, ev.action):
            script.queries.append((i, sent))


def script_from_dict(d: dict) -> Script:
    """The inverse of dataclasses.asdict for a Script (JSON turns tuples into lists)."""
    return Script(vid=d["vid"], shapes=list(d["shapes"]), colours=list(d["colours"]), sizes=list(d["sizes"]),
                  xy=[tuple(p) for p in d["xy"]], landmark=tuple(d["landmark"]),
                  events=[Event(**e) for e in d["events"]], bg_seed=d["bg_seed"],
                  queries=[tuple(q) for q in d["queries"]])


def generate_split(world: dict, split: str, seed: int, count: int | None = None) -> list[Script]:
    rng = stream(seed, split)
    n = world["splits"][split] if count is None else count
    scripts: list[Script] = []
    while len(scripts) < n:
        vid = f"{split}_{len(scripts):05d}"
        script = sample_script(rng, world, split, vid)
        if script is None:
            continue
        write_queries(rng, world, split, script)
        if script.queries:
            scripts.append(script)
    return scripts


def tracks(world: dict, script: Script) -> list[draw.ActorTrack]:
    """Per-frame actor states: each event changes its actor linearly over its window."""
    T, cols = world["video"]["frames"], world["vocab"]["colours"]
    t = np.arange(T, dtype=np.float64)
    out = []
    for i, shape in enumerate(script.shapes):
        x, y = np.full(T, script.xy[i][0]), np.full(T, script.xy[i][1])
        size, alpha = np.full(T, script.sizes[i]), np.ones(T)
        rgb = np.tile(np.asarray(cols[script.colours[i]], dtype=np.float64), (T, 1))
        tdx, tdy = np.zeros(T), np.zeros(T)
        for ev in (e for e in script.events if e.actor == i):
            p = np.clip((t - ev.start + 0.5) / (ev.end - ev.start), 0.0, 1.0)
            inside = (t >= ev.start) & (t < ev.end)
            if ev.action in grammar.MOVES:
                dx, dy = grammar.MOVES[ev.action]
                x += dx * ev.amount * p
                y += dy * ev.amount * p
                # the trail lags 3 px behind the direction of motion while moving
                tdx -= dx * 3.0 * inside
                tdy -= dy * 3.0 * inside
            elif ev.action in ("grow", "shrink"):
                size += ev.amount * p
            elif ev.action == "turn":
                rgb += p[:, None] * (np.asarray(cols[ev.new_colour], dtype=np.float64) - rgb[ev.start])
            elif ev.action == "appear":
                alpha *= p
            elif ev.action == "vanish":
                alpha *= 1.0 - p
        out.append(draw.ActorTrack(shape, x, y, size, rgb, alpha, tdx, tdy))
    return out


def render_video(world: dict, script: Script) -> np.ndarray:
    r = world["render"]
    bg = draw.background(np.random.default_rng(script.bg_seed), r["size"], r["background"], r["noise"])
    pos, colour = script.landmark
    return draw.render(bg, (pos, world["vocab"]["colours"][colour]), tracks(world, script),
                         thickness=r["landmark_thickness"], trail_opacity=r["trail"])


def moment_seconds(world: dict, ev: Event) -> tuple[float, float]:
    fps = world["video"]["fps"]
    return ev.start / fps, ev.end / fps


def assert_splits(world: dict, splits: dict[str, list[Script]]) -> None:
    """The split contract: disjoint videos, novel words held out of train, compositions too."""
    novel = set(world["splits"]["novel_words"])
    comps = {tuple(c) for c in world["splits"]["novel_compositions"]}
    ids = [s.vid for ss in splits.values() for s in ss]
    assert len(ids) == len(set(ids)), "a video appears in two splits"
    train_words, train_pairs = set(), set()
    for s in splits.get("train", []):
        for i, sent in s.queries:
            train_words |= grammar.words_of(sent)
            train_pairs.add((s.shapes[s.events[i].actor], s.events[i].action))
    assert not (train_words & novel), f"novel words in train queries: {train_words & novel}"
    assert not (train_pairs & comps), f"novel compositions in train: {train_pairs & comps}"
    for s in splits.get("novel_word", []):
        for _, sent in s.queries:
            assert grammar.words_of(sent) - train_words, f"no novel word in '{sent}'"
    for s in splits.get("novel_composition", []):
        for i, sent in s.queries:
            pair = (s.shapes[s.events[i].actor], s.events[i].action)
            assert pair in comps and pair not in train_pairs, f"'{sent}' is not a novel composition"
