"""Preparation end to end on synthetic trees: every sample's EEG and faces come from the right second of
the right trial (checked against the frame markers written into the synthetic videos), caches are keyed
and resumable, and bad input is handled as documented."""
import csv
import json
import os
import shutil

import cv2
import numpy as np
import pytest

from aimstf_kit import deap, mahnob
from aimstf_kit.core import PrepareConfig
from aimstf_kit.datasets import open_cache
from aimstf_kit.faces import crop_face
from aimstf_kit.prepare import cache_key, prepare
from aimstf_kit.synth import SynthConfig, read_marker, synth_deap, synth_mahnob, write_dat, write_video, FaceRenderer, face_frames

SECONDS = 3


@pytest.fixture(scope="module")
def deap_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("prep") / "DEAP"
    synth_deap(root, SynthConfig(subjects=2, trials=4, seconds=SECONDS, video_subjects=(1, 2), seed=11), progress=False)
    return root


@pytest.fixture(scope="module")
def deap_cache(deap_tree, tmp_path_factory):
    cdir = prepare("deap", deap_tree, tmp_path_factory.mktemp("cache"), workers=2, progress=False)
    return open_cache(cdir)


def csv_trial_of(root):
    "{(participant, experiment_id): presentation trial}, read straight from the CSV (independently of the kit)."
    with open(root / "metadata_csv" / "participant_ratings.csv") as f:
        return {(int(r["Participant_id"]), int(r["Experiment_id"])): int(r["Trial"]) for r in csv.DictReader(f)}


