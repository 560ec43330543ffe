"""Every malformed input gives an error that names the file and the problem; nothing is silently skipped."""
import json
import re
import shutil
import warnings

import cv2
import numpy as np
import pytest

from aimstf_kit import deap, mahnob
from aimstf_kit.core import MAHNOB_CHANNELS, DataFormatError
from aimstf_kit.synth import write_bdf, write_dat


def dat(root, s=1):
    return root / "data_preprocessed_python" / f"s{s:02d}.dat"


def test_truncated_dat(deap_copy):
    p = dat(deap_copy)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(DataFormatError, match=re.escape(str(p)) + ".*truncated or corrupt"):
        deap.read_subject(deap_copy, 1)


def test_not_a_pickle(deap_copy):
    p = dat(deap_copy)
    p.write_text("hello")
    with pytest.raises(DataFormatError, match=re.escape(str(p)) + ": not a readable pickle"):
        deap.load_dat(p)


@pytest.mark.parametrize("data_shape,labels_shape,msg", [
    ((3, 32, 640), (3, 4), r"'data' must be \(trials, 40, samples\), got \(3, 32, 640\)"),
    ((3, 40, 640), (3, 3), r"'labels' must be \(trials=3, 4\), got \(3, 3\)"),
    ((3, 40, 640), (2, 4), r"'labels' must be \(trials=3, 4\), got \(2, 4\)"),
    ((40, 640), (3, 4), r"'data' must be \(trials, 40, samples\)"),
])
def test_wrong_shapes(deap_copy, data_shape, labels_shape, msg):
    p = dat(deap_copy)
    write_dat(p, np.zeros(data_shape), np.full(labels_shape, 5.0))
    with pytest.raises(DataFormatError, match=re.escape(str(p)) + ": " + msg):
        deap.read_subject(deap_copy, 1)


def test_ratings_out_of_range_and_nan(deap_copy):
    p = dat(deap_copy)
    write_dat(p, np.zeros((3, 40, 640)), np.array([[5, 5, 5, 5], [0, 5, 5, 5], [5, 5, 5, 5.0]]))
    with pytest.raises(DataFormatError, match="within \\[1, 9\\]"):
        deap.load_dat(p)
    write_dat(p, np.zeros((3, 40, 640)), np.array([[5, 5, 5, 5], [np.nan, 5, 5, 5], [5, 5, 5, 5.0]]))
    with pytest.raises(DataFormatError, match="finite"):
        deap.load_dat(p)


def test_trial_shorter_than_baseline(deap_copy):
    p = dat(deap_copy)
    write_dat(p, np.zeros((3, 40, 300)), np.full((3, 4), 5.0))
    with pytest.raises(DataFormatError, match="not more than the 384-sample"):
        deap.read_subject(deap_copy, 1)


def test_missing_dat(deap_copy):
    with pytest.raises(FileNotFoundError, match=r"s07\.dat: DEAP data file not found"):
        deap.read_subject(deap_copy, 7)


def test_missing_ratings_csv(deap_copy):
    csv = deap_copy / "metadata_csv" / "participant_ratings.csv"
    csv.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(csv)) + ": DEAP participant_ratings.csv not found"):
        deap.read_subject(deap_copy, 1)


def test_ratings_csv_without_subject_or_with_bad_values(deap_copy):
    csv = deap_copy / "metadata_csv" / "participant_ratings.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([lines[0]] + [l for l in lines[1:] if not l.startswith("2,")]) + "\n")
    with pytest.raises(DataFormatError, match="no rows for participant 2"):
        deap.read_subject(deap_copy, 2)
    csv.write_text("\n".join([lines[0], "1,x,1,0,5,5,5,5,1"] + lines[2:]) + "\n")
    with pytest.raises(DataFormatError, match="line 2: Participant_id, Trial and Experiment_id must be integers"):
        deap.read_subject(deap_copy, 1)
    dup = lines[1].split(",")
    csv.write_text("\n".join(lines + [",".join([dup[0], "9"] + dup[2:])]) + "\n")
    with pytest.raises(DataFormatError, match="has Experiment_id .* twice"):
        deap.read_subject(deap_copy, 1)


