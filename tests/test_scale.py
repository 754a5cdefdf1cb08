"""Many runs: streamed ``--format jsonl``, one run's failure kept to that run, ``--scheduler`` on a
real dask.distributed cluster, and run folders in an S3-API store (moto's server on 127.0.0.1)."""
from __future__ import annotations

import json
import shutil
import socket
import sys
from pathlib import Path

import pytest

from tests.conftest import RUNS, run_lraudit

#: a few quick, varied runs (TF2 events + console, Keras 2 decay, Keras 3 schedule)
SAMPLE = ("k2_adam_decay_plateau", "k3_cosine_warmup_probe", "k2_lrscheduler_halving")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A collection of run folders at two depths, as teams keep them."""
    root = tmp_path_factory.mktemp("many")
    for index, name in enumerate(SAMPLE):
        shutil.copytree(RUNS / name, root / ("nested" if index == 2 else "") / name)
    return root


def _by_path(lines: str, old: str = "", new: str = "") -> dict[str, dict]:
    runs = [json.loads(line) for line in lines.splitlines() if line.strip()]
    return {run["path"].replace(old, new): json.loads(json.dumps(run).replace(old, new)) for run in runs}


@pytest.fixture(scope="module")
def local_runs(tree) -> dict[str, dict]:
    result = run_lraudit("audit", tree, "--format", "jsonl", "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    return _by_path(result.stdout)


def test_jsonl_is_one_report_run_per_line(tree, local_runs):
    report = run_lraudit("audit", tree, "--format", "json", "--fail-on", "never")
    runs = {run["path"]: run for run in json.loads(report.stdout)["runs"]}
    assert len(local_runs) == len(SAMPLE)
    assert local_runs == runs


def test_a_failing_run_is_reported_and_the_others_go_on(tree, local_runs, monkeypatch):
    from lraudit.scale import engine

    real = engine._audit_plan

    def flaky(plan, options, codes):
        if plan.root.name == SAMPLE[0]:
            raise OSError("disk read error")
        return real(plan, options, codes)

    monkeypatch.setattr(engine, "_audit_plan", flaky)
    result = run_lraudit("audit", tree, "--format", "jsonl", "--fail-on", "never")
    assert result.returncode == 0
    runs = _by_path(result.stdout)
    failed = [run for run in runs.values() if "error" in run]
    assert len(failed) == 1 and "disk read error" in failed[0]["error"]
    assert f"{SAMPLE[0]}: OSError: disk read error" in result.stderr
    assert {k: v for k, v in runs.items() if "error" not in v} == {
        k: v for k, v in local_runs.items() if SAMPLE[0] not in k
    }


def test_exit_2_only_when_no_run_could_be_audited(tree, monkeypatch):
    from lraudit.scale import engine

    def broken(plan, options, codes):
        raise OSError("unreadable")

    monkeypatch.setattr(engine, "_audit_plan", broken)
    result = run_lraudit("audit", tree)
    assert result.returncode == 2
    assert result.stderr.count("unreadable") == len(SAMPLE)
    assert "no run could be audited" in result.stderr


def test_missing_extra_is_one_line(tree, monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    for args in (["s3://bucket/runs"], [str(tree), "--scheduler", "tcp://127.0.0.1:8786"]):
        result = run_lraudit("audit", *args)
        assert result.returncode == 2
        assert "pip install 'lraudit[scale]'" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_jobs_give_the_same_runs(tree, local_runs):
    result = run_lraudit("audit", tree, "--format", "jsonl", "--jobs", "2", "--fail-on", "never")
    assert _by_path(result.stdout) == local_runs


@pytest.mark.slow
def test_a_worker_that_dies_loses_only_its_run(tree, local_runs, monkeypatch):
    import multiprocessing
    import os

    from lraudit.scale import engine

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the patched function reaches the workers only when they are forked")
    real = engine._audit_plan

    def killer(plan, options, codes):
        if plan.root.name == SAMPLE[0]:
            os._exit(9)  # as the kernel's OOM killer would end it
        return real(plan, options, codes)

    monkeypatch.setattr(engine, "_audit_plan", killer)
    result = run_lraudit("audit", tree, "--format", "jsonl", "--jobs", "2", "--fail-on", "never")
    runs = _by_path(result.stdout)
    assert [run["path"] for run in runs.values() if "error" in run] == [str(tree / SAMPLE[0])]
    assert {k: v for k, v in runs.items() if "error" not in v} == {
        k: v for k, v in local_runs.items() if SAMPLE[0] not in k
    }


# ---- dask.distributed -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, host="127.0.0.1", protocol="tcp",
        dashboard_address=None,
    ) as local:
        yield local


@pytest.mark.slow  # starts a server
def test_scheduler_gives_the_same_results(tree, local_runs, cluster):
    result = run_lraudit(
        "audit", tree, "--format", "jsonl", "--scheduler", cluster.scheduler_address, "--fail-on", "never"
    )
    assert result.returncode == 0, result.stderr
    assert _by_path(result.stdout) == local_runs


@pytest.mark.slow  # waits for the connection timeout
def test_scheduler_not_there_is_one_line(tree):
    pytest.importorskip("distributed")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_lraudit("audit", tree, "--scheduler", f"tcp://127.0.0.1:{port}")
    assert result.returncode == 2
    assert f"tcp://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


# ---- S3 (moto's server) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_bucket(tree):
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    import boto3

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="runs")
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                client.upload_file(str(path), "runs", f"team/{path.relative_to(tree).as_posix()}")
        yield client
    server.stop()


@pytest.mark.slow  # starts a server
def test_s3_folder_audits_like_the_local_one(tree, local_runs, s3_bucket):
    before = s3_bucket.list_objects_v2(Bucket="runs")["KeyCount"]
    result = run_lraudit("audit", "s3://runs/team", "--format", "jsonl", "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    assert _by_path(result.stdout, "s3://runs/team", str(tree)) == local_runs
    assert s3_bucket.list_objects_v2(Bucket="runs")["KeyCount"] == before  # nothing written


def test_s3_one_run_and_a_dask_cluster(tree, local_runs, s3_bucket, cluster):
    name = f"{tree}/{SAMPLE[1]}"
    result = run_lraudit("audit", f"s3://runs/team/{SAMPLE[1]}/", "--format", "jsonl",
                         "--scheduler", cluster.scheduler_address, "--fail-on", "never")
    runs = _by_path(result.stdout, "s3://runs/team", str(tree))
    assert runs == {name: local_runs[name]}


def test_missing_bucket_is_one_line(s3_bucket):
    result = run_lraudit("audit", "s3://no-such-bucket/runs")
    assert result.returncode == 2
    assert "s3://no-such-bucket/runs" in result.stderr
    assert "Traceback" not in result.stderr
