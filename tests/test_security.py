"""A .dat file is a pickle, and a pickle is a program: the DEAP reader must never run one."""
import os
import pickle
import pickletools
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from aimstf_kit.core import DataFormatError
from aimstf_kit.deap import UnsafePickleError, load_dat, safe_load
from aimstf_kit.synth import write_dat


class _Reduce:
    "Pickles as a call of `fn(*args)`."
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def _payloads(marker):
    cmd = f"touch {marker}"
    yield "os.system", {"data": _Reduce(os.system, cmd), "labels": None}
    yield "eval", {"data": _Reduce(eval, f"__import__('os').system({cmd!r})"), "labels": None}
    yield "exec", _Reduce(exec, f"open({str(marker)!r}, 'w').close()")
    import subprocess
    yield "subprocess", _Reduce(subprocess.call, ["touch", str(marker)])
    # a numpy array whose reconstruction is fine, next to a payload: nothing may run
    yield "mixed", {"labels": np.ones((1, 4)), "data": _Reduce(os.system, cmd)}


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_hostile_pickles_are_refused_and_never_run(tmp_path, protocol):
    marker = tmp_path / "pwned"
    for name, obj in _payloads(marker):
        path = tmp_path / f"s01_{name}.dat"
        path.write_bytes(pickle.dumps(obj, protocol=protocol))
        with pytest.raises(UnsafePickleError) as e:
            load_dat(path)
        assert str(path) in str(e.value), name
        assert "refused to load" in str(e.value)
        assert not marker.exists(), f"payload {name} ran (protocol {protocol})"


def test_hand_written_global_opcode_is_refused(tmp_path):
    # GLOBAL 'os system' + REDUCE written by hand, as an attacker would (no Python object involved)
    marker = tmp_path / "pwned"
    body = b"\x80\x02cos\nsystem\n(X" + struct.pack("<I", len(f"touch {marker}")) + f"touch {marker}".encode() + b"tR."
    pickletools.dis(body, out=open(os.devnull, "w"))  # a valid pickle
    path = tmp_path / "s02.dat"
    path.write_bytes(body)
    with pytest.raises(UnsafePickleError, match="os.system"):
        load_dat(path)
    assert not marker.exists()


def test_codecs_encode_only_latin1(tmp_path):
    # _codecs.encode is allowed (Python 3 protocol-2 bytes) but only with latin-1: no zlib bombs, no rot13 tricks
    path = tmp_path / "s03.dat"
    path.write_bytes(b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x04\x00\x00\x00zlib\x86R.")
    with pytest.raises(DataFormatError, match="not allowed"):
        safe_load(path)


def test_python3_protocol2_and_latest_protocol_files_load(tmp_path):
    # files re-saved by Python 3 (any protocol) are still accepted
    d = {"data": np.random.rand(2, 40, 50), "labels": np.full((2, 4), 3.0)}
    for proto in (2, 4, 5):
        p = tmp_path / f"s{proto:02d}.dat"
        p.write_bytes(pickle.dumps(d, protocol=proto))
        out = load_dat(p)
        np.testing.assert_array_equal(out["data"], d["data"])


def test_object_arrays_are_refused(tmp_path):
    p = tmp_path / "s04.dat"
    p.write_bytes(pickle.dumps({"data": np.array([[[1]]], dtype=object), "labels": np.ones((1, 4))}, protocol=2))
    with pytest.raises(DataFormatError, match="numeric numpy array"):
        load_dat(p)


@settings(max_examples=25, deadline=None)
@given(trials=st.integers(1, 5), samples=st.integers(1, 300), dtype=st.sampled_from(["<f8", "<f4", "<i4", "<i2", "u1"]),
       seed=st.integers(0, 2**16))
def test_write_dat_roundtrip(tmp_path_factory, trials, samples, dtype, seed):
    "The kit's Python-2 pickle writer and its safe reader agree with each other and with pickle.load."
    rng = np.random.default_rng(seed)
    data = (rng.normal(0, 50, (trials, 40, samples))).astype(dtype)
    labels = rng.uniform(1, 9, (trials, 4))
    p = tmp_path_factory.mktemp("rt") / "s01.dat"
    write_dat(p, data, labels)
    out = load_dat(p)
    assert out["data"].dtype == data.dtype
    np.testing.assert_array_equal(out["data"], data)
    np.testing.assert_array_equal(out["labels"], labels)
    with open(p, "rb") as f:
        ref = pickle.load(f, encoding="latin1")
    np.testing.assert_array_equal(ref["data"], data)
