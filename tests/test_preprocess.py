"""MAHNOB-HCI preparation matches DEAP's published preprocessing (issue 11), on one session built here.

The session's EEG is made in this file (not by the kit's generator): 32 channels of spatially mixed
broadband 1/f activity with posterior alpha, 256 Hz, 30 s before stimulus onset, 20 s of stimulus and
2 s after, as a MAHNOB-HCI emotion session lies on disk (BDF with a Status channel + session.xml). It is
written twice: clean, and with what raw BioSemi ActiveTwo data carries (CMS/DRL, no reference): a DC
offset of tens of mV per channel, slow drift, 50 Hz mains (a large common part and a per-channel part,
random phase not locked to the recording start, slowly varying amplitude and frequency) and a common-mode
signal on every channel. Both are prepared with the kit's default preparation and compared:

- with each other (the artefacts are gone: median per-channel correlation of the samples),
- for mains: the 50 Hz line in the prepared samples against the raw recording, both average-referenced,
- with a plain MNE pipeline written here (read_raw_bdf -> average reference -> filter(4, 45) ->
  notch_filter(50) -> resample(128) -> the same seconds -> baseline subtraction).

A NaN span stays NaN (widened by the filters' reach). And DEAP's default preparation is unchanged: the same
arrays as with every EEG step off, and the same as cutting the `.dat` directly."""
import dataclasses
import json
import xml.etree.ElementTree as ET

import mne
import numpy as np
import pytest
from scipy.signal import welch

from aimstf_kit import deap, mahnob
from aimstf_kit.core import EEG_CHANNELS, MAHNOB_CHANNELS, PrepareConfig
from aimstf_kit.datasets import open_cache
from aimstf_kit.prepare import prepare, prepare_subject, segment_trial
from aimstf_kit.synth import SynthConfig, synth_deap, write_bdf

FS = 256
PRE, STIM, POST = 30, 20, 2  # seconds: baseline before onset, stimulus, after
N = (PRE + STIM + POST) * FS
OFF = PRE * 128  # stimulus onset at 128 Hz


def spectral_noise(rng, shape, fs, lo, hi, slope=0.5):
    "Unit-variance noise with power ~ 1/f^(2*slope) between lo and hi Hz (FFT shaping)."
    f = np.fft.rfftfreq(shape[-1], 1 / fs)
    amp = np.where((f >= lo) & (f <= hi), 1 / np.maximum(f, lo) ** slope, 0.0)
    spec = (rng.standard_normal(shape[:-1] + (f.size,)) + 1j * rng.standard_normal(shape[:-1] + (f.size,))) * amp
    x = np.fft.irfft(spec, shape[-1])
    return x / x.std(axis=-1, keepdims=True)


def clean_eeg(rng) -> np.ndarray:
    "(32, N) microvolts: 10 broadband sources mixed over the channels, channel noise, and posterior alpha."
    sources = spectral_noise(rng, (10, N), FS, 0.5, 120.0)
    x = 8.0 * rng.standard_normal((32, 10)) / np.sqrt(10) @ sources + 4.0 * spectral_noise(rng, (32, N), FS, 0.5, 120.0)
    alpha = spectral_noise(rng, (1, N), FS, 8.0, 12.0, slope=0) * (1 + 0.5 * np.sin(2 * np.pi * 0.1 * np.arange(N) / FS))
    gain = np.array([12.0 if c[0] in "PO" else 4.0 for c in EEG_CHANNELS])[:, None]
    return x + gain * alpha


