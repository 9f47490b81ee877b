"""The verb / noun pair metrics of the grounding task (grounding/pairs.py), on hand-computed cases."""

import torch

from vdi_core.datatypes import Query, Video
from vdi_core.grounding.pairs import pair_accuracy, pair_counts, pair_groups, pair_metrics, top1_moments
from vdi_core.grounding.proposals import proposal_mask

MOMENTS = [(0.0, 10.0), (20.0, 30.0), (40.0, 50.0)]


def test_a_model_that_finds_each_own_moment_scores_one():
    assert pair_accuracy(MOMENTS, MOMENTS, [[0, 1, 2]]) == (1.0, 6)


def test_the_same_answer_for_both_twins_scores_one_half():
    # both queries point at the first moment: query 0 wins (tIoU 1 vs 0), query 1 loses (0 vs 1)
    assert pair_accuracy([(0.0, 10.0), (0.0, 10.0)], MOMENTS[:2], [[0, 1]]) == (0.5, 2)
    # both point between the moments: a tie each (tIoU 0 vs 0)
    assert pair_accuracy([(12.0, 18.0), (12.0, 18.0)], MOMENTS[:2], [[0, 1]]) == (0.5, 2)


def test_overlapping_twins_and_singletons_are_not_compared():
    moments = [(0.0, 10.0), (1.0, 11.0), (20.0, 30.0)]  # 0 and 1 overlap (tIoU 9/11)
    assert pair_accuracy(moments, moments, [[0, 1], [2]]) == (None, 0)
    assert pair_accuracy([(0.0, 10.0), (0.0, 10.0), (20.0, 30.0)], moments, [[0, 1, 2]])[1] == 4


def test_a_partial_overlap_counts_by_tiou():
    # query 0 predicts 5..25: tIoU 5/25 with its own 0..10, 5/25 with 20..30 -> a tie (0.5);
    # query 1 predicts 22..35: 8/15 own vs 0 twin -> a win
    assert pair_accuracy([(5.0, 25.0), (22.0, 35.0)], MOMENTS[:2], [[0, 1]]) == (0.75, 2)


def test_top1_moments_picks_the_best_valid_cell_in_seconds():
    n = 4
    mask = proposal_mask(n, (3,))
    scores = torch.zeros(2, n, n)
    scores[0, 1, 2] = 5.0  # clips 1..2 of a 40 s video -> 10..30 s
    scores[1, 3, 0] = 9.0  # i > j is never valid
    scores[1, 0, 3] = 1.0  # the whole 20 s video
    assert top1_moments(scores, mask, torch.tensor([40.0, 20.0])) == [(10.0, 30.0), (0.0, 20.0)]


def _video(vid, tags):
    qs = [Query(f"{vid}#{k}", "s", m, actor=a, verb=v) for k, (a, v, m) in enumerate(tags)]
    return Video(vid, 40.0, None, None, qs)


def test_groups_follow_the_tags_and_the_prepared_order():
    videos = [_video("v", [("a0", "grow", (0, 10)), ("a0", "vanish", (20, 30)), ("a1", "grow", (10, 20))]),
              _video("w", [("a0", "grow", (0, 10))])]
    # the prepared split dropped v#1's neighbour order: rows follow `qids`, not the source
    qids = ["w#0", "v#2", "v#0", "v#1"]
    g = pair_groups(videos, qids)
    assert sorted(map(sorted, g["verb_pairs"])) == [[0], [1], [2, 3]]
    assert sorted(map(sorted, g["noun_pairs"])) == [[0], [1, 2], [3]]
    assert pair_groups([Video("u", 4.0, None, None, [Query("u#0", "s", (0, 1))])], ["u#0"]) is None


def test_pair_metrics_from_score_maps_hand_computed():
    # one 40 s video, 4 clips of 10 s: query 0 (actor 0, grow) at 0..10, query 1 (actor 0, vanish)
    # at 20..30, query 2 (actor 1, grow) at 10..20
    n = 4
    mask = proposal_mask(n, (3,))
    moments = torch.tensor([[0.0, 10.0], [20.0, 30.0], [10.0, 20.0]])
    scores = torch.zeros(3, n, n)
    scores[0, 0, 0] = 1.0  # 0..10: right
    scores[1, 0, 0] = 1.0  # 0..10: its verb twin's moment -> loses the verb pair
    scores[2, 1, 1] = 1.0  # 10..20: right
    groups = {"verb_pairs": [[0, 1]], "noun_pairs": [[0, 2], [1]]}
    out, per_pair = pair_metrics(scores, mask, torch.full((3,), 40.0), moments, groups)
    # verb pairs: (0,1) win, (1,0) loss -> 0.5; noun pairs: (0,2) win, (2,0) win -> 1.0
    assert out == {"verb_pairs": 0.5, "noun_pairs": 1.0}
    assert per_pair == {"verb_pairs": [1.0, 0.0], "noun_pairs": [1.0, 1.0]}
    assert pair_counts(groups, moments) == {"verb_pairs": 2, "noun_pairs": 2}
