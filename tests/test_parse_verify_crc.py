"""`lraudit parse --verify-crc`: a flipped bit in an event value is caught and reported on stderr."""
from __future__ import annotations

import csv

import numpy as np
from conftest import run_lraudit
from tfevents_helpers import event, record_offsets, tensor_value, write_events


def _write(tmp_path):
    events = [event(step, 1000.0 + step, tensor_value("batch_loss", 0.5 + step)) for step in range(1, 41)]
    path = write_events(tmp_path / "run" / "train", events)
    return path


def _parse(run, out, *flags):
    return run_lraudit("parse", str(run), "-o", str(out), *flags)


def _rows(out):
    with open(out, newline="") as fh:
        return [row for row in csv.DictReader(fh) if row["name"] == "train/batch_loss"]


def test_verify_crc_reports_a_flipped_value_bit_and_keeps_the_points_before(tmp_path):
    path = _write(tmp_path)
    offset, length = record_offsets(path)[21]  # record 0 is file_version: this is step 21
    data = bytearray(path.read_bytes())
    record = bytes(data[offset + 12 : offset + 12 + length])
    value_at = record.index(np.float32(21.5).tobytes())  # the scalar's own four bytes
    data[offset + 12 + value_at] ^= 0x01  # a low mantissa bit: still a plausible float
    path.write_bytes(bytes(data))

    clean = _parse(tmp_path / "run", tmp_path / "plain.csv")
    assert clean.returncode == 0, clean.stderr
    plain = _rows(tmp_path / "plain.csv")
    assert len(plain) == 40  # without the check the damaged value is read as it is
    assert float(plain[20]["value"]) != 21.5

    checked = _parse(tmp_path / "run", tmp_path / "checked.csv", "--verify-crc")
    assert checked.returncode == 0, checked.stderr
    assert "lraudit: warning:" in checked.stderr and "CRC" in checked.stderr
    rows = _rows(tmp_path / "checked.csv")
    assert 0 < len(rows) < 40
    assert [int(r["step"]) for r in rows] == list(range(1, len(rows) + 1))


def test_truncated_event_file_warns_on_stderr(tmp_path):
    path = _write(tmp_path)
    path.write_bytes(path.read_bytes()[:-7])
    proc = _parse(tmp_path / "run", tmp_path / "out.csv")
    assert proc.returncode == 0, proc.stderr
    assert "lraudit: warning:" in proc.stderr and "Traceback" not in proc.stderr
    assert len(_rows(tmp_path / "out.csv")) == 39
