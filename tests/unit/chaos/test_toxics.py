"""Toxic specs: chosen by kind, validated once, with errors that name the field and the fix."""

from __future__ import annotations

import pytest

from perfops.chaos import TOXIC_KINDS, InvalidToxic, parse_toxic, parse_toxic_arg
from perfops.chaos.toxics import HttpError, Latency, Slicer


def test_unknown_kind_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidToxic) as err:
        parse_toxic({"kind": "lag", "latency": 10})
    assert err.value.field == "kind"
    assert "'lag'" in str(err.value)
    for kind in TOXIC_KINDS:
        assert kind in str(err.value)


def test_missing_kind() -> None:
    with pytest.raises(InvalidToxic, match="no kind") as err:
        parse_toxic({"latency": 10})
    assert err.value.field == "kind"


def test_bad_value_names_the_field_and_the_value() -> None:
    with pytest.raises(InvalidToxic) as err:
        parse_toxic({"kind": "latency", "latency": -5})
    assert err.value.field == "latency"
    assert "latency: Input should be greater than or equal to 0 (got -5)" in str(err.value)


def test_every_problem_is_listed() -> None:
    with pytest.raises(InvalidToxic) as err:
        parse_toxic({"kind": "http_error", "status": 200, "rate": 2})
    assert "status:" in str(err.value)
    assert "rate:" in str(err.value)


def test_unknown_field_lists_the_fields_of_the_kind() -> None:
    with pytest.raises(InvalidToxic) as err:
        parse_toxic({"kind": "bandwidth", "rate": 100, "burst": 5})
    assert err.value.field == "burst"
    assert "unknown field 'burst'" in str(err.value)
    assert "rate" in str(err.value)
    assert "toxicity" in str(err.value)


def test_http_toxics_are_drawn_per_request_not_by_toxicity() -> None:
    with pytest.raises(InvalidToxic, match="unknown field 'toxicity'"):
        parse_toxic({"kind": "ttft", "delay": 100, "toxicity": 0.5})


def test_slicer_variation_must_stay_below_the_average() -> None:
    with pytest.raises(InvalidToxic, match=r"size_variation \(10\) must be below average_size"):
        parse_toxic({"kind": "slicer", "average_size": 10, "size_variation": 10})
    assert isinstance(parse_toxic({"kind": "slicer", "average_size": 10}), Slicer)


def test_default_names_follow_toxiproxy() -> None:
    assert parse_toxic({"kind": "latency"}).name == "latency_downstream"
    assert parse_toxic({"kind": "latency", "stream": "upstream"}).name == "latency_upstream"
    assert parse_toxic({"kind": "http_error"}).name == "http_error"
    assert parse_toxic({"kind": "latency", "name": "slow"}).name == "slow"


def test_toxiproxy_shape_is_accepted() -> None:
    spec = parse_toxic(
        {"type": "latency", "stream": "upstream", "toxicity": 0.5, "attributes": {"latency": 7}}
    )
    assert isinstance(spec, Latency)
    assert (spec.latency, spec.stream, spec.toxicity) == (7, "upstream", 0.5)


def test_expires_in_takes_a_duration() -> None:
    assert parse_toxic({"kind": "ttft", "delay": 5, "expires_in": "1m30s"}).expires_in == 90
    assert parse_toxic({"kind": "ttft", "delay": 5, "expires_in": 2.5}).expires_in == 2.5
    with pytest.raises(InvalidToxic, match="not a duration"):
        parse_toxic({"kind": "ttft", "delay": 5, "expires_in": "soon"})
    with pytest.raises(InvalidToxic) as err:
        parse_toxic({"kind": "ttft", "delay": 5, "expires_in": 0})
    assert err.value.field == "expires_in"


def test_cli_form_converts_through_the_same_validation() -> None:
    data = parse_toxic_arg("http_error:status=429, rate=0.25,retry_after=2,expires_in=30s")
    assert data == {
        "kind": "http_error",
        "status": "429",
        "rate": "0.25",
        "retry_after": "2",
        "expires_in": "30s",
    }
    spec = parse_toxic(data)
    assert isinstance(spec, HttpError)
    assert (spec.status, spec.rate, spec.retry_after, spec.expires_in) == (429, 0.25, 2, 30)
    assert parse_toxic_arg("truncate") == {"kind": "truncate"}
    with pytest.raises(InvalidToxic, match="is not key=value"):
        parse_toxic_arg("latency:100")


def test_not_an_object() -> None:
    with pytest.raises(InvalidToxic, match="JSON object, got list"):
        parse_toxic(["latency"])
