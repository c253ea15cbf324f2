"""The simulated dcgm-exporter writes label values escaped as the text format requires: a
hostname with quotes, backslashes or a newline reads back as itself, one series per GPU."""

from __future__ import annotations

from perfops.sim.dcgm import exposition, new_gpu
from perfops.sim.profiles import load_profiles
from perfops.telemetry.exposition import parse, parse_labels


def test_a_hostile_hostname_reads_back_as_itself() -> None:
    hostname = 'node"} 1\nevil{a="\\'
    profile = next(iter(load_profiles().gpus.values()))
    text = exposition([new_gpu(i, profile, hostname, seed=1) for i in range(2)])
    parsed = parse(text)
    hosts = {parse_labels(labels)["hostname"] for labels in parsed.label_texts}
    assert hosts == {hostname}
    assert "evil" not in parsed.names
