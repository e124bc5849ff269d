"""tools/other_makes.py: the CSV makes the defaults are checked on read through the generic CSV loader with the
flags the tool prints, hit their positive rates, and plant what their truth files say."""

import contextlib
import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aim.data.formats import read_csv

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("other_makes", ROOT / "tools" / "other_makes.py")
other_makes = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(other_makes)
RATES = {"null": 0.10, "table": 0.05, "numeric": 0.12, "wide": 0.03}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    out = tmp_path_factory.mktemp("makes")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert other_makes.main(["--out", str(out), "--rows", "20000"]) == 0
    flags = {line.split(":")[0]: line.split("; ")[1] for line in buf.getvalue().splitlines()}
    return out, flags


@pytest.mark.parametrize("make", other_makes.MAKES)
def test_each_make_reads_with_the_printed_flags_at_its_positive_rate(made, make):
    out, flags = made
    words = flags[make].split()
    arg = dict(zip(words[::2], words[1::2]))
    assert arg["--dataset"] == "csv" and arg["--data"] == str(out / f"{make}.csv")
    numeric = arg["--numeric"].split(",") if "--numeric" in arg else []
    fields, chunks = read_csv(arg["--data"], arg["--label"], arg["--categorical"].split(","), numeric)
    labels = np.concatenate([chunk.y for chunk in chunks])
    frame = pd.read_csv(arg["--data"])
    assert len(fields) == len(frame.columns) - 1 and len(labels) == len(frame) == 20_000
    assert abs(labels.mean() - RATES[make]) < 0.01
    planted = json.loads((out / f"{make}.truth.json").read_text())["planted_pairs"]
    assert all(len(p) == 2 and set(p) <= set(frame.columns) for p in planted)
    assert (make == "null") == (planted == [])


def test_a_planted_table_pair_carries_signal_its_fields_alone_do_not():
    """The ``table`` make's pairs are full-rank tables: the pair's cell means spread the clicks far more than
    either field's own means do (the interaction is real, and not a sum of first-order effects)."""
    rng = np.random.default_rng(0)
    frame, _, _, planted = other_makes.make_table(rng, 200_000)
    a, b = planted[0]

    def spread(keys) -> float:
        means = frame.groupby(keys)["click"].agg(["mean", "size"])
        means = means[means["size"] >= 30]
        return float(np.average((means["mean"] - frame["click"].mean()) ** 2, weights=means["size"]))

    assert spread([a, b]) > 2 * (spread(a) + spread(b))
