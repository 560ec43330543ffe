"""Interop: the synthetic trees open with the tools researchers use on the real data (pickle, MNE, OpenCV),
written through the `aimstf synth` command line exactly as a user would."""
import pickle
import subprocess
import sys
from pathlib import Path

import cv2
import mne
import numpy as np
import pytest

from aimstf_kit import deap, mahnob
from aimstf_kit.core import DEAP_CHANNELS, MAHNOB_CHANNELS
from aimstf_kit.synth import haar_detector, read_marker

from conftest import aimstf_cmd

SECONDS, TRIALS = 3, 3


def aimstf(*args):
    r = subprocess.run(aimstf_cmd() + [str(a) for a in args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def cli_deap(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "deap"
    aimstf("synth", "deap", root, "--subjects", 2, "--trials", TRIALS, "--seconds", SECONDS, "--seed", 3, "--clean", "--quiet")
    return root


@pytest.fixture(scope="module")
def cli_mahnob(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "mahnob"
    aimstf("synth", "mahnob", root, "--subjects", 1, "--trials", TRIALS, "--seconds", SECONDS,
           "--prestim-seconds", 5, "--seed", 3, "--clean", "--quiet")
    return root


def test_deap_dat_opens_with_plain_pickle(cli_deap):
    files = sorted((cli_deap / "data_preprocessed_python").glob("s*.dat"))
    assert [f.name for f in files] == ["s01.dat", "s02.dat"]
    for f in files:
        raw = f.read_bytes()
        assert raw[:2] == b"\x80\x02"  # protocol 2
        with open(f, "rb") as fh:
            d = pickle.load(fh, encoding="latin1")
        assert set(d) == {"data", "labels"}
        assert d["data"].shape == (TRIALS, 40, (3 + SECONDS) * 128)
        assert d["labels"].shape == (TRIALS, 4)
        assert ((d["labels"] >= 1) & (d["labels"] <= 9)).all()
        assert d["data"].dtype == np.float64
        # plausible EEG amplitudes (microvolts)
        assert 2 < d["data"][:, :32].std() < 100


def test_deap_csv_and_videos(cli_deap):
    csv = (cli_deap / "metadata_csv" / "participant_ratings.csv").read_text().splitlines()
    assert csv[0] == "Participant_id,Trial,Experiment_id,Start_time,Valence,Arousal,Dominance,Liking,Familiarity"
    assert len(csv) == 1 + 2 * TRIALS
    for s in (1, 2):
        rec = deap.read_subject(cli_deap, s)
        assert rec.eeg.shape == (TRIALS, 32, (3 + SECONDS) * 128)
        assert sorted(rec.trial.tolist()) == list(range(1, TRIALS + 1))
        assert rec.has_video.all()
        for t, v in zip(rec.trial, rec.video):
            assert v.name == f"s{s:02d}_trial{t:02d}.avi"
            cap = cv2.VideoCapture(str(v))
            assert cap.isOpened()
            assert cap.get(cv2.CAP_PROP_FPS) == 50.0
            assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (720, 576)
            n = 0
            while True:
                ok, fr = cap.read()
                if not ok:
                    break
                if n % 37 == 0:  # the marker says which subject, presentation trial and frame this is
                    assert read_marker(fr) == (s, t, n)
                n += 1
            assert n == SECONDS * 50
            cap.release()


def test_deap_labels_follow_the_presentation_mapping(cli_deap):
    # the .dat labels of row e equal the CSV ratings of Experiment_id e+1
    tab = deap.read_ratings_csv(cli_deap / "metadata_csv" / "participant_ratings.csv")
    rec = deap.read_subject(cli_deap, 2)
    for i, e in enumerate(rec.experiment_id):
        np.testing.assert_allclose(float(tab[2][e]["Valence"]), rec.ratings[i, 0], atol=1e-4)


def test_mahnob_bdf_opens_with_mne(cli_mahnob):
    bdfs = sorted((cli_mahnob / "Sessions").glob("*/*_emotion.bdf"))
    assert len(bdfs) == TRIALS
    for b in bdfs:
        raw = mne.io.read_raw_bdf(b, preload=True, verbose="error")
        assert raw.info["sfreq"] == 256.0
        assert raw.ch_names == list(MAHNOB_CHANNELS)
        ev = mne.find_events(raw, stim_channel="Status", verbose="error")
        assert ev[:, 0].tolist() == [5 * 256, (5 + SECONDS) * 256]
        eeg = raw.get_data(picks=list(MAHNOB_CHANNELS[:32])) * 1e6
        assert 2 < eeg.std() < 100


def test_mahnob_reader_and_videos(cli_mahnob):
    rec = mahnob.read_subject(cli_mahnob, 1)
    assert rec.eeg.shape[:2] == (TRIALS, 32)
    assert rec.onset.tolist() == [5 * 256] * TRIALS
    assert rec.stimulus_seconds.tolist() == [SECONDS] * TRIALS
    assert ((rec.ratings[:, :2] >= 1) & (rec.ratings[:, :2] <= 9)).all()
    assert (rec.ratings[:, :2] != 5).all()  # planted labels stay off the threshold
    for t, v in zip(rec.trial, rec.video):
        assert "C1 trigger" in v.name
        cap = cv2.VideoCapture(str(v))
        assert round(cap.get(cv2.CAP_PROP_FPS)) == 61
        assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (780, 580)
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == SECONDS * 61
        ok, fr = cap.read()
        assert ok and read_marker(fr) == (1, t, 0)
        cap.release()


def test_faces_are_found_by_a_stock_detector(cli_deap, cli_mahnob):
    det = haar_detector()
    vids = sorted(cli_deap.glob("face_video/*/*.avi")) + sorted(cli_mahnob.glob("Sessions/*/*.avi"))
    found = total = 0
    for v in vids:
        cap = cv2.VideoCapture(str(v))
        for k in range(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 13):
            cap.set(cv2.CAP_PROP_POS_FRAMES, k)
            ok, fr = cap.read()
            assert ok
            g = cv2.cvtColor(cv2.resize(fr, None, fx=0.5, fy=0.5), cv2.COLOR_BGR2GRAY)
            found += len(det.detectMultiScale(g, 1.1, 5, minSize=(30, 30))) > 0
            total += 1
        cap.release()
    assert total >= 50
    assert found / total >= 0.95, f"face found in {found}/{total} frames"


def test_eeg_cues_carry_the_label(cli_deap):
    "With --signal both, frontal alpha asymmetry separates high from low valence trials."
    ch = list(DEAP_CHANNELS)
    asym, lab = [], []
    for s in (1, 2):
        rec = deap.read_subject(cli_deap, s)
        for i in range(rec.n_trials):
            x = rec.trial_eeg(i)
            f = np.fft.rfftfreq(x.shape[1], 1 / 128)
            p = (np.abs(np.fft.rfft(x, axis=1)) ** 2)[:, (f >= 8) & (f <= 12)].mean(1)
            asym.append(np.log(p[ch.index("F4")] / p[ch.index("F3")]))
            lab.append(rec.rating("valence")[i] >= 5)
    asym, lab = np.array(asym), np.array(lab)
    assert (asym[lab] > 0).mean() > 0.6 and (asym[~lab] < 0).mean() > 0.6
