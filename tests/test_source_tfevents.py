"""TensorBoard event-file source: encodings, names, epochs, damage, fixtures, sniffing."""
from __future__ import annotations

import glob
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tfevents_helpers import (
    event,
    frame_points,
    record_offsets,
    reference_points,
    simple_value,
    tensor_value,
    write_events,
)

from lraudit.sources import tfevents
from lraudit.sources.base import SCALAR_COLUMNS, SNIFF_BYTES

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_EVENT_FILES = sorted(
    glob.glob(str(ROOT / "fixtures/runs/*/tb/**/events.out.tfevents.*"), recursive=True)
)
VALUES = [0.001, 0.00075, 0.5625, 3.0, 1e-8, 0.1]  # float32-exact below: np.float32 of these


def _series(encoding_value, tags=("epoch_lr",)):
    """Events of one series (epochs 0..5) with the given Summary.Value maker."""
    return [
        event(epoch, 1.7e9 + epoch, *(encoding_value(tag, float(np.float32(v))) for tag in tags))
        for epoch, v in enumerate(VALUES)
    ]


def test_tf1_simple_value_and_tf2_tensors_give_the_same_series(tmp_path):
    makers = {
        "tf1": simple_value,
        "tf2": lambda tag, v: tensor_value(tag, v, "f32"),
        "float_val": lambda tag, v: tensor_value(tag, v, "f32val"),
        "f64": lambda tag, v: tensor_value(tag, v, "f64"),
        "double_val": lambda tag, v: tensor_value(tag, v, "f64val"),
    }
    series = {}
    for label, maker in makers.items():
        path = write_events(tmp_path / label, _series(maker))
        frame = tfevents.read(path).scalars
        series[label] = frame[["name", "step", "value", "wall_time"]].reset_index(drop=True)
    expected = pd.DataFrame(
        {
            "name": ["epoch_lr"] * 6,
            "step": list(range(6)),
            "value": [float(np.float32(v)) for v in VALUES],
            "wall_time": [1.7e9 + e for e in range(6)],
        }
    )
    for label, frame in series.items():
        assert frame["name"].tolist() == expected["name"].tolist(), label
        assert frame["step"].astype("int64").tolist() == expected["step"].tolist(), label
        assert frame["value"].tolist() == expected["value"].tolist(), label
        assert frame["wall_time"].tolist() == expected["wall_time"].tolist(), label


def test_float64_tensor_keeps_full_precision(tmp_path):
    path = write_events(tmp_path / "d", [event(3, 1.0, tensor_value("epoch_lr", 0.1, "f64"))])
    (value,) = tfevents.read(path).scalars["value"]
    assert value == 0.1  # not float32(0.1)


def test_columns_names_and_epochs(tmp_path):
    events = [event(0, 1.0, tensor_value("keras_unrelated", 9.0))]
    for epoch in range(3):
        events.append(event(epoch, 2.0 + epoch, tensor_value("epoch_learning_rate", 0.01)))
        events.append(event(10 * epoch + 1, 2.5 + epoch, tensor_value("batch_loss", 0.5)))
    path = write_events(tmp_path / "logs" / "train", events)
    frame = tfevents.read(path).scalars
    assert list(frame.columns) == [*SCALAR_COLUMNS, "wall_time"]
    expected_names = ["train/keras_unrelated", "train/epoch_learning_rate", "train/batch_loss"]
    assert frame["name"].tolist()[:3] == expected_names
    assert set(frame["source"]) == {"tfevents"} and set(frame["file"]) == {str(path)}
    assert frame["line"].isna().all() and frame["fit"].isna().all() and frame["text"].isna().all()
    lr = frame[frame["name"] == "train/epoch_learning_rate"]
    assert lr["epoch"].tolist() == [0, 1, 2]
    assert frame[frame["name"] == "train/batch_loss"]["epoch"].isna().all()
    assert str(frame["epoch"].dtype) == "Int64" and str(frame["step"].dtype) == "Int64"


def test_validation_folder_prefixes_the_name(tmp_path):
    path = write_events(tmp_path / "validation", [event(0, 1.0, tensor_value("epoch_loss", 2.0))])
    assert tfevents.read(path).scalars["name"].tolist() == ["validation/epoch_loss"]