def mains(rng, t, amplitude) -> np.ndarray:
    "50 Hz mains: random phase, frequency wandering by +-0.04 Hz (as a grid's does), amplitude varying slowly (+-30 %)."
    freq = 50.0 + 0.04 * np.sin(2 * np.pi * t / 40 + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(freq) / FS + rng.uniform(0, 2 * np.pi)
    return amplitude * (1 + 0.3 * np.sin(2 * np.pi * 0.05 * t + rng.uniform(0, 6))) * np.sin(phase)


def artefacts(rng) -> np.ndarray:
    "(32, N) microvolts of what raw BioSemi data adds: DC offsets, drift, mains, a common-mode signal."
    t = np.arange(N) / FS
    dc = rng.choice([-1, 1], (32, 1)) * rng.uniform(10_000, 40_000, (32, 1))  # tens of mV
    drift = 200.0 * spectral_noise(rng, (32, N), FS, 0.01, 0.5, slope=1.0) + rng.uniform(-5, 5, (32, 1)) * t
    own_mains = np.stack([mains(rng, t, a) for a in rng.uniform(2.0, 20.0, 32)])  # differs per electrode
    common = 500.0 * spectral_noise(rng, (1, N), FS, 0.05, 100.0) + mains(rng, t, 400.0)
    return dc + drift + own_mains + common


def write_session(root, eeg: np.ndarray) -> None:
    "One rated MAHNOB-HCI emotion session (subject 1, trial 1) under `root/Sessions/2`, without video."
    d = root / "Sessions" / "2"
    d.mkdir(parents=True)
    status = np.zeros(N)
    status[PRE * FS: PRE * FS + 5] = 1  # stimulus onset
    status[(PRE + STIM) * FS: (PRE + STIM) * FS + 5] = 2  # stimulus end
    signals = np.vstack([eeg, np.zeros((len(MAHNOB_CHANNELS) - 33, N)), status[None]])
    write_bdf(d / "Part_1_N_Trial1_emotion.bdf", signals, MAHNOB_CHANNELS, FS)
    s = ET.Element("session", {"feltVlnc": "7", "feltArsl": "3", "feltCtrl": "5", "feltPred": "5", "mediaFile": "12.avi",
                               "sessionId": "2", "isStim": "1", "cutLenSec": str(STIM)})
    ET.SubElement(s, "subject", {"id": "1"})
    ET.ElementTree(s).write(d / "session.xml", encoding="utf-8", xml_declaration=True)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    "(clean root, raw root, clean EEG, artefacts): the same session written clean and with raw-BioSemi artefacts."
    rng = np.random.default_rng(7)
    eeg, art = clean_eeg(rng), artefacts(rng)
    base = tmp_path_factory.mktemp("mahnob")
    write_session(base / "clean", eeg)
    write_session(base / "raw", eeg + art)
    return base / "clean", base / "raw", eeg, art


@pytest.fixture(scope="module")
def prepared(sessions, tmp_path_factory):
    "The caches of both sessions under the default preparation."
    cache = tmp_path_factory.mktemp("cache")
    return [open_cache(prepare("mahnob", root, cache / root.name, progress=False)) for root in sessions[:2]]


def flat(samples) -> np.ndarray:
    "(32, n * 128): a cache's samples, second after second."
    x = np.asarray(samples[np.arange(len(samples))])
    return x.transpose(1, 0, 2).reshape(32, -1)


def test_artefacts_are_removed(prepared):
    clean, raw = (flat(c.eeg) for c in prepared)
    assert clean.shape == (32, STIM * 128)
    r = np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(clean, raw)])
    print(f"per-channel correlation clean vs raw-with-artefacts: median {np.median(r):.4f}, min {r.min():.4f}")
    assert np.median(r) >= 0.95


def line_db(x: np.ndarray, fs: float) -> float:
    "Median over channels of the largest PSD (4-s Welch windows) within 0.5 Hz of 50 Hz, in dB re 1 uV^2/Hz."
    f, p = welch(x, fs, nperseg=int(4 * fs), axis=-1)
    return float(10 * np.log10(np.median(p[:, (f >= 49.5) & (f <= 50.5)].max(axis=1))))


def raw_line_db(sessions) -> float:
    "The 50 Hz line of the raw recording's stimulus part, average-referenced (as the prepared samples are)."
    _, _, eeg, art = sessions
    raw = (eeg + art)[:, PRE * FS:(PRE + STIM) * FS]
    return line_db(raw - raw.mean(axis=0), FS)


def test_mains_is_gone(sessions, prepared):
    """The mains left in the prepared samples (what the artefacts add to them: the preparation is linear) is at
    least 40 dB below the raw recording's line, and the prepared raw session has no 50 Hz peak over the clean one."""
    clean, raw = (flat(c.eeg) for c in prepared)
    before, left, bg = raw_line_db(sessions), line_db(raw - clean, 128), line_db(clean, 128)
    print(f"50 Hz: raw line {before:.1f} dB, left in the prepared samples {left:.1f} dB ({before - left:.1f} dB down); "
          f"prepared: raw session {line_db(raw, 128):.1f} dB, clean session {bg:.1f} dB")
    assert before - left >= 40
    assert abs(line_db(raw, 128) - bg) < 1


def test_band_pass_alone_leaves_mains(sessions):
    "Why the notch: without it, the 45 Hz low-pass leaves 50 Hz only a few dB down."
    cfg = PrepareConfig(notch=None, faces=False)
    clean, raw = (prepare_subject(mahnob.read_subject(r, 1), cfg, log=lambda m: None).eeg for r in sessions[:2])
    down = raw_line_db(sessions) - line_db((raw - clean).transpose(1, 0, 2).reshape(32, -1), 128)
    print(f"band-pass alone: 50 Hz line {down:.1f} dB down")
    assert down < 10


