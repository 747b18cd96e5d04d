"""`mikeyshark dissect` with tshark's habits: -r, -c, -Y, -T fields -e / -E, -T json; and the
usage errors, each one line (a filter also with its caret) on stderr and exit 2. Expected
values are the plain_msrp vector's, stated by hand (tests/vectors/README.md)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.support.dissect import Result
from tests.support.paths import VECTORS

MSRP = str(VECTORS / "app" / "plain_msrp.pcap")


def test_r_is_the_capture(dissect: Callable[..., Result]) -> None:
    assert dissect("-r", MSRP).stdout == dissect(MSRP).stdout
    assert len(dissect("-r", MSRP).stdout.splitlines()) == 8


def test_c_reads_only_n_frames(dissect: Callable[..., Result]) -> None:
    r = dissect(MSRP, "-c", "4")
    assert r.returncode == 0
    assert [ln.split()[0] for ln in r.stdout.splitlines()] == ["1", "2", "3", "4"]
    assert "MSRP" in r.stdout.splitlines()[3]


def test_display_filter_and_fields(dissect: Callable[..., Result]) -> None:
    r = dissect(MSRP, "-Y", "msrp", "-T", "fields", "-e", "frame.number", "-e", "msrp.method")
    assert r.stdout == "4\tSEND\n5\t\n"
    r = dissect(
        MSRP, "-Y", "msrp", "-T", "fields", "-e", "msrp.transaction.id", "-e", "tcp.port",
        "-E", "separator=;", "-E", "quote=d", "-E", "aggregator=/s",
    )  # fmt: skip
    assert r.stdout == '"a786hjs2";"50000 2855"\n"a786hjs2";"2855 50000"\n'


def test_json_like_tshark(dissect: Callable[..., Result]) -> None:
    r = dissect(MSRP, "-Y", "msrp.method", "-T", "json")
    (packet,) = json.loads(r.stdout)
    layers = packet["_source"]["layers"]
    assert layers["frame"]["frame.number"] == "4"
    assert layers["tcp"]["tcp.port"] == ["50000", "2855"]
    assert layers["msrp"]["msrp.method"] == "SEND"
    assert layers["msrp"]["msrp.transaction.id"] == "a786hjs2"
    r = dissect(MSRP, "-Y", "msrp", "-T", "json", "-e", "msrp.status.code")
    assert [p["_source"]["layers"] for p in json.loads(r.stdout)] == [
        {},
        {"msrp.status.code": ["200"]},
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-Y", "msrp.nothing"], '"msrp.nothing" is neither a field nor a protocol name.'),
        (["-T", "fields"], "-T fields needs at least one -e FIELD"),
        (["-T", "fields", "-e", "msrp.nothing"], "Some fields aren't valid: msrp.nothing"),
        (["-e", "frame.number"], "-e and -E go with -T fields or -T json"),
        (["-T", "fields", "-e", "frame.number", "-E", "colour=y"], "-E colour=y"),
        (["-c", "0"], "-c needs a count of 1 or more"),
        (["-r", str(VECTORS / "app" / "plain_bfcp.pcap")], "one capture: CAPTURE or -r FILE"),
    ],
)
def test_usage_errors(dissect: Callable[..., Result], args: list[str], says: str) -> None:
    r = dissect(MSRP, *args)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("mikeyshark dissect: ") and says in r.stderr


def test_filter_error_shows_a_caret(dissect: Callable[..., Result]) -> None:
    r = dissect(MSRP, "-Y", "msrp && && tcp")
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        'mikeyshark dissect: -Y: "&&" was unexpected in this context.',
        "    msrp && && tcp",
        "            ^~",
    ]


def test_detail_json_names_the_fields(dissect: Callable[..., Result]) -> None:
    r = dissect(MSRP, "-V", "--json", "-Y", "msrp.method")
    (frame,) = [json.loads(ln) for ln in r.stdout.splitlines()]
    by_label = {n["label"].split(",")[0]: n.get("fields", {}) for n in frame["layers"]}
    assert by_label["Transmission Control Protocol"]["tcp.stream"] == "0"
    assert by_label["Message Session Relay Protocol"]["msrp.transaction.id"] == "a786hjs2"
    assert by_label["Message Session Relay Protocol"]["msrp.method"] == "SEND"