def test_tf1_plain_tags_are_epochs_only_when_steps_count_epochs(tmp_path):
    per_epoch = [event(e, 1.0 + e, simple_value("lr", 0.1), simple_value("val_loss", 1.0)) for e in range(4)]
    frame = tfevents.read(write_events(tmp_path / "epochs", per_epoch)).scalars
    assert frame["epoch"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    samples = [event(32 * (b + 1), 1.0 + b, simple_value("loss", 0.5)) for b in range(4)]
    frame = tfevents.read(write_events(tmp_path / "samples", samples)).scalars
    assert frame["epoch"].isna().all()
    resumed = [event(e, 1.0 + e, simple_value("lr", 0.1)) for e in (3, 4, 5)]
    assert tfevents.read(write_events(tmp_path / "resumed", resumed)).scalars["epoch"].tolist() == [3, 4, 5]


def test_tag_filter_keeps_the_requested_series(tmp_path):
    events = [
        event(s, 1.0 + s, tensor_value("batch_loss", 0.5), tensor_value("epoch_lr", 0.01))
        for s in range(50)
    ]
    path = write_events(tmp_path / "train", events)
    everything = tfevents.read(path).scalars
    only_lr = tfevents.read(path, tags=tfevents.lr_tags).scalars
    assert set(only_lr["name"]) == {"train/epoch_lr"}
    expected = everything[everything["name"] == "train/epoch_lr"].reset_index(drop=True)
    pd.testing.assert_frame_equal(only_lr.reset_index(drop=True), expected)
    by_name = tfevents.read(path, tags=["batch_loss"]).scalars
    assert set(by_name["name"]) == {"train/batch_loss"} and len(by_name) == 50


@pytest.mark.parametrize(
    ("name", "needed"),
    [
        ("train/epoch_learning_rate", True),
        ("train/epoch_lr", True),
        ("lr", True),
        ("validation/epoch_loss", True),
        ("validation/evaluation_loss_vs_iterations", True),
        ("val_loss", True),
        ("train/batch_loss", False),
        ("train/batch_accuracy", False),
        ("train/epoch_learning_rate_adam", True),
    ],
)
def test_lr_tags(name, needed):
    assert tfevents.lr_tags(name) is needed


def test_chunks_are_bounded_and_concatenate_to_read(tmp_path):
    events = [event(s, 1.0 + s, tensor_value("batch_loss", s / 7)) for s in range(3000)]
    path = write_events(tmp_path / "train", events)
    reader = tfevents.EventScalarReader(path, block_bytes=16 * 1024)
    chunks = list(reader.chunks())
    assert len(chunks) > 5
    assert max(len(chunk) for chunk in chunks) <= 16 * 1024 // 40
    joined = pd.concat(chunks, ignore_index=True)
    whole = tfevents.read(path).scalars
    assert frame_points(joined) == frame_points(whole) == reference_points(path)
    tables = list(tfevents.EventScalarReader(path, block_bytes=16 * 1024).tables())
    assert sum(table.num_rows for table in tables) == 3000
    assert tables[0].column_names == [*SCALAR_COLUMNS, "wall_time"]


def test_iter_scalar_chunks_reports_warnings(tmp_path):
    path = write_events(tmp_path / "t", [event(s, 1.0, tensor_value("epoch_lr", 0.1)) for s in range(20)])
    path.write_bytes(path.read_bytes()[:-7])
    warnings: list[str] = []
    chunks = list(tfevents.iter_scalar_chunks(path, warnings=warnings))
    assert sum(len(c) for c in chunks) == 19
    assert len(warnings) == 1 and str(path) in warnings[0] and "truncated" in warnings[0]


# --- damage -----------------------------------------------------------------------------------


def _damaged(tmp_path, position):
    """A file of 40 scalar records, with the byte at ``position(records)`` flipped."""
    events = [event(s + 1, 1.0 + s, tensor_value("epoch_lr", s / 3)) for s in range(40)]
    path = write_events(tmp_path / "train", events)
    records = record_offsets(path)
    offset = position(records)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x04
    path.write_bytes(bytes(data))
    return path, records


def test_flipped_value_bit_is_found_with_verify_crc(tmp_path):
    # record 21 = the 20th scalar; its value is the 4 bytes before the metadata (last 13 bytes)
    path, records = _damaged(tmp_path, lambda r: r[21][0] + 12 + r[21][1] - 15)
    data = tfevents.read(path, verify_crc=True)
    assert frame_points(data.scalars) == reference_points(path)
    assert len(data.scalars) == 20
    assert any(f"bad data CRC at byte {records[21][0]}" in w and str(path) in w for w in data.warnings)


def test_flipped_tag_bit_is_found_without_verify_crc(tmp_path):
    path, records = _damaged(tmp_path, lambda r: r[30][0] + 12 + 20)
    data = tfevents.read(path)
    assert frame_points(data.scalars) == reference_points(path)
    assert len(data.scalars) == 29
    assert any(f"bad data CRC at byte {records[30][0]}" in w for w in data.warnings)


def test_flipped_length_bit_stops_with_a_warning(tmp_path):
    path, records = _damaged(tmp_path, lambda r: r[10][0] + 1)
    data = tfevents.read(path)
    assert len(data.scalars) == 9
    assert any(f"bad length CRC at byte {records[10][0]}" in w for w in data.warnings)


def test_truncated_tail_keeps_every_whole_record(tmp_path):
    path = write_events(tmp_path / "t", [event(s, 1.0 + s, simple_value("lr", 0.5)) for s in range(30)])
    records = record_offsets(path)
    path.write_bytes(path.read_bytes()[: records[-1][0] + 20])
    data = tfevents.read(path)
    assert frame_points(data.scalars) == reference_points(path)
    assert len(data.scalars) == 29
    assert data.warnings == [f"{path}: truncated record at byte {records[-1][0]}; kept the points before it"]


def test_empty_and_missing_files_do_not_raise(tmp_path):
    empty = tmp_path / "events.out.tfevents.0.x"
    empty.write_bytes(b"")
    data = tfevents.read(empty)
    assert data.scalars.empty and data.warnings == []
    missing = tfevents.read(tmp_path / "nope")
    assert missing.scalars.empty and "cannot read" in missing.warnings[0]


# --- real fixtures -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURE_EVENT_FILES, ids=lambda p: "/".join(Path(p).parts[-4:-1]))
def test_fixture_event_file_equals_tensorboard_loader(path):
    data = tfevents.read(Path(path))
    assert data.warnings == []
    assert frame_points(data.scalars) == reference_points(Path(path))
    folder = Path(path).parent.name
    assert all(name.startswith(f"{folder}/") for name in data.scalars["name"])
    epochs = data.scalars[data.scalars["name"].str.contains("/epoch_")]
    assert (epochs["epoch"] == epochs["step"]).all()


def test_fixtures_exist():
    assert len(FIXTURE_EVENT_FILES) >= 29


def test_keras_generation_hint_from_the_model_summary():
    k2 = next(p for p in FIXTURE_EVENT_FILES if "/k2_adam_decay_plateau/tb/train/" in p)
    k3 = next(p for p in FIXTURE_EVENT_FILES if "/k3_cosine_warmup_probe/tb/train/" in p)
    validation = next(p for p in FIXTURE_EVENT_FILES if "/k2_adam_decay_plateau/tb/validation/" in p)
    assert tfevents.read(Path(k2)).keras == "2"
    assert tfevents.read(Path(k3)).keras == "3"
    assert tfevents.read(Path(validation)).keras is None


# --- sniffing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURE_EVENT_FILES[:6])
def test_sniff_accepts_event_files(path):
    with open(path, "rb") as handle:
        assert tfevents.sniff(handle.read(SNIFF_BYTES), Path(path))


def test_sniff_rejects_every_other_fixture_file():
    others = [p for p in glob.glob(str(ROOT / "fixtures/runs/**/*"), recursive=True)
              if Path(p).is_file() and "tfevents" not in Path(p).name]
    assert len(others) > 50
    for path in others:
        with open(path, "rb") as handle:
            assert not tfevents.sniff(handle.read(SNIFF_BYTES), Path(path)), path


def test_sniff_checks_the_crcs(tmp_path):
    path = write_events(tmp_path / "t", [event(1, 1.0, simple_value("lr", 0.1))])
    prefix = path.read_bytes()[:SNIFF_BYTES]
    assert tfevents.sniff(prefix, path)
    for position in (2, 9, 20):  # length, length CRC, data
        broken = bytearray(prefix)
        broken[position] ^= 1
        assert not tfevents.sniff(bytes(broken), path)
    assert not tfevents.sniff(prefix[:15], path)
    assert not tfevents.sniff(b"", path)
    assert not tfevents.sniff(struct.pack("<Q", 5) + b"\0" * 30, path)


def test_odd_records_are_read_like_the_reference(tmp_path):
    """Empty events, step-only events, a value-less summary and graph-like payloads."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    events = [
        event_pb2.Event(),
        event_pb2.Event(step=3),
        event_pb2.Event(wall_time=2.0, summary=summary_pb2.Summary()),
        event_pb2.Event(wall_time=2.0, graph_def=b"\x0a\x03abc" * 100),
        event(4, 3.0, tensor_value("epoch_lr", 0.25)),
    ]
    path = write_events(tmp_path / "t", events)
    data = tfevents.read(path)
    assert frame_points(data.scalars) == reference_points(path)
    assert len(data.scalars) == 1 and data.warnings == []


def test_record_that_is_not_an_event_is_skipped_with_a_warning(tmp_path):
    from lraudit.sources import _tfrecord as tfr

    path = write_events(tmp_path / "t", [event(1, 1.0, simple_value("lr", 0.5))])
    garbage = b"\xff\xff\xff"  # a truncated varint key: protobuf rejects it, the CRCs are right
    header = struct.pack("<Q", len(garbage))
    record = header + struct.pack("<I", tfr.masked_crc32c(header)) + garbage
    record += struct.pack("<I", tfr.masked_crc32c(garbage))
    offset = path.stat().st_size
    tail = write_events(tmp_path / "u", [event(2, 2.0, simple_value("lr", 0.25))]).read_bytes()
    skip = 16 + struct.unpack_from("<Q", tail)[0]  # drop the second file's file_version record
    path.write_bytes(path.read_bytes() + record + tail[skip:])
    data = tfevents.read(path)
    assert data.scalars["value"].tolist() == [0.5, 0.25]
    assert data.warnings == [f"{path}: record at byte {offset} is not an Event; skipped"]


def test_a_tag_first_seen_in_a_late_chunk_keeps_its_name(tmp_path):
    events = [event(s, 1.0 + s, tensor_value("batch_loss", 0.5)) for s in range(400)]
    events += [event(s, 500.0 + s, tensor_value("epoch_lr", 0.25)) for s in range(3)]
    path = write_events(tmp_path / "train", events)
    chunks = list(tfevents.EventScalarReader(path, block_bytes=2048).chunks())
    assert len(chunks) > 3 and "train/epoch_lr" not in set(chunks[0]["name"])
    data = tfevents.read(path, block_bytes=2048)
    assert data.scalars["name"].tolist() == ["train/batch_loss"] * 400 + ["train/epoch_lr"] * 3
    assert str(data.scalars["name"].dtype) == "string"
    assert frame_points(data.scalars) == reference_points(path)


def test_tables_stream_into_one_parquet_file(tmp_path):
    """Arrow chunks whose name dictionary grows still share one schema for ParquetWriter."""
    import pyarrow.parquet as pq

    events = [event(s, 1.0 + s, tensor_value("batch_loss", s / 8)) for s in range(300)]
    events += [event(e, 900.0 + e, tensor_value("epoch_learning_rate", 0.125)) for e in range(3)]
    path = write_events(tmp_path / "train", events)
    output = tmp_path / "out.parquet"
    writer = None
    for table in tfevents.EventScalarReader(path, block_bytes=2048).tables():
        if writer is None:
            writer = pq.ParquetWriter(output, table.schema, use_dictionary=list(tfevents.DICTIONARY_COLUMNS))
        writer.write_table(table)
    writer.close()
    back = pq.read_table(output).to_pandas()
    assert len(back) == 303
    assert frame_points(back) == reference_points(path)
    assert back["epoch"].isna().sum() == 300 and back["epoch"].dropna().tolist() == [0, 1, 2]


# --- the Keras model summary (tag "keras"): optimizer as compiled, compile settings -------------


def keras_model_value(text: str | bytes):
    """What Keras' TensorBoard callback writes: ``model.to_json()`` as a DT_STRING tensor."""
    from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2

    raw = text.encode() if isinstance(text, str) else text
    shape = tensor_shape_pb2.TensorShapeProto()
    tensor = tensor_pb2.TensorProto(dtype=7, tensor_shape=shape, string_val=[raw])
    plugin = summary_pb2.SummaryMetadata.PluginData(plugin_name="graph_keras_model", content=b"1")
    return summary_pb2.Summary.Value(
        tag="keras", tensor=tensor, metadata=summary_pb2.SummaryMetadata(plugin_data=plugin)
    )


K3_SCHEDULE = {
    "module": "keras.optimizers.schedules",
    "class_name": "ExponentialDecay",
    "config": {"initial_learning_rate": 0.05, "decay_steps": 40, "decay_rate": 0.8, "staircase": False},
    "registered_name": None,
}


def k3_model_json(jit_compile, learning_rate=K3_SCHEDULE, steps_per_execution=1) -> str:
    import json

    optimizer = {
        "module": "keras.optimizers",
        "class_name": "SGD",
        "config": {"name": "sgd", "learning_rate": learning_rate, "momentum": 0.0, "loss_scale_factor": None},
        "registered_name": None,
    }
    return json.dumps({
        "module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": []},
        "registered_name": None, "build_config": {"input_shape": [None, 4]},
        "compile_config": {
            "optimizer": optimizer, "loss": "mse", "loss_weights": None, "metrics": None,
            "weighted_metrics": None, "run_eagerly": False,
            "steps_per_execution": steps_per_execution, "jit_compile": jit_compile,
        },
    })


