"""Shared fixtures: small synthetic DEAP and MAHNOB trees, written once per test session."""
import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

from aimstf_kit.synth import SynthConfig, synth_deap, synth_mahnob


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def deap_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("deap") / "DEAP"
    synth_deap(root, SynthConfig(subjects=2, trials=3, seconds=2, video_subjects=(1,), missing_videos=1, seed=5),
               progress=False)
    return root


@pytest.fixture(scope="session")
def mahnob_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mahnob") / "MAHNOB"
    synth_mahnob(root, SynthConfig(subjects=2, trials=2, seconds=2, prestim_seconds=4, seed=5), progress=False)
    return root


@pytest.fixture
def deap_copy(deap_root, tmp_path) -> Path:
    "A private copy of the DEAP tree that a test may damage."
    dst = tmp_path / "DEAP"
    shutil.copytree(deap_root, dst)
    return dst


@pytest.fixture
def mahnob_copy(mahnob_root, tmp_path) -> Path:
    "A private copy of the MAHNOB tree that a test may damage."
    dst = tmp_path / "MAHNOB"
    shutil.copytree(mahnob_root, dst)
    return dst


def aimstf_cmd() -> list:
    "The installed `aimstf` console script (or the same entry point through this interpreter)."
    exe = shutil.which("aimstf", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return [exe] if exe else [sys.executable, "-c", "import sys; from aimstf_kit.cli import main; sys.exit(main())"]
