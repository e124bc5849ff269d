"""The stakeholder report (aim/report/, ``python -m aim report``): one self-contained HTML file of a tiny run and
of a tiny study, its numbers equal to the study table's, its warnings, clean refusals of other folders, and (with
Chromium) the charts drawn with the network cut off."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from aim import analysis
from aim import study as st
from aim.analysis import run_summary
from aim.analysis import summary as plain
from aim.cli import main
from aim.errors import ConfigError
from aim.fileio import read_json, write_json
from aim.report import report_html, write_report
from aim.runs import RUN_FILE, load_run
from aim.study.stats import rule_text

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory, tiny_config) -> Path:
    """fm and aim, seeds 0 and 1, on the tiny config (read-only: copy it before damaging it)."""
    return st.run_study(tiny_config("fm"), "fm,aim", [0, 1], tmp_path_factory.mktemp("study"), jobs=1,
                        log=lambda _: None)


def assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert len(re.findall(r"\* plotly\.js v\d", page)) == 1, "plotly.js must be inlined exactly once"
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", page), "no external resource"


def test_report_of_a_tiny_run(tiny_runs, tmp_path, capsys):
    run = load_run(tiny_runs["aim"])
    out = tmp_path / "deep" / "report.html"
    assert main(["report", str(run.path), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
    page = out.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert run.id in page and html.escape("Nothing to report. Checked: the run's status (complete)") in page
    for line in run_summary.run_summary_of(run):  # the plain-language summary on top, the glossary at the end
        assert html.escape(line.partition(": ")[2]) in page, line
    assert page.index("In plain words") < page.index("Warnings") < page.index("<h2>Glossary</h2>")
    for words in ("What was kept: interactions", "embedding dimensions (EDS)", "orders searched",
                  "inner, vkernel, skernel, outer", f"{run.meta['dataset']['rows']['train']:,}"):
        assert words in page, words
    order2 = run.meta["interactions"]["order2"]
    assert f"{order2['kept']} of {order2['total']} order-2 interactions ({order2['fi_ratio']:.1%})" in page
    kept = analysis.alpha_points(run.interactions, per="interaction")
    best = kept.sort_values("abs_alpha", ascending=False).iloc[0]
    assert f"{best['abs_alpha']:.4f}" in page and best["field_names"] in page  # the top interaction by |α|
    assert page.count("<div class='figure'>") == 4  # Fig. 7, functions, |α| vs the reference detector, EDS
    before, after = run.meta["params"]["before_eds"], run.meta["params"]["after_eds"]
    assert f"{before:,} before EDS, {after:,} after" in page


def test_report_of_a_baseline_run(tiny_runs):
    page = report_html(tiny_runs["fm"])
    assert_self_contained(page)
    assert "no interaction gates" in page


def test_report_of_a_tiny_study(tiny_study):
    study = st.load_study(tiny_study)
    page = report_html(tiny_study)
    assert_self_contained(page)
    assert study.id in page and "Results against the baselines" in page and "Nothing to report. Checked:" in page
    summary = study.current_summary()
    table = analysis.ablation_table(summary, len(study.seeds))
    for auc in table["AUC"]:  # mean ± std exactly as the app's and the CLI's table
        assert auc in page, auc
    aim = summary.set_index("variant").loc["aim"]
    assert f"p = {aim['p_auc']:.2g}" in page
    lines = plain.study_summary_lines(summary, **plain.study_inputs(study, study.recorded_metas(), summary))
    for line in lines:
        assert html.escape(line.partition(": ")[2]) in page, line
    assert any(line.startswith("Accuracy: ") and "fm" in line.lower() for line in lines)
    assert "of 2 seeds" in page and "seed 0" in page and "seed 1" in page
    assert f"rule: {html.escape(rule_text())}" in page
    assert page.count("<div class='figure'>") == 6


def test_study_report_lists_every_warning(tiny_study, tmp_path):
    path = Path(shutil.copytree(tiny_study, tmp_path / tiny_study.name))
    study = st.load_study(path)
    meta = read_json(study.runs["aim"][1] / RUN_FILE)
    meta["warnings"] = ["EDS dropped field f02 that a kept pair reads", "stage B <ended> early"]
    write_json(study.runs["aim"][1] / RUN_FILE, meta)
    shutil.rmtree(study.runs["fm"][1])
    m = read_json(path / st.STUDY_FILE)
    m.update(status="failed", error="interrupted: SystemExit: terminated by signal 15")
    write_json(path / st.STUDY_FILE, m)
    page = report_html(path)
    assert "Nothing to report" not in page and html.escape("Checked: the study's status (failed)") in page
    for words in ("aim seed 1: EDS dropped field f02 that a kept pair reads", "aim seed 1: stage B &lt;ended&gt; early",
                  f"run folder gone: runs/{study.runs['fm'][1].name}", "fm seed 1: no run",
                  "the study is failed: interrupted: SystemExit: terminated by signal 15"):
        assert words in page, words
    assert "<ended>" not in page  # escaped
    # the table counts the complete runs only: fm has 1 of 2
    assert "1 / 2" in page


def test_report_refuses_what_is_neither_a_run_nor_a_study(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    for target, what in ((tmp_path / "empty", "has neither run.json nor study.json"),
                         (tmp_path / "nope", "no such folder"), (tmp_path / "file.txt", "not a folder")):
        with pytest.raises(ConfigError) as err:
            write_report(target, tmp_path / "r.html")
        assert str(target) in str(err.value) and what in str(err.value)
        assert "expected a run folder" in str(err.value) and "or a study folder" in str(err.value)
        assert main(["report", str(target), "--out", str(tmp_path / "r.html")]) == 2
        assert str(target) in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")
def test_report_charts_render_offline_in_chromium(tiny_study, tiny_runs, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing (pip install it)")
    files = [write_report(tiny_study, tmp_path / "study.html"), write_report(tiny_runs["aim"], tmp_path / "run.html")]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for file, charts in zip(files, (6, 4), strict=True):  # the run: + |α| vs the reference detector
                page = browser.new_page(viewport={"width": 1200, "height": 1400})
                external: list[str] = []

                def only_the_file(route, seen=external):
                    if route.request.url.startswith("file:"):
                        route.continue_()
                    else:
                        seen.append(route.request.url)
                        route.abort()

                page.route("**/*", only_the_file)
                errors: list[str] = []
                page.on("pageerror", lambda exc, errs=errors: errs.append(str(exc)))
                page.goto(file.resolve().as_uri())
                page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= {charts}",
                                       timeout=60_000)
                plots = page.locator(".js-plotly-plot")
                assert plots.count() == charts
                for i in range(charts):
                    assert plots.nth(i).locator("svg.main-svg").count() >= 1
                assert page.locator(".js-plotly-plot .bars, .js-plotly-plot .scatterlayer .point").count() > 0
                assert not external and not errors, (external, errors)
                page.close()
        finally:
            browser.close()