def test_keras3_model_summary_gives_the_compiled_optimizer_and_settings(tmp_path):
    events = [event(0, 1.0, keras_model_value(k3_model_json(True, steps_per_execution=4)))]
    events += [event(e, 2.0 + e, tensor_value("epoch_learning_rate", 0.05)) for e in range(3)]
    path = write_events(tmp_path / "logs" / "train", events)
    data = tfevents.read(path)
    assert data.keras == "3" and data.warnings == []
    assert data.optimizer_stage == "initial"
    assert data.optimizer["class_name"] == "SGD" and data.optimizer["module"] == "keras.optimizers"
    schedule = data.optimizer["config"]["learning_rate"]
    assert schedule["class_name"] == "ExponentialDecay" and schedule["config"] == K3_SCHEDULE["config"]
    assert data.compile_config["jit_compile"] is True
    assert data.compile_config["steps_per_execution"] == 4
    assert "optimizer" not in data.compile_config
    # the summary is not a point, and the points are the reference's
    assert frame_points(data.scalars) == reference_points(path)
    assert data.scalars["name"].tolist() == ["train/epoch_learning_rate"] * 3


def test_model_summary_is_read_with_a_tag_filter_and_from_the_reader(tmp_path):
    path = write_events(tmp_path / "train", [
        event(0, 1.0, keras_model_value(k3_model_json(False, learning_rate=0.0010000000474974513))),
        event(0, 2.0, tensor_value("epoch_learning_rate", 0.001)),
    ])
    data = tfevents.read(path, tags=tfevents.lr_tags)
    assert data.compile_config["jit_compile"] is False
    assert data.optimizer["config"]["learning_rate"] == 0.0010000000474974513
    reader = tfevents.EventScalarReader(path, progress=False)
    assert sum(len(chunk) for chunk in reader.chunks()) == 1
    assert reader.model_json.compile_config["jit_compile"] is False and reader.keras == "3"