def mne_pipeline(bdf) -> np.ndarray:
    "The same preparation in plain MNE: (n, 32, 128) baseline-corrected one-second samples."
    raw = mne.io.read_raw_bdf(bdf, preload=True, verbose="error").pick(list(EEG_CHANNELS))
    raw.set_eeg_reference("average", verbose=False)
    raw.filter(4.0, 45.0, verbose=False)
    raw.notch_filter(50.0, verbose=False)
    raw.resample(128, verbose=False)
    x = raw.get_data() * 1e6
    segs = x[:, OFF:OFF + STIM * 128].reshape(32, STIM, 128).transpose(1, 0, 2)
    return segs - x[:, :OFF].reshape(32, PRE, 128).mean(axis=1)[None]


def test_matches_plain_mne(sessions, prepared):
    """Tolerance: 1 % of the samples' rms (7 uV here, so 0.07 uV). The pipelines run the same MNE filter designs;
    they differ in the kit reading the BDF into float32 microvolts (steps of 0.002-0.004 uV under a 40 mV offset),
    in its notch also taking out 100 Hz (nothing is left there after the 45 Hz low-pass) and in the resampler
    (MNE's FFT resampling, the kit's polyphase one: they differ near 64 Hz, where the band-pass left nothing).
    Measured: max |diff| about 0.03 uV, rms diff about 0.005 uV."""
    ref = mne_pipeline(next((sessions[1] / "Sessions" / "2").glob("*.bdf")))
    kit = np.asarray(prepared[1].eeg[np.arange(len(prepared[1]))])
    rms = np.sqrt(np.mean(ref ** 2))
    err = np.abs(kit - ref)
    print(f"kit vs plain MNE: max |diff| {err.max():.4f} uV, rms diff {np.sqrt(np.mean(err ** 2)):.5f} uV, signal rms {rms:.2f} uV")
    np.testing.assert_allclose(kit, ref, rtol=0, atol=0.01 * rms)


def test_manifest_records_the_steps(prepared):
    man = prepared[1].manifest
    assert man["eeg_steps"] == dict(reference="average", l_freq=4.0, h_freq=45.0, notch=50.0, fs=128.0, baseline="mean-window")
    steps = man["subjects"]["1"]["eeg_steps"]
    assert steps[0].startswith("common average reference") and "4-45 Hz" in steps[1] and "notch at 50, 100 Hz" in steps[2]
    assert steps[3] == "polyphase resampling 256 -> 128 Hz"


def test_nan_span_stays_nan(sessions):
    """A NaN span in a raw recording: the filters' reach around it is left out (and reported); every other second
    is what it is without the NaN."""
    rec = mahnob.read_subject(sessions[1], 1)
    eeg = rec.eeg.copy()
    eeg[0, 5, (PRE + 10) * FS: (PRE + 10) * FS + 20] = np.nan  # 20 samples of one channel, 10 s into the stimulus
    skipped = []
    cfg = PrepareConfig(faces=False)
    ss = prepare_subject(dataclasses.replace(rec, eeg=eeg), cfg, log=skipped.append)
    full = prepare_subject(rec, cfg, log=lambda m: None)
    lost = sorted(set(range(STIM)) - set(ss.segment.tolist()))
    print(f"NaN at stimulus second 10: seconds {lost} left out")
    assert 10 in lost and lost == list(range(lost[0], lost[-1] + 1)) and 4 <= len(lost) <= 10  # reach 3.4 s each side
    assert any("segments hold NaN EEG: left out" in m for m in skipped)
    assert np.isfinite(ss.eeg).all()
    np.testing.assert_allclose(ss.eeg, full.eeg[ss.segment], rtol=0, atol=0.05)


@pytest.fixture(scope="module")
def deap_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("deap") / "DEAP"
    synth_deap(root, SynthConfig(subjects=1, trials=3, seconds=4, video=False, seed=3), progress=False)
    return root


def test_deap_default_preparation_is_unchanged(deap_tree, tmp_path):
    off = PrepareConfig(faces=False, reference="none", l_freq=None, h_freq=None, notch=None)
    a = open_cache(prepare("deap", deap_tree, tmp_path, PrepareConfig(faces=False), progress=False))
    b = open_cache(prepare("deap", deap_tree, tmp_path, off, progress=False))
    assert a.path != b.path  # every field is in the key, even an 'auto' that resolves to off
    ea, eb = (np.asarray(c.eeg[np.arange(len(c))]) for c in (a, b))
    assert ea.dtype == np.float32 and np.array_equal(ea, eb)
    rec = deap.read_subject(deap_tree, 1)  # and the same as cutting the .dat as the kit always has
    direct = np.concatenate([segment_trial(rec.trial_eeg(i, "all"), 384, rec.end[i], 128)[0] for i in range(rec.n_trials)])
    assert np.array_equal(ea, direct)
    assert a.manifest["eeg_steps"] == dict(reference="none", l_freq=None, h_freq=None, notch=None, fs=128.0, baseline="mean-window")
    assert json.loads((a.path / "s001" / "meta.json").read_text())["eeg_steps"] == [
        "baseline: mean one-second pre-stimulus window subtracted"]
