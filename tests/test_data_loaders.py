"""Annotation loaders: formats, key variants, the moment policy, and the real files' counts."""

from __future__ import annotations

import json

import pytest

from vdi_core.cli import main
from vdi_core.data.annotations import load_charades_sta, load_grounding_json, read_charades_durations
from vdi_core.data.splits import PROTOCOLS, check_disjoint, load_split
from vdi_core.errors import MissingData, VdiError

STA_LINES = """AO8RW 0.0 6.9##a person is putting a book on a shelf.
AO8RW 5.0 31.0##person opens the door.
LEOL6 8.0 7.0##inverted moment.
BBBBB 12.0 14.0##starts after the end.
BBBBB -1.0 3.0##starts before zero.
"""


def _sta(tmp_path, text=STA_LINES):
    (tmp_path / "sta.txt").write_text(text)
    (tmp_path / "meta.csv").write_text('id,subject,length\r\nAO8RW,s,30.5\r\nLEOL6,"a, b",6.38\r\nBBBBB,s,10\r\n')
    return load_charades_sta("sta/x", tmp_path / "sta.txt", read_charades_durations([tmp_path / "meta.csv"]))


def test_sta_moment_policy(tmp_path):
    split = _sta(tmp_path)
    assert split.records == 5 and split.num_queries == 3
    assert dict(split.skipped) == {"start_ge_end": 1, "outside_video": 1}
    assert dict(split.clamped) == {"end_after_duration": 1, "start_below_0": 1}
    by_vid = {v.vid: v for v in split.videos}
    assert [q.moment for q in by_vid["AO8RW"].queries] == [(0.0, 6.9), (5.0, 30.5)]
    assert by_vid["AO8RW"].queries[0].sentence == "a person is putting a book on a shelf."
    assert [(q.qid, q.moment) for q in by_vid["BBBBB"].queries] == [("BBBBB#1", (0.0, 3.0))]
    assert by_vid["LEOL6"].queries == [] and by_vid["LEOL6"].duration == 6.38


@pytest.mark.parametrize("line, message", [
    ("AO8RW 0.0##no end time.", ":2: expected '<video_id> <start> <end>##<sentence>'"),
    ("AO8RW 0.0 4.0 a sentence without separator", ":2: expected"),
    ("AO8RW 0.0 4.0##", ":2: expected"),
    ("AO8RW zero 4.0##bad number.", ":2: start 'zero' is not a number"),
    ("ZZZZZ 0.0 4.0##unknown video.", ":2: video ZZZZZ has no duration"),
])
def test_sta_bad_lines(tmp_path, line, message):
    with pytest.raises(VdiError, match=message):
        _sta(tmp_path, "AO8RW 0.0 6.9##fine.\n" + line + "\n")