def test_only_the_first_model_summary_of_a_file_is_used(tmp_path):
    path = write_events(tmp_path / "train", [
        event(0, 1.0, keras_model_value(k3_model_json(True, learning_rate=0.1))),
        event(0, 9.0, keras_model_value(k3_model_json(False, learning_rate=0.05))),
    ])
    data = tfevents.read(path)
    assert data.optimizer["config"]["learning_rate"] == 0.1 and data.compile_config["jit_compile"] is True


def test_keras2_model_summary_names_the_backend_but_no_optimizer(tmp_path):
    import json

    text = json.dumps({"class_name": "Sequential", "config": {"layers": []},
                       "keras_version": "2.15.0", "backend": "tensorflow"})
    data = tfevents.read(write_events(tmp_path / "train", [event(0, 1.0, keras_model_value(text))]))
    assert (data.keras, data.backend) == ("2", "tensorflow")
    assert data.optimizer is None and data.optimizer_stage is None and data.compile_config == {}
    assert data.warnings == []


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"module": "keras", "compile_config": {"jit_compile": tr', "not valid JSON"),
        (b"\xff\xfe not json", "not valid JSON"),
        ('["a", "list"]', "not a JSON object"),
        ('{"module": "keras", "registered_name": null, "compile_config": 3}', "compile_config"),
    ],
)
def test_malformed_model_summary_is_a_warning_and_the_points_are_kept(tmp_path, text, problem):
    path = write_events(tmp_path / "train", [
        event(0, 1.0, keras_model_value(text)),
        event(0, 2.0, tensor_value("epoch_learning_rate", 0.25)),
    ])
    data = tfevents.read(path)
    assert len(data.scalars) == 1 and data.scalars["value"].tolist() == [0.25]
    assert data.optimizer is None and data.compile_config == {}
    assert len(data.warnings) == 1 and problem in data.warnings[0] and f"{path}:keras" in data.warnings[0]