def test_missing_video_is_reported_not_silent(deap_copy):
    rec = deap.read_subject(deap_copy, 1)
    assert rec.has_video.sum() == 2 and len(rec.skipped) == 1
    vid = next(v for v in rec.video if v is not None)
    vid.unlink()
    rec = deap.read_subject(deap_copy, 1)
    assert rec.has_video.sum() == 1 and len(rec.skipped) == 2
    assert any(p == vid for p, _ in rec.skipped)


def test_csv_rating_mismatch_warns(deap_copy):
    csv = deap_copy / "metadata_csv" / "participant_ratings.csv"
    lines = csv.read_text().splitlines()
    f = lines[1].split(",")
    f[4] = "1" if float(f[4]) > 2 else "9"
    csv.write_text("\n".join([lines[0], ",".join(f)] + lines[2:]) + "\n")
    with pytest.warns(UserWarning, match="differ from participant_ratings.csv"):
        deap.read_subject(deap_copy, 1)


# ---- MAHNOB ----

def first_session(root):
    return sorted((root / "Sessions").iterdir(), key=lambda p: int(p.name))[0]


def test_session_without_ratings(mahnob_copy):
    s = first_session(mahnob_copy)
    x = s / "session.xml"
    x.write_text(re.sub(r' feltVlnc="\d+"', "", x.read_text()))
    with pytest.raises(mahnob.NoRatingsError, match=re.escape(str(x)) + ": no feltVlnc attribute"):
        mahnob.read_session(s)
    # read_subject reports and skips it
    with pytest.warns(UserWarning, match="skipped 1 session"):
        rec = mahnob.read_subject(mahnob_copy, 1)
    assert rec.n_trials == 1
    assert any(p == x and "no feltVlnc" in why for p, why in rec.skipped)


def test_session_xml_problems(mahnob_copy):
    s = first_session(mahnob_copy)
    x = s / "session.xml"
    good = x.read_text()
    x.write_text(good.replace('feltVlnc="', 'feltVlnc="x'))
    with pytest.raises(DataFormatError, match="feltVlnc='x.*' is not a number"):
        mahnob.read_session(s)
    x.write_text(re.sub(r'feltArsl="\d+"', 'feltArsl="12"', good))
    with pytest.raises(DataFormatError, match=r"within \[1, 9\]"):
        mahnob.read_session(s)
    x.write_text(re.sub(r"<subject[^>]*/>", "", good))
    with pytest.raises(DataFormatError, match="no <subject id=...> element"):
        mahnob.read_session(s)
    x.write_text("<session")
    with pytest.raises(DataFormatError, match=re.escape(str(x)) + ": not valid XML"):
        mahnob.read_session(s)
    x.unlink()
    with pytest.raises(FileNotFoundError, match="session.xml not found"):
        mahnob.read_session(s)


def test_bdf_without_status_events(mahnob_copy):
    s = first_session(mahnob_copy)
    b = next(s.glob("*.bdf"))
    write_bdf(b, np.zeros((47, 256 * 6)), MAHNOB_CHANNELS, 256)
    with pytest.raises(DataFormatError, match=re.escape(str(b)) + ": the Status channel has 0 trigger event"):
        mahnob.read_session(s)
    status = np.zeros(256 * 6); status[300:305] = 1
    write_bdf(b, np.vstack([np.zeros((46, 256 * 6)), status]), MAHNOB_CHANNELS, 256)
    with pytest.raises(DataFormatError, match="has 1 trigger event"):
        mahnob.read_session(s)


