import concurrent.futures as cf
import csv
import json

import pytest

import virtiosim
from virtiosim import Config


def configs():
    return [Config(ring=r, queue_size=q) for r in ("packed", "split") for q in (64, 256)]


def check(res):
    assert len(res) == 4
    assert [(r["ring"], r["queue_size"]) for r in res] == [("packed", 64), ("packed", 256), ("split", 64),
                                                           ("split", 256)]
    for r in res:
        assert r["result"] == "ok" and r["error"] == "" and r["mpps"] > 0
        assert r["config.queue_size"] == r["queue_size"] and r["packets.tx"] == 1000
        assert r["kicks_per_packet"] == r["kicks.per_packet"]


def test_sweep_two_workers(tmp_path):
    res = virtiosim.sweep(configs(), max_workers=2, packets=1000, progress=True)
    check(res)
    assert res.swept == ["ring", "queue_size"]
    res.to_csv(tmp_path / "s.csv")
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert [r["queue_size"] for r in rows] == ["64", "256", "64", "256"]
    res.to_json(tmp_path / "s.json")
    assert json.load(open(tmp_path / "s.json"))[3]["ring"] == "split"
    table = res.table()
    assert table.splitlines()[0].split()[:3] == ["ring", "queue_size", "mpps"]
    assert len(table.splitlines()) == 6


def test_sweep_on_a_process_pool():
    with cf.ProcessPoolExecutor(max_workers=2) as ex:
        check(virtiosim.sweep(configs(), executor=ex, packets=1000, progress=False))


def test_sweep_records_failures_and_refuses_bad_configs():
    res = virtiosim.sweep([{"driver.offered_pps": 1000, "stall_timeout_us": 1}, {}], packets=200, progress=False)
    assert res[0]["result"] == "failed" and "stall" in res[0]["error"]
    assert res[1]["result"] == "ok"
    with pytest.raises(virtiosim.ConfigError):
        virtiosim.sweep([{"ring": "circular"}], progress=False)


def test_sweep_on_a_local_dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        check(virtiosim.sweep(configs(), executor=client.get_executor(), packets=1000, progress=False))