def _fixture_model_json(path: str) -> dict | None:
    """The model JSON of a fixture event file, read with tensorboard's own loader."""
    import json

    from tensorboard.backend.event_processing import event_file_loader

    for loaded in event_file_loader.LegacyEventFileLoader(path).Load():
        for value in loaded.summary.value:
            if value.metadata.plugin_data.plugin_name == "graph_keras_model":
                return json.loads(value.tensor.string_val[0])
    return None


TRAIN_EVENT_FILES = [p for p in FIXTURE_EVENT_FILES if "/tb/train/" in p]


@pytest.mark.parametrize("path", TRAIN_EVENT_FILES, ids=lambda p: Path(p).parts[-4])
def test_fixture_model_summaries(path):
    expected = _fixture_model_json(path)
    assert expected is not None  # write_graph=True is the default: every train file has one
    data = tfevents.read(Path(path), tags=tfevents.lr_tags)
    assert data.warnings == []
    compiled = expected.get("compile_config")
    if compiled is None:  # Keras 2: the architecture only
        assert data.keras == "2" and data.backend == expected["backend"]
        assert data.optimizer is None and data.compile_config == {}
        return
    assert data.keras == "3" and data.optimizer_stage == "initial"
    assert data.compile_config["jit_compile"] is compiled["jit_compile"]
    assert data.compile_config["steps_per_execution"] == compiled["steps_per_execution"]
    optimizer = compiled["optimizer"]
    assert data.optimizer["class_name"] == optimizer["class_name"]
    assert data.optimizer["module"] == optimizer["module"]
    config, ours_config = optimizer["config"], data.optimizer["config"]
    if "inner_optimizer" in config:  # LossScaleOptimizer: the wrapped optimizer holds the lr
        config, ours_config = config["inner_optimizer"]["config"], ours_config["inner_optimizer"]["config"]
    lr = config["learning_rate"]
    ours = ours_config["learning_rate"]
    if isinstance(lr, dict):
        assert (ours["class_name"], ours["config"]) == (lr["class_name"], lr["config"])
    else:
        assert ours == lr


def test_fixture_jit_compile_tells_the_jax_runs():
    """The resolved jit_compile is True exactly on the runs whose train step XLA compiled."""
    import json

    for path in TRAIN_EVENT_FILES:
        run = Path(path).parts[-4]
        meta = json.loads((ROOT / "fixtures/expected" / run / "run.json").read_text())
        data = tfevents.read(Path(path), tags=tfevents.lr_tags)
        if data.keras == "3":
            # JAX's default, or asked for on TensorFlow (jit_compile=True in run.json)
            compiled = meta["backend"] == "jax" or meta.get("jit_compile") is True
            assert data.compile_config["jit_compile"] is compiled, run