def test_bdf_without_status_channel_or_eeg(mahnob_copy):
    s = first_session(mahnob_copy)
    b = next(s.glob("*.bdf"))
    write_bdf(b, np.zeros((46, 256 * 6)), MAHNOB_CHANNELS[:46], 256)
    with pytest.raises(DataFormatError, match="no 'Status' channel"):
        mahnob.read_session(s)
    names = list(MAHNOB_CHANNELS); names[3] = "XX"
    status = np.zeros(256 * 6); status[300:305] = 1; status[600:605] = 2
    write_bdf(b, np.vstack([np.zeros((46, 256 * 6)), status]), names, 256)
    with pytest.raises(DataFormatError, match=r"missing EEG channel\(s\) \['F7'\]"):
        mahnob.read_session(s)


def test_bdf_truncated_or_missing(mahnob_copy):
    s = first_session(mahnob_copy)
    b = next(s.glob("*.bdf"))
    b.write_bytes(b.read_bytes()[:600])
    with pytest.raises(DataFormatError, match=re.escape(str(b)) + ": MNE could not read it as BDF"):
        mahnob.read_session(s)
    b.unlink()
    with pytest.raises(DataFormatError, match="no .bdf file beside session.xml"):
        mahnob.read_session(s)


def test_missing_sessions_folder_and_subject(tmp_path, mahnob_root):
    with pytest.raises(FileNotFoundError, match="Sessions: not found"):
        mahnob.read_subject(tmp_path, 1)
    with pytest.raises(FileNotFoundError, match=r"no rated session for subject 9 \(subjects found: \[1, 2\]\)"):
        mahnob.read_subject(mahnob_root, 9)


# ---- issue 11: bad input at real scale (each a clear error or a recorded skip naming the file; nothing else lost) ----

def session_signals(session_dir):
    "(47, samples) signals of a session's BDF in physical units (µV, raw Status codes), read with MNE."
    import mne
    b = next(session_dir.glob("*.bdf"))
    raw = mne.io.read_raw_bdf(b, preload=True, verbose="error")
    x = raw.get_data() * 1e6
    x[-1] = raw.get_data(picks=["Status"])[0]
    return b, x


def quiet_read(root, subject):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = mahnob.read_subject(root, subject)
    return rec, [str(c.message) for c in caught]


def test_flat_eeg_session_is_skipped_and_named(mahnob_copy):
    s = first_session(mahnob_copy)
    b, x = session_signals(s)
    x[:32] = 25.0  # every EEG electrode constant
    write_bdf(b, x, MAHNOB_CHANNELS, 256)
    with pytest.raises(DataFormatError, match=re.escape(str(b)) + ": every EEG channel is flat"):
        mahnob.read_session(s)
    rec, msgs = quiet_read(mahnob_copy, 1)
    assert rec.n_trials == 1 and s.name not in map(str, rec.session)
    assert [(p, why) for p, why in rec.skipped if p == b] == [(b, "skipped: every EEG channel is flat (constant): "
                                                               "the electrodes recorded no signal")]
    assert any(str(b) in m and "skipped" in m for m in msgs)
    assert mahnob.read_subject(mahnob_copy, 2).n_trials == 2  # the other participant is untouched
    rows = mahnob.describe(mahnob_copy, progress=False)
    assert [(r["subject"], r["trials"]) for r in rows] == [(1, 1), (2, 2)]


def test_nan_eeg_session_is_skipped_and_named(mahnob_copy, monkeypatch):
    "A BDF stores integers, so NaN EEG can only come from the reading library: the reader still refuses it."
    import mne
    s = first_session(mahnob_copy)
    b = next(s.glob("*.bdf"))
    orig = mne.io.read_raw_bdf

    def read_nan(path, *a, **kw):
        raw = orig(path, *a, **kw)
        if str(path) == str(b):
            raw._data[:32] = np.nan
        return raw

    monkeypatch.setattr(mne.io, "read_raw_bdf", read_nan)
    with pytest.raises(DataFormatError, match=re.escape(str(b)) + ": the EEG is NaN or infinite everywhere"):
        mahnob.read_session(s)
    rec, _ = quiet_read(mahnob_copy, 1)
    assert rec.n_trials == 1 and any(p == b and "NaN" in why for p, why in rec.skipped)
    assert np.isfinite(rec.trial_eeg(0)).all()


