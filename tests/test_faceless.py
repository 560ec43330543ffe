"""Participants without a face sample are stored without face arrays (issue 11).

A DEAP participant without video (DEAP's 23-32) used to get a faces.npy of zeros: 147 MB each at full size.
Now a subject with no face sample, because it has no video or because no video yielded a face, has no
faces.npy; a cache mixing such subjects with others opens, reads zeros for their crops with `has_face`
False, and reports them."""
import json
import shutil

import numpy as np
import pytest

from aimstf_kit import deap
from aimstf_kit.cache import cache_report
from aimstf_kit.datasets import open_cache
from aimstf_kit.prepare import prepare
from aimstf_kit.synth import SynthConfig, synth_deap

SECONDS, TRIALS = 2, 2
CROP = 5 * 64 * 64 * 3  # bytes of one sample's face crops


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    "A DEAP tree of 2 participants, only the first with video."
    root = tmp_path_factory.mktemp("faceless") / "DEAP"
    synth_deap(root, SynthConfig(subjects=2, trials=TRIALS, seconds=SECONDS, video_subjects=(1,), seed=8), progress=False)
    return root


def folder_bytes(d) -> int:
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file())


def test_subject_without_video_has_no_face_arrays(tree, tmp_path):
    cdir = prepare("deap", tree, tmp_path, progress=False)
    s1, s2 = cdir / "s001", cdir / "s002"
    assert (s1 / "faces.npy").is_file() and not (s2 / "faces.npy").exists()
    assert (s2 / "eeg.npy").is_file() and (s2 / "has_face.npy").is_file()
    n = TRIALS * SECONDS
    assert folder_bytes(s2) < folder_bytes(s1) - n * CROP + 4096  # the faces are all that is missing
    assert folder_bytes(s2) < n * CROP  # less than the zeros alone would have taken

    c = open_cache(cdir)
    assert len(c) == 2 * n and c.faces.shape == (2 * n, 5, 64, 64, 3)
    one, two = np.flatnonzero(c.subject == 1), np.flatnonzero(c.subject == 2)
    assert c.has_face[one].all() and not c.has_face[two].any()
    np.testing.assert_array_equal(c.faces[one], np.load(s1 / "faces.npy"))  # the crops of subject 1, in place
    assert not c.faces[two].any()  # zeros for subject 2
    mixed = np.array([one[-1], two[0], one[0], two[-1]])  # one read across both subjects
    np.testing.assert_array_equal(c.faces[mixed][[0, 2]], np.load(s1 / "faces.npy")[[-1, 0]])
    assert not c.faces[mixed][[1, 3]].any()
    np.testing.assert_array_equal(c.eeg[two], np.load(s2 / "eeg.npy"))

    man = json.loads((cdir / "manifest.json").read_text())["subjects"]
    assert man["1"]["eeg_only"] is False and man["2"]["eeg_only"] is True
    assert any("no face video for any trial" in why for _, why in man["2"]["skipped"])
    rep = cache_report(cdir)
    assert (rep["subjects"], rep["samples"], rep["face_samples"], rep["eeg_only_subjects"]) == (2, 2 * n, n, 1)
    assert f"({n} with faces; 1 of 2 subjects without face arrays)" in repr(c)
    assert open_cache(cdir, subjects=[2]).faces is None  # only faceless subjects: an EEG-only cache
    assert "EEG only" in repr(open_cache(cdir, subjects=[2]))


def test_videos_without_a_face_sample(tree, tmp_path):
    "A subject whose videos yield no face sample (here: none can be read; a video without a detected face still gives centred crops) is stored without face arrays too, and says why."
    root = tmp_path / "DEAP"
    shutil.copytree(tree, root)
    for v in deap.read_subject(root, 1).video:
        v.write_bytes(b"not a video")
    cdir = prepare("deap", root, tmp_path / "cache", subjects=[1], progress=False)
    assert not (cdir / "s001" / "faces.npy").exists()
    entry = json.loads((cdir / "manifest.json").read_text())["subjects"]["1"]
    assert entry["eeg_only"] is True and entry["face_samples"] == 0 and entry["trials_with_video"] == TRIALS
    assert any(f"no face in any kept sample of its {TRIALS} video(s)" in why for _, why in entry["skipped"])
    c = open_cache(cdir)
    assert c.faces is None and not c.has_face.any() and len(c) == TRIALS * SECONDS
