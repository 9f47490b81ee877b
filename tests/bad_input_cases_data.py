"""Bad-input corpus cases: annotation and feature files, predictions and scoring (see tests/bad_inputs.py).

Scoring cases run `vdi score --pred P --gt G`; annotation cases write one tiny annotation file under
a fresh data root and run `vdi data stats --root ROOT --split SPLIT`, the CLI path that loads it.
Feature files have no CLI reader of their own (the paper run reads them after training data is
prepared), so their cases are ordinary tests: tests/test_data_sources.py
(`test_damaged_feature_files_are_one_line_naming_the_file`, truncated patches, an older transform)
and tests/test_features.py (`load_npz`, `check_video_count`, a damaged .npz met on resume).
"""

from __future__ import annotations

import json
from pathlib import Path

from bad_inputs import Case

# --- vdi score -----------------------------------------------------------------------------------

GT = {"q1": {"moment": [0, 4], "duration": 10}, "q2": {"moment": [2, 6], "duration": 8}}
PRED = {"q1": [[0, 4, 0.9], [5, 9, 0.4]], "q2": [[2, 6, 0.8]]}


def _score(pred_text: str | None = None, gt_text: str | None = None, extra: tuple[str, ...] = ()):
    """prepare(): write pred/gt files (JSON text, default the valid ones) and score them."""
    def prepare(tmp: Path) -> list[str]:
        p, g = tmp / "pred.json", tmp / "gt.json"
        p.write_bytes((pred_text if pred_text is not None else json.dumps(PRED)).encode("utf-8", "surrogateescape"))
        g.write_text(gt_text if gt_text is not None else json.dumps(GT), encoding="utf-8")
        return ["score", "--pred", str(p), "--gt", str(g), *extra]
    return prepare


def _pred(**queries) -> str:
    return json.dumps({**PRED, **queries})


SCORE_CASES = [
    Case("score-ok-baseline", "4", _score(), exit_code=0, phrase='"R@1,IoU=0.5": 100.0'),
    # item 4: the last of two equal keys won silently (R@1 moved, exit 0)
    Case("score-duplicate-query-id-in-pred", "4",
         _score('{"q1": [[5, 9, 1.0]], "q2": [[2, 6, 0.8]], "q1": [[0, 4, 0.9]]}'),
         phrase="key 'q1' appears more than once"),
    Case("score-duplicate-query-id-in-gt", "4",
         _score(gt_text='{"q1": {"moment": [0, 4], "duration": 10}, "q2": {"moment": [2, 6], "duration": 8}, '
                        '"q1": {"moment": [5, 9], "duration": 10}}'),
         phrase="key 'q1' appears more than once"),
    # item 5: RecursionError traceback
    Case("score-json-200000-deep", "5", _score("[" * 200_000 + "]" * 200_000), phrase="nested too deeply"),
    Case("score-gt-200000-deep", "5", _score(gt_text='{"q1": ' + "[" * 200_000 + "]" * 200_000 + "}"),
         phrase="nested too deeply"),
    # item 8: accepted without a word
    Case("score-pred-start-below-zero", "8", _score(_pred(q2=[[-1.5, 6, 0.8]])),
         phrase="pred.json['q2'][0]: [-1.5, 6.0] is not inside the video [0, 8] s"),
    Case("score-pred-end-past-duration", "8", _score(_pred(q1=[[0, 4, 0.9], [5, 12.5, 0.4]])),
         phrase="pred.json['q1'][1]: [5.0, 12.5] is not inside the video [0, 10] s"),
    # per-number checks, now whole-array (item 10): every kind still named by query and candidate
    Case("score-pred-nan-score", "4", _score('{"q1": [[0, 4, NaN]], "q2": [[2, 6, 0.8]]}'),
         phrase="NaN/inf score means the model diverged"),
    Case("score-pred-infinite-end", "4", _score('{"q1": [[0, Infinity, 0.9]], "q2": [[2, 6, 0.8]]}'),
         phrase="pred.json['q1'][0]: expected three finite numbers"),
    Case("score-pred-bool-score", "4", _score(_pred(q1=[[0, 4, True]])),
         phrase="pred.json['q1'][0]: expected three finite numbers"),
    Case("score-pred-string-time", "4", _score(_pred(q1=[["0", 4, 0.9]])),
         phrase="pred.json['q1'][0]: expected three finite numbers"),
    Case("score-pred-null-time", "4", _score(_pred(q1=[[0, None, 0.9]])),
         phrase="pred.json['q1'][0]: expected three finite numbers"),
    Case("score-pred-candidate-is-a-string", "5", _score(_pred(q1=["0 4 0.9"])),
         phrase="pred.json['q1'][0]: expected three finite numbers"),
    Case("score-pred-two-numbers", "5", _score(_pred(q1=[[0, 4]])),
         phrase="pred.json['q1'][0]: expected three finite numbers"),
    Case("score-pred-huge-integer", "5", _score('{"q1": [[0, 1' + "0" * 400 + ', 0.9]], "q2": [[2, 6, 0.8]]}'),
         phrase="pred.json['q1'][0]: expected three finite numbers"),
    Case("score-pred-inverted-candidate", "4", _score(_pred(q1=[[4, 1, 0.9]])), phrase="end 1.0 < start 4.0"),
    Case("score-pred-not-an-object", "5", _score("[[0, 4, 0.9]]"), phrase="expected a JSON object"),
    Case("score-pred-missing-query", "4", _score(json.dumps({"q1": PRED["q1"]})), phrase="no predictions for 1 of 2"),
    Case("score-pred-not-utf8", "5", _score('{"q1": [[0, 4, 0.9]], "q2": "\udcff"}'), phrase="not UTF-8"),
    Case("score-gt-scalar-moment", "5", _score(gt_text=json.dumps({**GT, "q1": {"moment": 3, "duration": 10}})),
         phrase="gt.json['q1']['moment']: expected two finite numbers"),
    Case("score-gt-duration-string", "5", _score(gt_text=json.dumps({**GT, "q1": {"moment": [0, 4],
                                                                                  "duration": "abc"}})),
         phrase="gt.json['q1']['duration']: expected a finite number"),
    Case("score-nms-out-of-range", "5", _score(extra=("--nms", "1.5")), phrase="expected a number in [0, 1]"),
    Case("score-pred-is-a-folder", "5", lambda tmp: ["score", "--pred", str(tmp), "--gt", str(tmp / "gt.json")],
         phrase="no such file"),
]