def test_subject_without_any_readable_session(mahnob_copy):
    for s in sorted((mahnob_copy / "Sessions").iterdir(), key=lambda p: int(p.name))[:2]:  # subject 1's two sessions
        b, x = session_signals(s)
        x[:32] = 0.0
        write_bdf(b, x, MAHNOB_CHANNELS, 256)
    with pytest.raises(DataFormatError, match=r"Sessions: subject 1: none of its 2 rated session\(s\) could be read: "
                       r".*_emotion\.bdf: skipped: every EEG channel is flat"):
        quiet_read(mahnob_copy, 1)
    assert mahnob.read_subject(mahnob_copy, 2).n_trials == 2
    # `aimstf info` lists the subject with the reason; `prepare` records it as failed and prepares the other
    rows = mahnob.describe(mahnob_copy, progress=False)
    assert [(r["subject"], r["trials"]) for r in rows] == [(1, 0), (2, 2)]
    assert "FAILED, subject left out: subject 1: none of its 2 rated session(s)" in rows[0]["skipped"][0][1]
    from aimstf_kit.cache import cache_report, open_cache
    from aimstf_kit.core import PrepareConfig
    from aimstf_kit.prepare import prepare
    cdir = prepare("mahnob", mahnob_copy, mahnob_copy.parent / "cache", PrepareConfig(faces=False), progress=False)
    rep = cache_report(cdir)
    assert list(rep["failed"]) == ["1"] and "none of its 2 rated session(s)" in rep["failed"]["1"]["reason"]
    assert rep["failed"]["1"]["file"].endswith("Sessions")
    assert open_cache(cdir).subjects == [2]
    assert json.loads((cdir / "manifest.json").read_text())["complete"] is False


