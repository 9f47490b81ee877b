"""Acceptance probes of the micro-CLIPs on held-out frames (never seen in pre-training).

* zero-shot attribute retrieval: for each frame, pick among captions of its first actor that
  differ in one attribute only (colour: 6 options, shape: 6, the actor's 3x3 grid cell: 9, box
  position: 4); chance = 1/options. P0 asks colour, shape and the actor's cell (where things are,
  what L^sd's patch differences and the moves need) to be read at 2x chance.
* the Table 1 premise: on SVO triplets, how often the sentence is closer to its positive frame
  than to the negative, per negative type (subject / verb / object); chance = 0.5.
* linear read-out: what the frame feature the grounding head gets carries of a lone actor (its
  shape, 3x3 grid cell, size class), no text involved. Zero-shot retrieval mixes what the image
  tower sees with what the text tower binds; this separates the two (docs/PREMISE.md, P0/P2).
* verb read-out: what the grounding features carry of each moment's verb, head and text side aside:
  a small MLP reads a query's verb from the change of the frame feature over its moment, fitted on
  the train videos' queries and scored on the test videos' (any mini backbone, ground-truth states
  included: the ceiling). It ranks the towers as their grounding rows' verb pairs do (P2).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import VdiError
from . import frames as frames_mod
from . import grammar


@torch.inference_mode()
def _encode(model, tokenizer, frames: np.ndarray, texts: list[str]):
    from ..towers.image import encode_frames

    img, _ = encode_frames(model, frames, patch_frames=0)
    img = torch.nn.functional.normalize(torch.from_numpy(img), dim=-1)
    txt = torch.nn.functional.normalize(model.encode_text(tokenizer(texts)).float(), dim=-1)
    return img, txt


def zero_shot(model, tokenizer, world: dict, count: int = 1000) -> dict[str, float]:
    """Accuracy (and chance) of picking the right colour / shape / grid cell / box position of actor 0."""
    frames, _, scenes = frames_mod.pretrain_set(world, world["seed"], "held_out")
    frames, scenes = frames[:count], scenes[:count]
    colours, shapes = list(world["vocab"]["colours"]), world["vocab"]["shapes"]
    positions, size = world["vocab"]["landmark_positions"], world["render"]["size"]
    cells = sorted(grammar.POSITION_WORDS)
    probes = {
        "colour": (colours, lambda s, v: f"a {v} {s.actors[0].shape}", lambda s: s.actors[0].colour),
        "shape": (shapes, lambda s, v: f"a {s.actors[0].colour} {v}", lambda s: s.actors[0].shape),
        "position": (cells, lambda s, v: f"a {s.actors[0].colour} {s.actors[0].shape} {grammar.POSITION_WORDS[v]}",
                     lambda s: grammar.grid_cell(s.actors[0].x, s.actors[0].y, size)),
        "box_position": (positions, lambda s, v: f"a {s.actors[0].colour} {s.actors[0].shape} near the "
                                                 f"{s.landmark[1]} box on the {v}", lambda s: s.landmark[0]),
    }
    out = {}
    for name, (options, text, truth) in probes.items():
        hits = 0
        for lo in range(0, len(scenes), 250):
            chunk = scenes[lo:lo + 250]
            texts = [text(s, v) for s in chunk for v in options]
            img, txt = _encode(model, tokenizer, frames[lo:lo + 250], texts)
            sims = (img[:, None, :] * txt.view(len(chunk), len(options), -1)).sum(-1)
            pred = sims.argmax(1).numpy()
            hits += sum(options[p] == truth(s) for p, s in zip(pred, chunk))
        out[f"{name}_acc"] = hits / len(scenes)
        out[f"{name}_chance"] = 1.0 / len(options)
    return out


def svo_premise(model, tokenizer, world: dict, count: int = 600) -> dict[str, float]:
    """acc(cos(sentence, positive) > cos(sentence, negative)) per negative type."""
    rows = frames_mod.triplets(world, world["seed"], count)
    sents = [r[0] for r in rows]
    pos_img, txt = _encode(model, tokenizer, np.stack([r[1] for r in rows]), sents)
    neg_img, _ = _encode(model, tokenizer, np.stack([r[2] for r in rows]), sents[:1])
    win = ((pos_img * txt).sum(-1) > (neg_img * txt).sum(-1)).numpy()
    kinds = np.array([r[3] for r in rows])
    return {f"{k}_acc": float(win[kinds == k].mean()) for k in ("subject", "verb", "object")}


def fit_linear(x: torch.Tensor, y: torch.Tensor, classes: int, steps: int = 300, seed: int = 0):
    """A standardised linear classifier, full-batch Adam; returns predict(x) -> labels."""
    gen = torch.Generator().manual_seed(seed)
    lin = torch.nn.Linear(x.shape[1], classes)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(lin.weight.shape, generator=gen) * 0.01)
        lin.bias.zero_()
    return _train(lin, x, y, steps, torch.optim.Adam(lin.parameters(), lr=1e-2))


def _train(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, opt):
    """Full-batch cross-entropy on the standardised features; returns predict(z) -> labels."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xs = (x - mu) / sd
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(net(xs), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return lambda z: net((z - mu) / sd).argmax(1)


def _readout_labels(world: dict, scenes) -> dict[str, tuple[int, torch.Tensor]]:
    """name -> (classes, labels) of each frame's lone actor: shape and grid cell as the text-free
    image tower learns them (pretrain.scene_labels), and big / small about the middle size."""
    from .pretrain import scene_labels

    labels = scene_labels(world, scenes)
    middle = sum(world["render"]["actor_size"]) / 2
    return {"shape": (len(world["vocab"]["shapes"]), labels["shape"]), "cell": (9, labels["cell"]),
            "size": (2, torch.tensor([int(s.actors[0].size >= middle) for s in scenes]))}


def linear_readout(model, world: dict, train: int = 4000) -> dict[str, float]:
    """Held-out accuracy (and chance: the majority class) of linear classifiers on the frame
    features (the global frame feature the grounding head gets) of one-actor frames: the first `train` of the
    pre-training set fit them, the held-out set scores them."""
    from ..towers.image import encode_frames

    sets = []
    for which, limit in (("pretrain", train), ("held_out", None)):
        lone = [s for s in frames_mod.pretrain_scenes(world, world["seed"], which) if len(s.actors) == 1][:limit]
        with torch.inference_mode():
            feats, _ = encode_frames(model, np.stack([frames_mod.render_scene(world, s) for s in lone]),
                                     patch_frames=0)
        sets.append((torch.from_numpy(feats).float(), _readout_labels(world, lone)))
    (xa, la), (xb, lb) = sets
    out = {}
    for name, (classes, ya) in la.items():
        yb = lb[name][1]
        predict = fit_linear(xa, ya, classes)
        out[f"{name}_acc"] = float((predict(xb) == yb).float().mean())
        out[f"{name}_chance"] = float(torch.bincount(yb).max()) / len(yb)
    return out


def moment_changes(videos) -> tuple[torch.Tensor, list[str]]:
    """[Q, d] the frame feature just after each query's moment minus the one just before it (a verb
    of the toy world is a change between the two), and the queries' verbs."""
    changes, verbs = [], []
    for v in videos:
        T = len(v.frames)
        for q in v.queries:
            if q.verb is None:
                raise VdiError(f"verb read-out: query {q.qid} has no verb tag; only the mini world's sources "
                               "tag their queries with a verb (datatypes.Query.verb)")
            first = int(round(q.moment[0] * T / v.duration))
            after = int(round(q.moment[1] * T / v.duration))  # the moment's end is exclusive
            changes.append(v.frames[min(after, T - 1)] - v.frames[max(first - 1, 0)])
            verbs.append(q.verb)
    return torch.from_numpy(np.stack(changes)).float(), verbs


def fit_mlp(x: torch.Tensor, y: torch.Tensor, classes: int, hidden: int = 256, steps: int = 200, seed: int = 0):
    """A standardised one-hidden-layer classifier, full-batch Adam; returns predict(x) -> labels.
    Non-linear, because a verb is a signed change of one actor's state, which a frame feature need not
    hold along one direction."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(hidden, classes))
    return _train(net, x, y, steps, torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4))


def verb_readout(train_videos, test_videos) -> dict[str, float]:
    """Held-out accuracy of reading each query's verb from `moment_changes`, the majority-class
    rate, and the accuracy per verb (`acc_<verb>`)."""
    xa, va = moment_changes(train_videos)
    xb, vb = moment_changes(test_videos)
    verbs = sorted(set(va))
    ya = torch.tensor([verbs.index(v) for v in va])
    yb = torch.tensor([verbs.index(v) if v in verbs else -1 for v in vb])
    predict = fit_mlp(xa, ya, len(verbs))
    with torch.no_grad():
        hit = predict(xb) == yb
    out = {"acc": float(hit.float().mean()), "chance": float(torch.bincount(yb[yb >= 0]).max()) / len(yb)}
    out.update({f"acc_{v}": float(hit[yb == k].float().mean()) for k, v in enumerate(verbs) if (yb == k).any()})
    return out
