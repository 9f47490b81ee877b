"""Does a trained grounding model read the verbs of the toy world? (a mini-profile diagnostic)

Every toy video has an actor doing two things (the noun distractor) and a second actor doing one of
the same things (the verb distractor). The grounding task scores, on the mini profile, pairs of
queries about the same actor with different verbs (`verb_pairs`) and pairs with the same verb about
different actors (`noun_pairs`): 0.5 means blind (grounding/pairs.py, docs/PREMISE.md). This
command runs the row the normal way (`vdi run`, reusing a stored result) and prints them.

    vdi diagnose table6 mmn_vit_joint [--seed 0]
"""

from __future__ import annotations

from ..errors import VdiError


def diagnose(table: str, row: str, seed: int = 0, log=print) -> dict[str, float]:
    """{"verb_pairs", "noun_pairs" (selected epoch, 0-1), "verb_pairs_count", "noun_pairs_count"}
    of one mini row and seed, from the run store (run first if it is not stored)."""
    from ..grounding.pairs import PAIR_METRICS
    from ..runner import execute, load_results, plan
    from ..spec import find_spec

    spec = find_spec(table)
    if spec.task != "grounding":
        raise VdiError(f"{table} is a {spec.task} table; the pair metrics belong to grounding rows")
    # plan() names an unknown row with a did-you-mean
    matches = [p for p in plan(spec, "mini", seeds=seed + 1, rows=[row]) if p.seed == seed]
    if not matches:
        raise VdiError(f"{table}: row '{row}' does not run on the mini profile")
    if matches[0].config.model.method != "mmn":
        raise VdiError(f"{table}:{row} trains no model (method {matches[0].config.model.method})")
    outcome = execute(matches, log=log)
    if outcome.failed:
        raise VdiError(f"{table}:{row} seed {seed} failed: {next(iter(outcome.failed.values()))}")
    rec = load_results(matches)[matches[0].key]
    missing = [m for m in PAIR_METRICS if m not in rec["metrics"]]
    if missing:
        raise VdiError(f"{table}:{row} seed {seed}: the stored result has no {', '.join(missing)} (the eval split "
                       f"has no query pairs, or the result predates them: `vdi run {table} --rows {row} --force`)")
    counts = rec.get("extra", {}).get("counts", {})
    out = {m: float(rec["metrics"][m]) for m in PAIR_METRICS}
    out.update({f"{m}_count": int(counts.get(f"{m}_count", 0)) for m in PAIR_METRICS})
    return out


def cmd_diagnose(args) -> int:
    r = diagnose(args.table, args.row, args.seed)
    print(f"{args.table}:{args.row} seed {args.seed}: verb pairs {r['verb_pairs']:.3f} of {r['verb_pairs_count']}, "
          f"noun pairs {r['noun_pairs']:.3f} of {r['noun_pairs_count']} (a model blind to them: 0.500)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("diagnose", help="mini: does a trained grounding row read the verbs? (verb / noun pairs)")
    p.add_argument("table")
    p.add_argument("row")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_diagnose)