def write_mixed_rate_bdf(path, x, rates: dict, fs: int = 256):
    "A valid BDF of `x` (channels, samples) where channel `name` is stored at `rates[name]` Hz (every fs/rate-th sample)."
    write_bdf(path, x, MAHNOB_CHANNELS, fs)
    data = path.read_bytes()
    ns = len(MAHNOB_CHANNELS)
    head, body = bytearray(data[:256 * (ns + 1)]), data[256 * (ns + 1):]
    counts = [rates.get(c, fs) for c in MAHNOB_CHANNELS]
    off = 256 + ns * 216  # the samples-per-record field of each channel
    for i, n in enumerate(counts):
        head[off + 8 * i: off + 8 * (i + 1)] = str(n).ljust(8).encode()
    recs = np.frombuffer(body, np.uint8).reshape(-1, ns, fs, 3)
    out = b"".join(recs[r, i, :: fs // n].tobytes() for r in range(len(recs)) for i, n in enumerate(counts))
    path.write_bytes(bytes(head) + out)


def test_bdf_with_one_channel_at_a_wrong_rate(mahnob_copy):
    import mne
    s = first_session(mahnob_copy)
    b, x = session_signals(s)
    write_mixed_rate_bdf(b, x, {"AF3": 128})
    raw = mne.io.read_raw_bdf(b, preload=True, verbose="error")  # MNE reads it, resampling AF3 without a word
    assert raw.info["sfreq"] == 256
    assert mahnob.bdf_channel_rates(b)["AF3"] == 128 and mahnob.bdf_channel_rates(b)["Fp1"] == 256
    with pytest.raises(DataFormatError, match=re.escape(str(b)) + r": channel\(s\) AF3 at 128 Hz, the others at 256 Hz"):
        mahnob.read_session(s)
    rec, _ = quiet_read(mahnob_copy, 1)
    assert rec.n_trials == 1 and any(p == b and "AF3 at 128 Hz" in why for p, why in rec.skipped)


def test_status_with_extra_events(mahnob_copy):
    "cutLenSec (2 s = 512 samples here) picks the stimulus pair out of other triggers; two candidate pairs, or none, is an error."
    s = first_session(mahnob_copy)
    b, x = session_signals(s)

    def status(*pulses):
        x[-1] = 0
        for t, code in pulses:
            x[-1, t:t + 5] = code
        write_bdf(b, x, MAHNOB_CHANNELS, 256)

    status((50, 1), (1024, 1), (1536, 2), (1700, 4))  # other triggers, one with the onset's code, before and after
    rs = mahnob.read_session(s)
    assert (rs.onset, rs.end) == (1024, 1536)
    status((50, 8), (700, 1), (1212, 2), (1724, 4))  # 700 -> 1212 and 1212 -> 1724 are both 2 s
    with pytest.raises(DataFormatError, match=re.escape(str(b)) + r": 4 Status events \(code 8 at 0.20 s, .*2 pairs "
                       r"of them are cutLenSec=2 s"):
        mahnob.read_session(s)
    rec, _ = quiet_read(mahnob_copy, 1)
    assert rec.n_trials == 1 and any(p == b and "cannot be told from the other triggers" in why for p, why in rec.skipped)
    status((300, 1), (500, 2), (1300, 4))
    with pytest.raises(DataFormatError, match="no two of them are cutLenSec=2 s"):
        mahnob.read_session(s)
    status((1024, 1), (1300, 2))  # two events: taken as they are, with a warning if they disagree with cutLenSec
    with pytest.warns(UserWarning, match="1.08 s apart, but cutLenSec is 2 s"):
        rs = mahnob.read_session(s)
    assert (rs.onset, rs.end) == (1024, 1300)


def empty_video(path):
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 50.0, (720, 576))
    vw.release()


def test_video_of_zero_frames(deap_copy):
    from aimstf_kit.faces import extract_faces
    from aimstf_kit.prepare import prepare_subject
    rec = deap.read_subject(deap_copy, 1)
    vids = [v for v in rec.video if v is not None]
    assert len(vids) == 2
    empty_video(vids[0])
    with pytest.raises(DataFormatError, match=re.escape(str(vids[0])) + ": no frame could be decoded"):
        extract_faces(vids[0], 2)
    ss = prepare_subject(deap.read_subject(deap_copy, 1), log=lambda m: None)
    assert len(ss) == 3 * 2  # every trial keeps its EEG samples
    reports = [why for p, why in ss.report["skipped"] if p == str(vids[0])]
    assert len(reports) == 1 and "no frame could be decoded" in reports[0] and "EEG-only" in reports[0]
    t_empty, t_good = (rec.trial[rec.video.index(v)] for v in vids)
    assert not ss.has_face[ss.trial == t_empty].any() and ss.has_face[ss.trial == t_good].all()


def test_participant_in_ratings_csv_without_dat(deap_copy):
    p = dat(deap_copy, 2)
    p.unlink()
    assert deap.list_subjects(deap_copy) == [1]
    assert deap.missing_dat_files(deap_copy) == [(p, "participant 2 is in participant_ratings.csv but has no .dat file: left out")]
    rows = deap.describe(deap_copy, progress=False)
    assert [(r["subject"], r["trials"]) for r in rows] == [(1, 3), (2, 0)]
    assert rows[1]["skipped"] == [(p, "participant 2 is in participant_ratings.csv but has no .dat file: left out")]
    assert deap.read_subject(deap_copy, 1).n_trials == 3  # nothing else lost
    with pytest.raises(FileNotFoundError, match=re.escape(str(p)) + ": DEAP data file not found"):
        deap.read_subject(deap_copy, 2)
    from aimstf_kit.cache import cache_report
    from aimstf_kit.core import PrepareConfig
    from aimstf_kit.prepare import prepare
    cdir = prepare("deap", deap_copy, deap_copy.parent / "cache", PrepareConfig(faces=False), progress=False)
    assert cache_report(cdir)["missing_sources"] == [[str(p), "participant 2 is in participant_ratings.csv but has no "
                                                      ".dat file: left out"]]