# --- annotation files: `vdi data stats` ---------------------------------------------------------

STA_CSV = "id,subject,length\nAO8RW,s,30.5\nBBBBB,s,{length}\n"


def _sta(line: str, length: str = "10.0"):
    """A Charades-STA test split: one good line and `line`, durations from the v1 csv files
    (lone surrogates in `line` or `length` become the raw bytes of a non-UTF-8 file)."""
    def prepare(tmp: Path) -> list[str]:
        root = tmp / "data"
        (root / "charades_sta").mkdir(parents=True)
        text = f"AO8RW 0.0 6.9##a person opens a door.\n{line}\n"
        (root / "charades_sta/charades_sta_test.txt").write_bytes(text.encode("utf-8", "surrogateescape"))
        (root / "charades_sta/Charades_v1_train.csv").write_text("id,subject,length\n")
        (root / "charades_sta/Charades_v1_test.csv").write_bytes(
            STA_CSV.format(length=length).encode("utf-8", "surrogateescape"))
        return ["data", "stats", "--root", str(root), "--split", "charades_sta/test"]
    return prepare


def _json(entry, split="charades_cg/novel_word", path="charades_cg/novel_word.json", text: str | None = None):
    """A grounding JSON split holding one good video and the entry of video 'BAD01'."""
    def prepare(tmp: Path) -> list[str]:
        root = tmp / "data"
        file = root / path
        file.parent.mkdir(parents=True)
        good = {"GOOD1": {"duration": 30.0, "timestamps": [[1.0, 5.0]], "sentences": ["a person opens a door."]}}
        body = text if text is not None else json.dumps({**good, "BAD01": entry})
        file.write_bytes(body.encode("utf-8", "surrogateescape"))
        return ["data", "stats", "--root", str(root), "--split", split]
    return prepare


def _entry(**changes):
    return {"duration": 20.0, "timestamps": [[2.0, 6.0]], "sentences": ["a person sits down."], **changes}