def test_json_key_variants(tmp_path):
    data = {
        "v_one": {"duration": 100.0, "timestamps": [[0, 10], [90, 100.01], [5, 5]],
                  "sentences": ["  A man bigins to run.", " Él sonríe — café.", "zero length"]},
        "CDVID": {"video_duration": 6.375, "timestamps": [[7.0, 8.0], [1.0, 2.0]],
                  "framestamps": [[112, 128], [16, 32]], "decode_fps": 16.0, "video_fps": -1.0,
                  "sentences": ["after the end", "person put the glass down"]},
        "FRAME": {"video_duration": 4.0, "framestamps": [[8, 40]], "decode_fps": 16.0, "sentences": ["frames only"]},
    }
    (tmp_path / "a.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    split = load_grounding_json("x/y", tmp_path / "a.json")
    v = {x.vid: x for x in split.videos}
    assert [q.sentence for q in v["v_one"].queries] == ["A man bigins to run.", "Él sonríe — café."]
    assert v["v_one"].queries[1].moment == (90.0, 100.0)
    assert [(q.qid, q.moment) for q in v["CDVID"].queries] == [("CDVID#1", (1.0, 2.0))] and v["CDVID"].duration == 6.375
    assert v["FRAME"].queries[0].moment == (0.5, 2.5)
    assert split.records == 6 and split.num_queries == 4
    assert dict(split.skipped) == {"start_ge_end": 1, "outside_video": 1}
    assert dict(split.clamped) == {"end_after_duration": 1}


@pytest.mark.parametrize("entry, message", [
    ({"timestamps": [[0, 1]], "sentences": ["s"]}, "no duration"),
    ({"duration": 5, "timestamps": [[0, 1]], "sentences": ["s", "t"]},
     r"'sentences' \(2\) does not match the 1 moments"),
    ({"duration": 5, "sentences": ["s"]}, "no 'timestamps'"),
    ({"duration": 5, "timestamps": [[0, 1, 2]], "sentences": ["s"]}, r"'timestamps'\[0\] is \[0, 1, 2\]"),
    # issue 10: each of these was a traceback or a silently kept value
    ({"duration": "abc", "timestamps": [[0, 1]], "sentences": ["s"]}, r"'duration' is 'abc', expected a number"),
    ({"duration": "12.5", "timestamps": [[0, 1]], "sentences": ["s"]}, r"'duration' is '12.5', expected a number"),
    ({"duration": 5, "timestamps": [3.5], "sentences": ["s"]}, r"'timestamps'\[0\] is 3.5, expected \[start, end\]"),
    ({"duration": 5, "timestamps": [["1,5", 3]], "sentences": ["s"]}, r"'timestamps'\[0\]\[0\] is '1,5'"),
    ({"duration": 5, "timestamps": [[0, 1]], "sentences": [None]}, r"'sentences'\[0\] is None"),
    ({"duration": 5, "timestamps": [[0, 1]], "sentences": ["   "]}, r"'sentences'\[0\] is '   '"),
    ({"duration": 5, "timestamps": [[True, 1]], "sentences": ["s"]}, r"'timestamps'\[0\]\[0\] is True"),
    ({"duration": 5, "timestamps": [[0, None]], "sentences": ["s"]}, r"'timestamps'\[0\]\[1\] is None"),
    ({"duration": 5, "timestamps": "0 1", "sentences": ["s"]}, r"'timestamps' is '0 1', expected a list"),
    ({"duration": 5, "timestamps": [[0, 1]], "sentences": "s"}, r"'sentences' \('s'\) does not match"),
    ({"duration": -5, "timestamps": [[0, 1]], "sentences": ["s"]}, r"'duration' is -5, expected > 0"),
    ({"duration": 0, "timestamps": [[0, 1]], "sentences": ["s"]}, r"'duration' is 0, expected > 0"),
    ({"video_duration": 5, "framestamps": [[0, 16]], "decode_fps": 0, "sentences": ["s"]}, r"'decode_fps' is 0"),
    ("a string entry", r"entry is 'a string entry', expected an object"),
    (7, r"entry is 7, expected an object"),
    (None, r"entry is None, expected an object"),
])
def test_json_bad_entries(tmp_path, entry, message):
    (tmp_path / "a.json").write_text(json.dumps({"VID01": entry}))
    with pytest.raises(VdiError, match=message) as e:
        load_grounding_json("x/y", tmp_path / "a.json")
    assert "key 'VID01'" in str(e.value)


@pytest.mark.parametrize("text, message", [
    ('{"V": {"duration": NaN, "timestamps": [[0, 1]], "sentences": ["s"]}}', r"key 'V': 'duration' is nan"),
    ('{"V": {"duration": 5, "timestamps": [[NaN, 1]], "sentences": ["s"]}}', r"'timestamps'\[0\]\[0\] is nan"),
    ('{"V": {"duration": 5, "timestamps": [[0, Infinity]], "sentences": ["s"]}}', r"'timestamps'\[0\]\[1\] is inf"),
    ('{"V": {"duration": 5, "timestamps": [[0, 1e999]], "sentences": ["s"]}}', r"'timestamps'\[0\]\[1\] is inf"),
    ('{"V": {"duration": 5, "timestamps": [[0, 1]], "sentences": ["s"]}, '
     '"V": {"duration": 5, "timestamps": [[1, 2]], "sentences": ["t"]}}', r"key 'V' appears more than once"),
    ('{"V": {"duration": 5,\n "timestamps": [[0, 1]] "sentences": ["s"]}}', r"a.json:2: not valid JSON"),
    ('[' * 200_000 + ']' * 200_000, "nested too deeply"),
    ('[1, 2]', "expected a JSON object keyed by video id, got list"),
])
def test_json_malformed_files(tmp_path, text, message):
    (tmp_path / "a.json").write_text(text)
    with pytest.raises(VdiError, match=message):
        load_grounding_json("x/y", tmp_path / "a.json")


@pytest.mark.parametrize("line, message", [
    ("AO8RW nan 4.0##a nan start.", r":2: start 'nan' is not a finite number"),
    ("AO8RW 0.0 inf##an infinite end.", r":2: end 'inf' is not a finite number"),
    ("AO8RW 0.0 NaN##a nan end.", r":2: end 'NaN' is not a finite number"),
    ("AO8RW 1,5 4.0##a decimal comma.", r":2: start '1,5' is not a number"),
])
def test_sta_non_finite_times_are_refused(tmp_path, line, message):
    with pytest.raises(VdiError, match=message):
        _sta(tmp_path, "AO8RW 0.0 6.9##fine.\n" + line + "\n")


@pytest.mark.parametrize("length, message", [("nan", "not a finite"), ("-3", "not > 0"), ("0", "not > 0"),
                                             ("abc", "is not a number")])
def test_charades_csv_bad_lengths(tmp_path, length, message):
    (tmp_path / "meta.csv").write_text(f"id,subject,length\nAO8RW,s,30.5\nBBBBB,s,{length}\n")
    with pytest.raises(VdiError, match=f"meta.csv:3: length.*{message}"):
        read_charades_durations([tmp_path / "meta.csv"])


def test_charades_csv_conflicting_lengths_are_refused(tmp_path):
    (tmp_path / "a.csv").write_text("id,subject,length\nAO8RW,s,30.5\n")
    (tmp_path / "b.csv").write_text("id,subject,length\nAO8RW,s,30.5\nBBBBB,s,3\n")
    assert read_charades_durations([tmp_path / "a.csv", tmp_path / "b.csv"]) == {"AO8RW": 30.5, "BBBBB": 3.0}
    (tmp_path / "b.csv").write_text("id,subject,length\nAO8RW,s,31.5\n")
    with pytest.raises(VdiError, match=r"b.csv:2: video AO8RW is listed again with length 31.5 \(before: 30.5\)"):
        read_charades_durations([tmp_path / "a.csv", tmp_path / "b.csv"])


def test_missing_split_lists_the_fetch_command(tmp_path):
    with pytest.raises(MissingData) as e:
        load_split("charades_sta/test", tmp_path)
    assert [cmd for _, cmd in e.value.missing] == [
        "vdi data fetch charades_sta_test", "vdi data fetch charades_v1_train_csv",
        "vdi data fetch charades_v1_test_csv"]


# --- the real files ---------------------------------------------------------------------------

# (records, videos, kept queries, dropped by reason, clamped ends); see ../shared/data/README.md
REAL = {
    "charades_sta/train": (12408, 5338, 12404, {"start_ge_end": 4}, 1802),
    "charades_sta/test": (3720, 1334, 3720, {}, 562),
    "charades_cg/train": (8281, 3555, 8281, {}, 1255),
    "charades_cg/novel_composition": (3442, 2480, 3442, {}, 452),
    "charades_cg/novel_word": (695, 580, 695, {}, 109),  # the CG paper reports 703 / 588
    "charades_cg/test_trivial": (3096, 1689, 3096, {}, 412),
    "charades_cd/test_ood": (3375, 1442, 3372, {"outside_video": 3}, 345),
    "activitynet_captions/train": (37421, 10009, 37417, {"start_ge_end": 4}, 261),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("name", list(REAL))
def test_real_counts(name, shared_data):
    records, videos, kept, skipped, clamped = REAL[name]
    split = load_split(name, shared_data)
    assert (split.records, len(split.videos), split.num_queries) == (records, videos, kept)
    assert dict(split.skipped) == skipped
    assert split.clamped["end_after_duration"] == clamped and split.clamped["start_below_0"] == 0


@pytest.mark.shared_data
def test_real_sta_inverted_lines_are_the_documented_four(shared_data):
    split = load_split("charades_sta/train", shared_data)
    kept = {q.qid for v in split.videos for q in v.queries}
    lines = (shared_data / "charades_sta" / "charades_sta_train.txt").read_text().splitlines()
    per_vid: dict[str, int] = {}
    dropped = []
    for line in lines:
        vid, s, e = line.split("##")[0].split()
        k = per_vid[vid] = per_vid.get(vid, -1) + 1
        if f"{vid}#{k}" not in kept:
            dropped.append((vid, float(s), float(e)))
    assert sorted(dropped) == [("AKKWU", 38.0, 13.0), ("AKKWU", 38.0, 13.0), ("IOL8Q", 20.9, 12.0), ("LEOL6", 8.0, 7.0)]


@pytest.mark.shared_data
def test_real_train_and_eval_videos_are_disjoint_and_mixing_is_refused(shared_data):
    for protocol in ("charades_sta", "charades_cg", "charades_cd"):
        train, evals = PROTOCOLS[protocol]
        tr = load_split(f"{protocol}/{train}", shared_data)
        for e in evals:
            check_disjoint(tr, load_split(f"{protocol}/{e}", shared_data))
    with pytest.raises(VdiError, match=r"share 440 videos .* charades_cg/train with charades_cg/novel_word"):
        check_disjoint(load_split("charades_sta/train", shared_data), load_split("charades_cg/novel_word", shared_data))


@pytest.mark.shared_data
def test_cli_stats_on_real_files(capsys, shared_data):
    splits = ["charades_sta/train", "charades_sta/test", "charades_cg/novel_word"]
    assert main(["data", "stats", "--root", str(shared_data), *[a for s in splits for a in ("--split", s)]]) == 0
    out = capsys.readouterr().out
    assert "charades_sta/train                   12,408   5,338   12,404" in out
    assert "charades_sta/test                     3,720   1,334    3,720" in out
    assert "disjoint: charades_sta/train / charades_sta/test" in out and "703" in out
    assert out.count("[ok]") == 3
