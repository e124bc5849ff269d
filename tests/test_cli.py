"""The command line, ``python -m aim run | show | datasets``, run as a user runs it: a subprocess from the repo root.

A subprocess costs 4-7 s of CPU (``cmd_run`` imports torch and sklearn before it validates anything), so each
command kind runs once as a subprocess, all started at once by the ``cli`` fixture while the shared tiny runs
are produced (conftest; ``tiny_runs["aim"]`` is itself made by ``python -m aim run``). The remaining checks call
``aim.cli.main`` in process, which is the same code minus the interpreter start.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from aim.config import (
    VARIANTS,
    DataConfig,
    ModelConfig,
    RunConfig,
    SearchConfig,
    SyntheticConfig,
    TrainConfig,
)
from aim.runs import load_run

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("synthetic", "criteo", "avazu", "frappe", "movielens", "csv")
TIMEOUT = 180

# name -> (extra `run` arguments, fragments the error message on stderr must contain)
INVALID = {
    "variant": (["--variant", "nope"], ["variant", "'nope'", *VARIANTS]),
    "max-order": (["--max-order", "5"], ["max_order", "2, 3, 4", "5"]),
    "grda-c": (["--grda-c", "-2"], ["grda_c", ">= 0", "-2"]),
    "grda-cross": (["--grda-cross", "0.1,abc"], ["grda_cross", "0.1,abc"]),
    "embed-dim": (["--embed-dim", "-3"], ["embed_dim", ">= 1", "-3"]),
    "dataset": (["--dataset", "nope"], ["'nope'", *DATASETS]),
    "no-data": (["--dataset", "criteo"], ["--data", "criteo"]),
    "missing-data": (["--dataset", "criteo", "--data", "/no/such/file"], ["--data", "/no/such/file"]),
    "max-order-1": (["--max-order", "1"], ["max_order", "2, 3, 4"]),
    "negative-rows": (["--synthetic-rows", "-5"], ["rows", ">= 100", "-5"]),
    "batch-size": (["--batch-size", "0"], ["batch_size", ">= 1"]),
    "negative-mlp": (["--mlp", "8,-1"], ["mlp", ">= 1"]),
    "embed-grda-c": (["--embed-grda-c", "-0.5"], ["embed_grda_c", ">= 0"]),
    "infinite-lr": (["--lr", "inf"], ["lr", "finite"]),
    "nan-dropout": (["--dropout", "nan"], ["dropout", "finite"]),
    "embedding": (["--embedding", "xx"], ["embedding", "'xx'", "fwe", "se"]),
    "functions": (["--functions", "inner,cubic"], ["functions", "'cubic'", "inner", "vkernel", "skernel", "outer"]),
    "synthetic-with-data": (["--data", "/"], ["--data", "synthetic", "--dataset", "criteo"]),
    "movielens-layout": (["--dataset", "movielens", "--data", "/"], ["--data", "u.data", "ml-100k"]),
    "resume-with-options": (["--resume", "/", "--seed", "3"], ["--resume", "seed"]),
    "threads": (["--threads", "-1"], ["--threads", ">= 0", "-1"]),
}


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.strip()]


class Proc:
    """``python -m aim ARGS`` started in the background from the repo root; ``result()`` waits for it."""

    def __init__(self, args: list[str]):
        # One thread per subprocess: several run at once on 2 cores.
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen([sys.executable, "-m", "aim", *args], cwd=ROOT, env=env, text=True,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._result: Result | None = None

    def result(self) -> Result:
        if self._result is None:
            out, err = self.popen.communicate(timeout=TIMEOUT)
            self._result = Result(self.popen.returncode, out, err)
        return self._result

    def stop(self) -> None:
        if self._result is None:
            if self.popen.poll() is None:
                self.popen.kill()
            self.popen.communicate()


@pytest.fixture(scope="session")  # session: set up before the session fixture tiny_runs, which it overlaps
def cli(tmp_path_factory, tiny_args, request):
    """Starts the independent commands at once, then (while they run) the shared tiny runs, showing the fm run
    as soon as it exists. ``procs[name]``; ``outs[name]``: the --out of a refused run."""
    tmp = tmp_path_factory.mktemp("cli")
    procs: dict[str, Proc] = {}
    outs = {"variant": tmp / "variant" / "out"}
    try:
        procs["variant"] = Proc(["run", *tiny_args, *INVALID["variant"][0], "--out", str(outs["variant"])])
        procs["datasets"] = Proc(["datasets"])
        procs["show-missing"] = Proc(["show", "/no/such/dir"])
        request.getfixturevalue("_aim_cli_proc")  # starts the aim run (conftest)
        fm = request.getfixturevalue("_fm_run")  # the fm run, in this process meanwhile
        procs["show-fm"] = Proc(["show", str(fm), "--json"])
        request.getfixturevalue("tiny_runs")  # waits for the aim run
        yield procs, outs
    finally:
        for proc in procs.values():
            proc.stop()


def _main(argv: list[str], capsys) -> Result:
    from aim.cli import main

    rc = main(argv)
    out, err = capsys.readouterr()
    return Result(rc, out, err)


# -------------------------------------------------------------------------------------------------- run


def test_run_prints_the_run_folder_last(cli, tiny_cli_run, tiny_runs, tiny_config):
    r = tiny_cli_run
    assert r.rc == 0, r.err
    assert "Traceback" not in r.err
    folder = Path(r.lines[-1])
    assert folder == tiny_runs["aim"] and folder.is_dir()
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]
    assert folder.name.startswith("synthetic__aim__seed0__")
    run = load_run(folder)
    assert run.status == "complete"
    assert RunConfig.from_json(run.meta["config"]) == tiny_config("aim")  # the flags map onto the config fields
    assert f"{run.meta['metrics']['test']['auc']:.4f}" in r.out  # the log reports the test AUC
    assert run.meta["threads"] == 1  # --threads 1, recorded


def _check_refused(r: Result, name: str, out: Path) -> None:
    assert r.rc != 0
    assert "Traceback" not in r.err, r.err
    for fragment in INVALID[name][1]:
        assert fragment in r.err, f"{fragment!r} not in stderr: {r.err}"
    assert r.out == "", "work started before the arguments were checked"
    assert not out.exists(), "an output folder was created"


def test_invalid_variant_is_refused_before_any_work(cli):
    procs, outs = cli
    _check_refused(procs["variant"].result(), "variant", outs["variant"])


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_run_arguments_are_refused_before_any_work_in_process(tmp_path, capsys, tiny_args, name):
    out = tmp_path / "out"
    _check_refused(_main(["run", *tiny_args, *INVALID[name][0], "--out", str(out)], capsys), name, out)


def test_out_that_is_a_file_is_a_clean_error(tmp_path, capsys, tiny_args):
    f = tmp_path / "file"
    f.write_text("x")
    r = _main(["run", *tiny_args, "--out", str(f)], capsys)
    assert r.rc != 0 and "--out" in r.err and str(f) in r.err


@pytest.mark.parametrize(
    ("args", "field"),
    [(["--seed", "-1"], "seed"), (["--synthetic-planted-pairs", "50"], "planted")],
    ids=["negative-seed", "too-many-planted-pairs"],
)
def test_unvalidated_arguments_are_refused_cleanly(tmp_path, capsys, tiny_args, args, field):
    r = _main(["run", *tiny_args, *args, "--out", str(tmp_path / "out")], capsys)
    assert r.rc != 0 and field in r.err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_list_option_message(tmp_path, capsys):
    """A list reaches the config as text and is refused there, like a bad list in a run.json."""
    r = _main(["run", "--mlp", "abc", "--out", str(tmp_path / "out")], capsys)
    assert r.rc == 2 and "mlp='abc' is not valid" in r.err and "comma list of integers" in r.err
    assert "<lambda>" not in r.err and "Traceback" not in r.err and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------- show


def _check_summary(s: dict, variant: str, folder: Path) -> None:
    assert s["status"] == "complete" and s["error"] is None
    assert s["variant"] == variant and s["dataset"] == "synthetic"
    assert s["id"] == folder.name
    meta = load_run(folder).meta
    for key in ("auc", "logloss"):
        assert s["metrics"]["test"][key] == meta["metrics"]["test"][key]
    assert 0.0 <= s["metrics"]["test"]["auc"] <= 1.0 and s["metrics"]["test"]["logloss"] > 0
    o2 = s["interactions"]["order2"]
    assert o2["total"] == 10 and 0 <= o2["kept"] <= o2["total"]
    p = s["params"]
    assert isinstance(p["before_eds"], int) and isinstance(p["after_eds"], int)
    assert 0 < p["after_eds"] <= p["before_eds"]
    assert "planted" in s


def test_show_json_of_an_aim_run(tiny_runs, capsys):
    r = _main(["show", str(tiny_runs["aim"]), "--json"], capsys)  # in process: the subprocess path is tested below
    assert r.rc == 0, r.err
    s = json.loads(r.out)
    _check_summary(s, "aim", tiny_runs["aim"])
    planted = s["planted"]
    assert planted is not None
    assert 0.0 <= planted["precision"] <= 1.0 and 0.0 <= planted["recall"] <= 1.0
    assert planted["planted"] == 2


def test_show_json_of_an_fm_run(cli, tiny_runs):
    procs, _ = cli
    r = procs["show-fm"].result()
    assert r.rc == 0, r.err
    s = json.loads(r.out)
    _check_summary(s, "fm", tiny_runs["fm"])
    assert s["interactions"]["order2"]["kept"] == 10  # a baseline keeps every pair
    assert s["params"]["before_eds"] == s["params"]["after_eds"]
    if s["planted"] is not None:
        assert 0.0 <= s["planted"]["precision"] <= 1.0


def test_show_of_a_missing_folder_names_it(cli):
    procs, _ = cli
    r = procs["show-missing"].result()
    assert r.rc != 0
    assert "Traceback" not in r.err and "/no/such/dir" in r.err
    assert r.out == ""


@pytest.mark.parametrize("variant", ["aim", "fm"])
def test_show_text_summary(tiny_runs, capsys, variant):
    r = _main(["show", str(tiny_runs[variant])], capsys)
    assert r.rc == 0
    assert r.lines[0].startswith(f"{tiny_runs[variant].name}  [complete]  synthetic / {variant} / seed 0")
    assert "AUC" in r.out and "order-2 interactions kept" in r.out


def test_show_of_a_corrupt_run_is_a_clean_error(tiny_runs, tmp_path, capsys):
    folder = Path(shutil.copytree(tiny_runs["fm"], tmp_path / "run"))
    (folder / "run.json").write_text("{")
    r = _main(["show", str(folder)], capsys)
    assert r.rc != 0 and str(folder / "run.json") in r.err


# --------------------------------------------------------------------------------------------- datasets


def test_datasets_lists_every_format(cli):
    procs, _ = cli
    r = procs["datasets"].result()
    assert r.rc == 0, r.err
    names = {line.split()[0] for line in r.out.splitlines() if line and not line[0].isspace()}
    assert set(DATASETS) <= names
    assert r.out.count("--data:") >= len(DATASETS)


# ------------------------------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", ["run", "study"])
def test_help_shows_each_flags_real_default_once(command, capsys, monkeypatch):
    from aim.cli import main

    monkeypatch.setenv("COLUMNS", "400")  # one line per option
    with pytest.raises(SystemExit):
        main([command, "--help"])
    lines: list[str] = []  # one per option, its help joined (a long option name puts it on the next line)
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("  --"):
            lines.append(line)
        elif lines and line.startswith("      "):
            lines[-1] += " " + line.strip()
    assert len(lines) > 40
    for line in lines:
        assert line.count("(default:") <= 1 and "(default: None)" not in line and "(default: )" not in line, line
    shown = {line.split()[0]: line for line in lines}
    for flag, default in [("--min-count", "2"), ("--mlp", "400,400,400"), ("--grda-c", "-1.0"), ("--grda-cross", "0.1,0.2,0.4,0.8"),
                          ("--synthetic-rows", "60000"), ("--max-order", "2"), ("--embedding", "fwe")]:
        assert shown[flag].endswith(f"(default: {default})"), shown[flag]


# ------------------------------------------------------------------------------------- output folder


def test_read_only_out_is_refused_before_any_work(tmp_path, capsys, tiny_args):
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod cannot make a folder read-only (the simulated test below runs)")
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        r = _main(["run", *tiny_args, "--out", str(out)], capsys)
    finally:
        out.chmod(0o700)
    assert r.rc != 0 and "--out" in r.err and "permission denied" in r.err and r.out == ""
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("errno_, words", [(13, "permission denied"), (30, "read-only file system"),
                                            (28, "disk full")], ids=["EACCES", "EROFS", "ENOSPC"])
def test_unwritable_out_is_refused_before_any_work(tmp_path, capsys, tiny_args, monkeypatch, errno_, words):
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(errno_, os.strerror(errno_))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    r = _main(["run", *tiny_args, "--out", str(tmp_path / "out")], capsys)
    assert r.rc != 0 and "Traceback" not in r.err and r.out == ""
    assert f"--out {tmp_path / 'out'}" in r.err and words in r.err


def test_nearly_full_disk_is_refused_before_any_work(tmp_path, capsys, tiny_args, monkeypatch):
    import shutil as sh

    monkeypatch.setattr(sh, "disk_usage", lambda path: sh._ntuple_diskusage(10**9, 10**9 - 2**20, 2**20))
    r = _main(["run", *tiny_args, "--out", str(tmp_path / "out")], capsys)
    assert r.rc != 0 and "disk nearly full" in r.err and "1.0 MiB free" in r.err and r.out == ""


def test_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    r = _main(["run", "--resume", str(tmp_path)], capsys)
    assert r.rc != 0 and "Traceback" not in r.err and str(tmp_path / "run.json") in r.err
    r = _main(["run", "--resume", str(tmp_path / "none")], capsys)
    assert r.rc != 0 and "not a folder" in r.err



# -------------------------------------------------------------------------------------- config <-> flags


def _all_fields(cls=RunConfig, section: str | None = None):
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.default_factory):
            yield from _all_fields(f.default_factory, f.name)
        else:
            yield section, f


@pytest.mark.parametrize("command", ["run", "study"])
def test_every_config_field_has_a_flag_with_its_help(command):
    from aim.cli import build_parser
    from aim.flags import STUDY_OMITS, STUDY_SETS

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    by_dest = {a.dest: a for a in sub._actions}
    for section, f in _all_fields():
        dest = f"{section}.{f.name}" if section else f.name
        if command == "study" and ((section is None and f.name in STUDY_SETS) or (section, f.name) in STUDY_OMITS):
            assert dest not in by_dest  # set per run by the study, or one variant's own
            continue
        action = by_dest[dest]
        assert action.default is None and action.help.startswith(f.metadata["help"].replace("%", "%%")), dest
    flags = {s for a in sub._actions for s in a.option_strings}
    assert command == "study" or {"--data", "--transfer-from", "--from", "--columns", "--retrain-dims", "--out",
                                  "--threads", "--resume"} <= flags


ROUND_TRIP = {
    "defaults": RunConfig(),
    "top-level": RunConfig(dataset="csv", data_path="/data/log.csv", variant="deepfm", seed=7, max_order=3,
                           note="a note, with a comma"),
    "nested": RunConfig().replace(
        synthetic=SyntheticConfig(rows=500, fields=4, noise_fields=1, planted_pairs=1, positive_rate=0.3),
        model=ModelConfig(embed_dim=8, embedding="se", mlp=(16, 8), dropout=0.1 + 0.2, head="products"),
        search=SearchConfig(grda_c=0.05, embed_mlp=True, embed_warm_start=False, top_k=3),
        train=TrainConfig(lr=3e-4, device="cuda:1", precision="bf16")),
    "tuples": RunConfig(dataset="csv", data_path="/data/log.csv").replace(
        data=DataConfig(categorical=("b", "a"), numeric=("n",)),
        search=SearchConfig(grda_cross=(0.3,), high_order_grda_cross=(0.8, 0.05), embed_grda_cross=(1e-3, 2.0),
                            functions=("outer", "inner")),
        train=TrainConfig(embed_l2_grid=(0.0, 0.125), embed_l2=-1.0)),
    "empty-mlp": RunConfig().replace(model=ModelConfig(mlp=())),
    "retrain": RunConfig(variant="retrain", columns="f00×f02:outer,f01*f03:inner", transfer_from="/runs/p0",
                         retrain_dims="full", max_order=3),
    "transfer": RunConfig(variant="ipnn-transfer", transfer_from="/runs/p0", seed=2),
}


@pytest.mark.parametrize("cfg", list(ROUND_TRIP.values()), ids=list(ROUND_TRIP))
def test_config_args_parse_back_to_the_same_config(cfg):
    from aim.cli import build_parser
    from aim.flags import config_args, config_from_args

    args = config_args(cfg)
    assert config_from_args(build_parser().parse_args(["run", *args])) == cfg
    def value(c: RunConfig, section: str | None, f: dataclasses.Field) -> object:
        return getattr(getattr(c, section) if section else c, f.name)

    differ = sum(value(cfg, s, f) != value(RunConfig(), s, f) for s, f in _all_fields())
    assert len(args) == 2 * differ and all(a.startswith("--") for a in args[::2])  # only the values that differ


def test_note_is_part_of_the_run_config():
    from aim.cli import build_parser
    from aim.flags import config_from_args

    assert config_from_args(build_parser().parse_args(["run", "--note", "a demo"])).note == "a demo"
    assert config_from_args(build_parser().parse_args(["run"])).note == ""


def test_show_prints_the_chosen_sparsity_and_every_warning(tiny_runs, tmp_path, capsys):
    folder = Path(shutil.copytree(tiny_runs["aim"], tmp_path / "run"))
    meta = json.loads((folder / "run.json").read_text())
    meta["warnings"] = ["EDS removed every embedding dimension of f00, read by kept interactions"]
    (folder / "run.json").write_text(json.dumps(meta))
    r = _main(["show", str(folder)], capsys)
    assert r.rc == 0, r.err
    assert "WARNING: EDS removed every embedding dimension of f00" in r.out
    c = meta["stages"]["search"]["grda"]["c"]
    assert f"search   GRDA c {c:.4g} (c given" in r.out  # the tiny config gives c explicitly
    assert "retrain  embedding L2 0" in r.out
    s = json.loads(_main(["show", str(folder), "--json"], capsys).out)
    assert s["warnings"] == meta["warnings"] and s["sparsity"]["search"]["grda"]["c"] == c
