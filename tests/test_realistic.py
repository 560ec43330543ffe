"""Realistic synthetic trees (`SynthConfig(realistic=True)`): every irregularity the generator lists in its summary
is found by the kit (readers, `describe`, preparation report), checked against truths read independently of the
generator (MNE on the plain tree's BDF, OpenCV frame counts), and a plain tree lists none."""
import json
import warnings

import cv2
import mne
import numpy as np
import pytest

from aimstf_kit import deap, mahnob
from aimstf_kit.cache import open_cache
from aimstf_kit.core import DEAP_EEG_CHANNELS, PrepareConfig
from aimstf_kit.faces import extract_faces, frame_indices, frame_times
from aimstf_kit.prepare import prepare
from aimstf_kit.synth import (SUMMARY_FILE, FaceRenderer, SynthConfig, face_frames, read_marker, read_summary, synth_deap,
                              synth_mahnob, write_video)

SECONDS = 3
DEAP_CFG = SynthConfig(subjects=2, trials=3, seconds=SECONDS, video_subjects=(1,), missing_videos=1, seed=1,
                       realistic=True)
# 4 sessions: one without ratings, one rated without video, two rated with a video (one longer, one shorter)
MAHNOB_CFG = SynthConfig(subjects=1, trials=4, seconds=SECONDS, prestim_seconds=2, seed=1, realistic=True)


def quiet(f, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **kw)


def video_frames(path) -> tuple[int, float]:
    "(frames decoded, fps) of a video, read with OpenCV alone."
    cap = cv2.VideoCapture(str(path))
    fps, n = cap.get(cv2.CAP_PROP_FPS), 0
    while cap.grab():
        n += 1
    cap.release()
    return n, fps


def faceless_truth(n_frames: int, fps: float, n_segments: int) -> np.ndarray:
    "(n_segments,) bool: segments whose sampled frames (5 per second) are not all within a video of `n_frames`."
    return (frame_indices(frame_times(n_segments), fps) >= n_frames).any(axis=1)


def skips(cache, subject: int) -> list:
    "`(path, reason)` of the preparation report (the cache manifest) of `subject`."
    return [tuple(x) for x in cache.manifest["subjects"][str(subject)]["skipped"]]


@pytest.fixture(scope="module")
def real_deap(tmp_path_factory):
    root = tmp_path_factory.mktemp("real") / "DEAP"
    summary = synth_deap(root, DEAP_CFG, progress=False)
    cache = open_cache(quiet(prepare, "deap", root, root.parent / "cache", PrepareConfig(), progress=False))
    return root, summary, cache


@pytest.fixture(scope="module")
def real_mahnob(tmp_path_factory):
    root = tmp_path_factory.mktemp("real") / "MAHNOB"
    summary = synth_mahnob(root, MAHNOB_CFG, progress=False)
    plain = root.parent / "plain"  # the same tree without realism: its Status holds only the stimulus pulses
    synth_mahnob(plain, MAHNOB_CFG.replace(realistic=False, video=False), progress=False)
    cache = open_cache(quiet(prepare, "mahnob", root, root.parent / "cache", PrepareConfig(), progress=False))
    return root, summary, cache, plain


def test_plain_trees_list_no_irregularities(tmp_path):
    for name, synth in (("deap", synth_deap), ("mahnob", synth_mahnob)):
        s = synth(tmp_path / name, SynthConfig(subjects=1, trials=2, seconds=1, prestim_seconds=1), progress=False)
        assert s.irregularities == [], name
        assert not (tmp_path / name / SUMMARY_FILE).exists()
        assert "irregularities" not in str(s)


def test_summary_file(real_deap, real_mahnob):
    for root, summary in (real_deap[:2], real_mahnob[:2]):
        on_disk = json.loads((root / SUMMARY_FILE).read_text())
        assert on_disk == read_summary(root)
        assert on_disk["irregularities"] == summary.irregularities
        assert on_disk["config"]["realistic"] is True
        for i in on_disk["irregularities"]:
            assert set(i) == {"kind", "subject", "trial", "session", "file", "detail"}
            exists = (root / i["file"]).exists()
            assert exists == (i["kind"] not in ("missing_video", "subject_without_video")), i
    assert {i["kind"] for i in real_deap[1].irregularities} == {"missing_video", "video_shorter", "subject_without_video"}
    assert {i["kind"] for i in real_mahnob[1].irregularities} == {
        "no_ratings", "missing_video", "video_shorter", "video_longer", "extra_status_events"}


