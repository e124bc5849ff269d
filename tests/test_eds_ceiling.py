"""tools/eds_ceiling.py: the bound on what EDS can cut, per shipped study, and a clear error for a foreign folder."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("eds_ceiling", ROOT / "tools" / "eds_ceiling.py")
eds_ceiling = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(eds_ceiling)
STUDY = ROOT / "cached_runs" / "study__movielens__20261204T034919"


@pytest.mark.skipif(not STUDY.is_dir(), reason="the shipped MovieLens-100k study is not in cached_runs/")
def test_the_ceiling_lies_between_what_eds_cut_and_the_whole_model(capsys):
    row = eds_ceiling.ceiling_row(STUDY)
    assert row["seeds"] == 5 and row["dataset"] == "movielens"
    assert row["floor"] < row["aim"] < row["aim-eds"]  # EDS cut something, and never below its floor
    assert eds_ceiling.main([str(STUDY)]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert f"**{row['aim-eds'] / row['floor']:.2f}×**" in line and "400-400-400" in line


def test_a_folder_that_is_no_study_is_named_with_exit_2(tmp_path, capsys):
    (tmp_path / "study.json").write_text("{not json")
    assert eds_ceiling.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "not a readable study" in err