def decode(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def test_deap_sample_counts_and_eeg(deap_tree, deap_cache):
    c = deap_cache
    assert len(c) == 2 * 4 * SECONDS and c.has_face.all()
    with open(deap_tree / "data_preprocessed_python" / "s02.dat", "rb") as f:
        import pickle
        raw = pickle.load(f, encoding="latin1")["data"]
    for i in np.flatnonzero(c.subject == 2):
        e, k = c.experiment_id[i], c.segment[i]
        x = raw[e - 1, :32]  # .dat rows are in experiment order
        base = x[:, :384].reshape(32, 3, 128).mean(1)
        np.testing.assert_allclose(c.eeg[i], x[:, 384 + 128 * k: 384 + 128 * (k + 1)] - base, atol=1e-4)


def test_deap_faces_come_from_the_right_frame_of_the_right_video(deap_tree, deap_cache):
    c = deap_cache
    trial_of = csv_trial_of(deap_tree)
    videos = {}
    for i in range(len(c)):
        s, e, k = int(c.subject[i]), int(c.experiment_id[i]), int(c.segment[i])
        t = trial_of[(s, e)]
        assert c.trial[i] == t
        path = deap_tree / "face_video" / f"s{s:02d}" / f"s{s:02d}_trial{t:02d}.avi"
        frames = videos.setdefault(path, decode(path))
        expect = np.round((k + (np.arange(5) + 0.5) / 5) * 50).astype(int)  # frame centres at 50 fps
        np.testing.assert_array_equal(c.frame[i], expect)
        for j, fno in enumerate(expect):
            fr = frames[fno]
            assert read_marker(fr) == (s, t, fno)  # the frame says who, which trial, which frame
            np.testing.assert_array_equal(c.faces[i][j], crop_face(fr, c.box[i][j]))


def test_mahnob_alignment(tmp_path):
    root = tmp_path / "M"
    synth_mahnob(root, SynthConfig(subjects=1, trials=2, seconds=SECONDS, prestim_seconds=4, seed=2), progress=False)
    # the filter chain off: this test checks alignment against a plain resample + baseline (test_preprocess checks the chain)
    steps_off = PrepareConfig(reference="none", l_freq=None, h_freq=None, notch=None)
    c = open_cache(prepare("mahnob", root, tmp_path / "cache", steps_off, progress=False))
    assert len(c) == 2 * SECONDS and c.has_face.all()
    rec = mahnob.read_subject(root, 1)
    from scipy.signal import resample_poly
    for i in range(len(c)):
        ti = int(np.flatnonzero(rec.trial == c.trial[i])[0])
        x = resample_poly(rec.trial_eeg(ti, "all").astype(np.float64), 1, 2, axis=-1, padtype="antireflect")
        on, k = rec.onset[ti] // 2, int(c.segment[i])
        base = x[:, on - 4 * 128: on].reshape(32, 4, 128).mean(1)
        np.testing.assert_allclose(c.eeg[i], x[:, on + 128 * k: on + 128 * (k + 1)] - base, atol=2e-3)
        frames = decode(rec.video[ti])
        expect = np.round((k + (np.arange(5) + 0.5) / 5) * 61).astype(int)  # the video starts at stimulus onset
        np.testing.assert_array_equal(c.frame[i], expect)
        for j, fno in enumerate(expect):
            assert read_marker(frames[fno]) == (1, int(c.trial[i]), fno)
            np.testing.assert_array_equal(c.faces[i][j], crop_face(frames[fno], c.box[i][j]))


def test_video_offset_shifts_the_frames(deap_tree, tmp_path):
    c = open_cache(prepare("deap", deap_tree, tmp_path, PrepareConfig(video_offset=1.0), subjects=[1], progress=False))
    # with a 1 s offset the last second of each 3 s trial has no video left
    assert c.has_face.sum() == 4 * (SECONDS - 1)
    ok = c.has_face
    np.testing.assert_array_equal(c.frame[ok][:, 0], np.round((1 + c.segment[ok] + 0.1) * 50).astype(int))


def test_cache_is_keyed_and_resumable(deap_tree, tmp_path, monkeypatch):
    import aimstf_kit.cache as C
    import aimstf_kit.prepare as P
    calls = []
    real = C.write_subject

    def flaky(cdir, ss, extra):
        calls.append(ss.subject)
        if ss.subject == 2 and calls.count(2) == 1:
            raise KeyboardInterrupt("simulated crash while writing subject 2")
        return real(cdir, ss, extra)

    monkeypatch.setattr(C, "write_subject", flaky)  # the cache module writes subjects
    with pytest.raises(KeyboardInterrupt):
        P.prepare("deap", deap_tree, tmp_path, PrepareConfig(faces=False), progress=False)
    cdir = tmp_path / f"deap-{cache_key('deap', PrepareConfig(faces=False))}"
    assert sorted(p.name for p in cdir.iterdir() if not p.name.startswith(".")) == ["manifest.json", "s001"]
    m1 = (cdir / "s001" / "eeg.npy").stat().st_mtime_ns
    P.prepare("deap", deap_tree, tmp_path, PrepareConfig(faces=False), progress=False)
    assert calls == [1, 2, 2]  # subject 1 was not redone
    assert (cdir / "s001" / "eeg.npy").stat().st_mtime_ns == m1
    man = json.loads((cdir / "manifest.json").read_text())
    assert man["complete"] and sorted(man["subjects"]) == ["1", "2"]
    # a changed source file redoes that subject only
    dat = deap_tree / "data_preprocessed_python" / "s01.dat"
    os.utime(dat, ns=(dat.stat().st_atime_ns, dat.stat().st_mtime_ns + 10**9))
    P.prepare("deap", deap_tree, tmp_path, PrepareConfig(faces=False), progress=False)
    assert calls == [1, 2, 2, 1]
    # a changed parameter never reuses this cache
    other = P.prepare("deap", deap_tree, tmp_path, PrepareConfig(faces=False, fps=4), progress=False)
    assert other != cdir
    with pytest.raises(Exception, match="holds 2 caches"):
        open_cache(tmp_path)


@pytest.fixture
def damaged(tmp_path):
    root = tmp_path / "D"
    synth_deap(root, SynthConfig(subjects=1, trials=4, seconds=SECONDS, seed=4), progress=False)
    return root


def test_short_unreadable_and_missing_videos_are_reported(damaged, tmp_path, capsys):
    rec = deap.read_subject(damaged, 1)
    v_short, v_bad, v_missing = rec.video[0], rec.video[1], rec.video[2]
    write_video(v_short, face_frames(FaceRenderer(np.random.default_rng(0)), 1.5, 50, (0, 0), 1, int(rec.trial[0]),
                                     np.random.default_rng(0)), 50, (720, 576))
    v_bad.write_bytes(b"not a video at all")
    v_missing.unlink()
    cdir = prepare("deap", damaged, tmp_path / "c", progress=True)
    err = capsys.readouterr().err
    c = open_cache(cdir)
    assert len(c) == 4 * SECONDS  # no EEG sample lost
    by_trial = {int(t): c.has_face[c.trial == t] for t in np.unique(c.trial)}
    assert by_trial[int(rec.trial[0])].tolist() == [True, False, False]  # 1.5 s of video: one whole second
    assert not by_trial[int(rec.trial[1])].any() and not by_trial[int(rec.trial[2])].any()
    assert by_trial[int(rec.trial[3])].all()
    skipped = json.loads((cdir / "manifest.json").read_text())["subjects"]["1"]["skipped"]
    text = "\n".join(f"{p}: {w}" for p, w in skipped)
    for msg in (f"{v_short.name}: trial {rec.trial[0]}: video ends after 75 frames", f"{v_bad}", f"{v_missing}"):
        assert msg in text, msg
        assert os.path.basename(msg.split(":")[0]) in err  # and in the progress output
    assert "OpenCV cannot open this video" in text


def test_nan_eeg_seconds_are_left_out_and_recorded(damaged, tmp_path, capsys):
    p = damaged / "data_preprocessed_python" / "s01.dat"
    d = deap.load_dat(p)
    data = d["data"].copy()
    data[2, 7, 384 + 128 + 5] = np.nan  # experiment 3, second 1
    write_dat(p, data, d["labels"])
    c = open_cache(prepare("deap", damaged, tmp_path / "c", PrepareConfig(faces=False), progress=True))
    assert len(c) == 4 * SECONDS - 1
    assert not ((c.experiment_id == 3) & (c.segment == 1)).any()
    assert np.isfinite(c.eeg[np.arange(len(c))]).all()
    man = json.loads((c.path / "manifest.json").read_text())
    assert any("1 of 3 segments hold NaN EEG: left out" in w for _, w in man["subjects"]["1"]["skipped"])
    assert "hold NaN EEG" in capsys.readouterr().err


def test_bad_requests(deap_tree, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"subject\(s\) \[9\]"):
        prepare("deap", deap_tree, tmp_path, subjects=[9], progress=False)
    with pytest.raises(ValueError, match="dataset must be"):
        prepare("eeglab", deap_tree, tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match="data_preprocessed_python: not found"):
        prepare("deap", tmp_path / "none", tmp_path, progress=False)