def test_realistic_deap_is_the_plain_tree_plus_irregularities(real_deap, tmp_path):
    root, summary, _ = real_deap
    plain = tmp_path / "plain"
    synth_deap(plain, DEAP_CFG.replace(realistic=False, video=False), progress=False)
    for rel in ("metadata_csv/participant_ratings.csv", "data_preprocessed_python/s01.dat", "data_preprocessed_python/s02.dat"):
        assert (root / rel).read_bytes() == (plain / rel).read_bytes(), rel
    short = next(i for i in summary.irregularities if i["kind"] == "video_shorter")
    cap, markers = cv2.VideoCapture(str(root / short["file"])), []
    while True:
        ok, fr = cap.read()
        if not ok:
            break
        markers.append(read_marker(fr))
    cap.release()
    n = len(markers)
    assert 0 < n < SECONDS * 50
    assert markers == [(short["subject"], short["trial"], k) for k in range(n)]  # the first n frames of the full video


def check_short_video(root, i, cache, session_mask):
    "A video that ends early: the report names it, and exactly the segments past its end have no faces."
    path = root / i["file"]
    n, fps = video_frames(path)
    reports = [why for p, why in skips(cache, i["subject"]) if p == str(path)]
    assert len(reports) == 1 and f"video ends after {n} frames" in reports[0], reports
    sel = session_mask & (cache.subject == i["subject"])
    order = np.argsort(cache.segment[sel])
    has = cache.has_face[sel][order]
    truth = ~faceless_truth(n, fps, len(has))
    assert truth.sum() < len(has)  # the cut really leaves segments without faces
    np.testing.assert_array_equal(has, truth)


def test_deap_irregularities_are_found(real_deap):
    root, summary, cache = real_deap
    rows = {r["subject"]: r for r in deap.describe(root, progress=False)}
    for i in summary.irregularities:
        s, path = i["subject"], root / i["file"]
        if i["kind"] == "missing_video":
            assert any(p == path for p, _ in rows[s]["skipped"])  # the reader
            assert any(p == str(path) for p, _ in skips(cache, s))  # and the preparation report
            assert not cache.has_face[(cache.subject == s) & (cache.trial == i["trial"])].any()
        elif i["kind"] == "video_shorter":
            check_short_video(root, i, cache, cache.trial == i["trial"])
        elif i["kind"] == "subject_without_video":
            assert rows[s]["videos"] == 0
            assert any("no face video for any trial" in why for _, why in skips(cache, s))
            assert (cache.subject == s).sum() == DEAP_CFG.trials * SECONDS and not cache.has_face[cache.subject == s].any()
        else:
            raise AssertionError(f"unexpected irregularity {i}")
    # nothing else is lost: every trial gives all its seconds
    assert len(cache) == DEAP_CFG.subjects * DEAP_CFG.trials * SECONDS


def stimulus_truth(plain, sid: int) -> tuple[int, int]:
    "Onset and end of session `sid`'s stimulus: the only two Status events of the plain tree's BDF, read with MNE."
    bdf = next((plain / "Sessions" / str(sid)).glob("*.bdf"))
    ev = mne.find_events(mne.io.read_raw_bdf(bdf, preload=True, verbose="error"), stim_channel="Status",
                         shortest_event=1, mask=0xFFFF, mask_type="and", verbose="error")
    assert len(ev) == 2
    return int(ev[0, 0]), int(ev[1, 0])


