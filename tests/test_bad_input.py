"""Every malformed input gives an error that names the file and the problem; nothing is silently skipped."""
import re
import shutil
import warnings

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