ANNOTATION_CASES = [
    # item 4: a NaN time was kept as a moment and the split reported [ok]
    Case("data-sta-nan-start", "4", _sta("BBBBB nan 4.0##a person sits."), phrase="start 'nan' is not a finite"),
    Case("data-sta-nan-end", "4", _sta("BBBBB 1.0 NaN##a person sits."), phrase="end 'NaN' is not a finite"),
    Case("data-sta-inf-end", "4", _sta("BBBBB 1.0 inf##a person sits."), phrase="end 'inf' is not a finite"),
    Case("data-sta-decimal-comma", "5", _sta("BBBBB 1,5 4.0##a person sits."), phrase="start '1,5' is not a number"),
    Case("data-sta-empty-sentence", "5", _sta("BBBBB 1.0 4.0##   "), phrase="charades_sta_test.txt:2: expected"),
    Case("data-sta-csv-nan-length", "4", _sta("BBBBB 1.0 4.0##a person sits.", length="nan"),
         phrase="Charades_v1_test.csv:3: length 'nan' is not a finite"),
    Case("data-sta-csv-negative-length", "4", _sta("BBBBB 1.0 4.0##a person sits.", length="-10"),
         phrase="length '-10' of video BBBBB is not > 0"),
    Case("data-sta-not-utf8", "5", _sta("BBBBB 1.0 4.0##a person sits \udcff."),
         phrase="charades_sta_test.txt: not UTF-8 text"),
    Case("data-sta-csv-not-utf8", "5", _sta("BBBBB 1.0 4.0##a person sits.", length="1\udcff"),
         phrase="Charades_v1_test.csv: not UTF-8 text"),
    # item 5: five kinds of malformed annotation JSON gave a traceback
    Case("data-json-duration-abc", "5", _json(_entry(duration="abc")),
         phrase="key 'BAD01': 'duration' is 'abc', expected a number"),
    Case("data-json-entry-is-a-string", "5", _json("a person sits down."),
         phrase="key 'BAD01': entry is 'a person sits down.', expected an object"),
    Case("data-json-entry-is-an-int", "5", _json(7), phrase="key 'BAD01': entry is 7, expected an object"),
    Case("data-json-scalar-moment", "5", _json(_entry(timestamps=[2.0])),
         phrase="key 'BAD01': 'timestamps'[0] is 2.0, expected [start, end]"),
    Case("data-json-timestamp-decimal-comma", "5", _json(_entry(timestamps=[["1,5", 6.0]])),
         phrase="key 'BAD01': 'timestamps'[0][0] is '1,5', expected a number"),
    Case("data-json-null-sentence", "5", _json(_entry(sentences=[None])),
         phrase="key 'BAD01': 'sentences'[0] is None, expected a non-empty sentence"),
    # the analogous cases in every JSON layout
    Case("data-json-empty-sentence", "5", _json(_entry(sentences=["  "])), phrase="'sentences'[0] is '  '"),
    Case("data-json-nan-time", "4", _json(None, text='{"BAD01": {"duration": 20.0, "timestamps": [[NaN, 6.0]], '
                                                     '"sentences": ["a person sits down."]}}'),
         phrase="'timestamps'[0][0] is nan, not a finite number"),
    Case("data-json-negative-duration", "4", _json(_entry(duration=-20.0)), phrase="'duration' is -20.0, expected > 0"),
    Case("data-json-duplicate-video-id", "4",
         _json(None, text='{"BAD01": {"duration": 20.0, "timestamps": [[2.0, 6.0]], "sentences": ["a."]}, '
                          '"BAD01": {"duration": 20.0, "timestamps": [[3.0, 6.0]], "sentences": ["b."]}}'),
         phrase="key 'BAD01' appears more than once"),
    Case("data-json-200000-deep", "5", _json(None, text="[" * 200_000 + "]" * 200_000), phrase="nested too deeply"),
    Case("data-json-not-utf8", "5", _json(None, text='{"BAD01": "\udcff"}'), phrase="not UTF-8"),
    Case("data-json-top-level-list", "5", _json(None, text="[]"), phrase="expected a JSON object keyed by video id"),
    Case("data-activitynet-infinite-end", "4",
         _json(None, split="activitynet_captions/val_1", path="activitynet_captions/val_1.json",
               text='{"v_BAD01": {"duration": 120.5, "timestamps": [[3, Infinity]], "sentences": [" A man runs."]}}'),
         phrase="'timestamps'[0][1] is inf"),
    Case("data-activitynet-duration-null", "5",
         _json(_entry(duration=None), split="activitynet_captions/val_1", path="activitynet_captions/val_1.json"),
         phrase="'duration' is None, expected a number"),
    Case("data-charades-cd-zero-decode-fps", "5",
         _json({"video_duration": 20.0, "framestamps": [[32, 96]], "decode_fps": 0, "sentences": ["a person sits."]},
               split="charades_cd/val", path="charades_cd/charades_val.json"),
         phrase="'decode_fps' is 0"),
    Case("data-charades-cd-string-framestamp", "5",
         _json({"video_duration": 20.0, "framestamps": [["32", 96]], "decode_fps": 16.0, "sentences": ["a person."]},
               split="charades_cd/val", path="charades_cd/charades_val.json"),
         phrase="'framestamps'[0][0] is '32'"),
]

CASES: list[Case] = SCORE_CASES + ANNOTATION_CASES
