import pickle
import subprocess

import pytest

import virtiosim
from virtiosim import Config, ConfigError


def test_params_is_the_simulators_table():
    ps = virtiosim.params()
    keys = [p["key"] for p in ps]
    assert keys[:4] == ["ring", "queue_size", "queue_pairs", "packets"]
    assert "memory.dram_ns" in keys and "vhost.busy_poll_ns" in keys
    q = next(p for p in ps if p["key"] == "queue_size")
    assert q["unit"] == "entries" and q["default"] == "256" and q["accepted"] == "1..32768"


def test_defaults_keys_and_info():
    c = Config()
    assert c["ring"] == "packed" and c["queue_size"] == 256 and c["event_idx"] is True
    assert c["memory.dram_ns"] == 90
    assert c.keys() == [p["key"] for p in virtiosim.params()]
    assert c.info("memory.dram_ns")["unit"] == "ns"
    assert c.defaults()["packets"] == 100000
    assert c.changed() == {}
    assert c.to_dict()["ordering"] == "tso"
    assert "ring" in c and "nope" not in c and c.get("nope", 5) == 5


def test_set_values_and_arguments(tmp_path):
    c = Config({"memory.dram_ns": 80}, ring="split", queue_size=512, vhost__busy_poll_ns=20000, event_idx=False)
    c["seed"] = 3
    c.set("packet_bytes", "128").update(in_order=1)
    assert c["memory.dram_ns"] == 80 and c["vhost.busy_poll_ns"] == 20000
    assert c["event_idx"] is False and c["in_order"] is True and c["packet_bytes"] == 128
    assert "--set" in c.args() and "event_idx=0" in c.args() and "ring=split" in c.args()
    d = c.copy(queue_size=1024)
    assert d["queue_size"] == 1024 and c["queue_size"] == 512 and d["ring"] == "split"
    assert pickle.loads(pickle.dumps(c)) == c
    assert "vhost__busy_poll_ns=20000" in repr(c)
    assert '"ring": "split"' in c.to_json(tmp_path / "c.json")
    assert (tmp_path / "c.json").read_text().startswith("{")


def test_renamed_keys_still_work_and_land_on_the_new_key():
    c = Config(fault__lose_irq_every=3, **{"pci.vhost_doorbell_ns": 2600})
    assert c["fault.lose_interrupt_every"] == 3 and c["fault.lose_irq_every"] == 3
    assert c["pci.vhost_kick_ns"] == 2600
    assert c.changed() == {"fault.lose_interrupt_every": 3, "pci.vhost_kick_ns": 2600}
    assert "fault.lose_irq_every" in c and "fault.lose_irq_every" not in c.keys()


def test_unknown_key_names_it_and_suggests():
    with pytest.raises(ConfigError) as e:
        Config(queue_sise=8)
    assert e.value.key == "queue_sise"
    assert "unknown key 'queue_sise'" in str(e.value) and "queue_size" in str(e.value)


@pytest.mark.parametrize("key,value,accepted", [
    ("ring", "ring", "packed|split"),
    ("ordering", "strong", "sc|tso|weak"),
    ("event_idx", "yes", "0|1"),
    ("queue_size", 40000, "1..32768"),
    ("memory.dram_ns", -1, "0..1e+12"),
    ("packets", "many", "1..1e+12"),
])
def test_bad_value_names_key_and_accepted(key, value, accepted):
    with pytest.raises(ConfigError) as e:
        Config({key: value})
    assert e.value.key == key
    assert f"'{key}'" in str(e.value) and accepted in str(e.value)


def test_cross_parameter_rule_comes_from_the_simulator_when_made():
    # The simulator's own message (virtiosim run --error-json), at construction.
    with pytest.raises(ConfigError) as e:
        Config(ring="split", queue_size=3)
    assert e.value.key == "queue_size"
    assert str(e.value) == "bad configuration for 'queue_size': 3 is not a power of two, which a split ring needs"
    refused = subprocess.run([virtiosim.simulator(), "run", "--dry-run", "--set", "ring=split", "--set",
                              "queue_size=3"], capture_output=True, text=True)
    assert refused.returncode == 2 and f"virtiosim run: {e.value}\n" in refused.stderr
    with pytest.raises(ConfigError) as e:
        virtiosim.run(ring="split", queue_size=100, packets=10)
    assert e.value.key == "queue_size" and "power of two" in str(e.value)


def test_cross_parameter_rule_when_set_keeps_the_values_before():
    c = Config(ring="split", queue_size=512)
    with pytest.raises(ConfigError) as e:
        c["queue_size"] = 100
    assert e.value.key == "queue_size"
    assert c["queue_size"] == 512
    with pytest.raises(ConfigError) as e:
        c["path"] = "pcie"  # needs metadata=dma
    assert e.value.key == "metadata" and c["path"] == "vhost"
    c.update(path="pcie", metadata="dma")  # together
    assert c["path"] == "pcie" and c["metadata"] == "dma"


@pytest.mark.parametrize("typo", ["queue_sise", "fault.drop_barrier", "memory.dram", "vhost.busypoll_ns", "zzz"])
def test_suggestions_are_the_command_lines(typo):
    # One rule in both languages (support/did_you_mean.h, config._near).
    with pytest.raises(ConfigError) as e:
        Config({typo: 1})
    cli = subprocess.run([virtiosim.simulator(), "run", "--dry-run", "--set", f"{typo}=1"],
                         capture_output=True, text=True).stderr
    python_hint = str(e.value).partition("; did you mean ")[2].partition("?")[0]
    cli_hint = cli.partition("; did you mean ")[2].partition("?")[0]
    assert python_hint == cli_hint


def test_name_lists_take_one_name_several_or_a_list():
    c = Config({"fault.drop_barriers": "driver_publish"})
    assert c["fault.drop_barriers"] == "driver_publish"
    c["fault.drop_barriers"] = ["driver_publish", "device_avail_read"]
    assert c["fault.drop_barriers"] == "driver_publish,device_avail_read"
    assert c.args() == ["--set", "fault.drop_barriers=driver_publish,device_avail_read"]
    c["monitor.disable"] = "P13.avail_body, P3"
    assert c["monitor.disable"] == "P13.avail_body,P3"
    assert Config()["fault.drop_barriers"] == ""
    with pytest.raises(ConfigError) as e:
        Config({"fault.drop_barriers": "driver_publish,no_such_barrier"})
    assert "no_such_barrier" in str(e.value) and e.value.key == "fault.drop_barriers"
