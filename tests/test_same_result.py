"""tools/same_result.py: the determinism check of a rebuild says identical for a copy and names a difference."""

import importlib.util
import shutil
from pathlib import Path

import pandas as pd

from aim.runs import TABLES

SPEC = importlib.util.spec_from_file_location("same_result", Path(__file__).resolve().parents[1] / "tools" / "same_result.py")
same_result = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(same_result)


def test_a_copy_is_identical_and_a_changed_alpha_is_named(tiny_runs, tmp_path, capsys):
    a = Path(shutil.copytree(tiny_runs["aim"], tmp_path / "a"))
    b = Path(shutil.copytree(tiny_runs["aim"], tmp_path / "b"))
    history = b / TABLES["history"].file
    df = pd.read_csv(history)
    df["seconds"] += 1.0  # wall-clock columns are ignored
    df.to_csv(history, index=False)
    assert same_result.main([str(a), str(b)]) == 0
    assert "1 of 1 identical" in capsys.readouterr().out
    inter = b / TABLES["interactions"].file
    df = pd.read_csv(inter)
    df.loc[3, "alpha"] += 1e-9
    df.to_csv(inter, index=False)
    assert same_result.main([str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "interactions.csv.alpha: 1 rows differ, first at row 3" in out


def test_a_folder_that_is_neither_run_nor_study_is_an_error(tmp_path, capsys):
    assert same_result.main([str(tmp_path), str(tmp_path)]) == 2
    assert "neither a run" in capsys.readouterr().err