def test_mahnob_irregularities_are_found(real_mahnob):
    root, summary, cache, plain = real_mahnob
    rec = quiet(mahnob.read_subject, root, 1)
    unrated = {i["session"] for i in summary.irregularities if i["kind"] == "no_ratings"}
    assert unrated and set(rec.session.tolist()).isdisjoint(unrated)
    for i in summary.irregularities:
        sid, path, in_cache = i["session"], root / i["file"], cache.session == i["session"]
        if sid in unrated:  # the kit reads nothing of this session: its skip names the session.xml
            assert not in_cache.any()
            xml = root / "Sessions" / str(sid) / "session.xml"
            assert any(p == xml and "no feltVlnc" in why for p, why in rec.skipped)
            assert any(p == str(xml) for p, _ in skips(cache, 1))
            continue
        k = rec.session.tolist().index(sid)
        if i["kind"] == "missing_video":
            assert rec.video[k] is None and any(p == path.parent and "without video" in why for p, why in rec.skipped)
            assert in_cache.sum() == SECONDS and not cache.has_face[in_cache].any()  # EEG-only, nothing lost
        elif i["kind"] == "video_shorter":
            check_short_video(root, i, cache, in_cache)
        elif i["kind"] == "video_longer":
            n, fps = video_frames(path)
            assert n > SECONDS * fps
            assert cache.has_face[in_cache].all() and in_cache.sum() == SECONDS
            assert not any(p == str(path) for p, _ in skips(cache, 1))
        elif i["kind"] == "extra_status_events":
            raw = mne.io.read_raw_bdf(path, preload=True, verbose="error")
            ev = mne.find_events(raw, stim_channel="Status", shortest_event=1, mask=0xFFFF, mask_type="and",
                                 consecutive=True, verbose="error")
            assert len(ev) > 2  # the file really carries more than the stimulus pair
            assert (rec.onset[k], rec.end[k]) == stimulus_truth(plain, sid)
        else:
            raise AssertionError(f"unexpected irregularity {i}")


def test_mahnob_raw_eeg_reaches_the_kit_unchanged(real_mahnob):
    "The reader returns the raw BDF values (offsets of tens of mV, no clipping); raw - plain is the artefact alone."
    root, _, _, plain = real_mahnob
    rec = quiet(mahnob.read_subject, root, 1)
    for k, sid in enumerate(rec.session):
        bdf = next((root / "Sessions" / str(sid)).glob("*.bdf"))
        raw = mne.io.read_raw_bdf(bdf, preload=True, verbose="error").get_data(picks=list(DEAP_EEG_CHANNELS)) * 1e6
        clean = mne.io.read_raw_bdf(next((plain / "Sessions" / str(sid)).glob("*.bdf")), preload=True,
                                    verbose="error").get_data(picks=list(DEAP_EEG_CHANNELS)) * 1e6
        x = rec.trial_eeg(k, "all")
        np.testing.assert_allclose(x, raw, atol=0.02)
        dc = np.abs(np.median(x - clean, axis=1))
        assert (dc > 9_000).all() and (dc < 51_000).all()
        assert np.abs(x).max() < 262_143


def test_mahnob_describe_lists_the_skips(real_mahnob):
    root, summary, _, _ = real_mahnob
    (row,) = mahnob.describe(root, progress=False)
    listed = {str(p) for p, _ in row["skipped"]}
    for i in summary.irregularities:
        if i["kind"] == "no_ratings":
            assert str(root / i["file"]) in listed
        if i["kind"] == "missing_video":
            assert str((root / i["file"]).parent) in listed
    assert row["trials"] == MAHNOB_CFG.trials - len({i["session"] for i in summary.irregularities if i["kind"] == "no_ratings"})


def test_face_that_appears_late_takes_the_first_box(tmp_path):
    "Frames before the first detection are cropped with the FIRST box found, not the last box of the video."
    rend = FaceRenderer(np.random.default_rng(0))
    frame = next(face_frames(rend, 1, 50, (0.0, 0.0), 1, 1, np.random.default_rng(0)))
    x, y, w, h = rend.face_box_at(0.0)
    face = frame[max(y - h // 2, 0): y + 3 * h // 2, max(x - w // 2, 0): x + 3 * w // 2]
    fh, fw = face.shape[:2]

    def late(i):  # 1 s of empty wall, 1 s of face at the top left, 1 s at the bottom right
        fr = np.full((576, 720, 3), 128, np.uint8)
        if i >= 50:
            oy, ox = (10, 10) if i < 100 else (576 - fh - 10, 720 - fw - 10)
            fr[oy:oy + fh, ox:ox + fw] = face
        return fr

    write_video(tmp_path / "late.avi", (late(i) for i in range(150)), 50, (720, 576))
    res = extract_faces(tmp_path / "late.avi", n_segments=3)
    first, last = res.boxes[1, 0], res.boxes[2, -1]
    assert first[0] < 100 and last[0] > 300
    np.testing.assert_array_equal(res.boxes[0], np.repeat(first[None], 5, 0))
    assert res.missed == 5 and res.ok.all()
