"""Read-only mode (``app.access``): the app shown to others cannot start, cancel or re-train a job nor read another
folder, through widgets, pages or crafted links; and an app that can start jobs refuses to serve on a
non-loopback address unless that is deliberate. The browser half is in ``test_browser_read_only.py``."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from app import access, jobs
from tests.fixtures_app import APP, ID_A, ID_B, make_runs, point_app_at
from tests.test_app import TINY_JOB


@pytest.fixture
def fresh(monkeypatch):
    """No read-only mode left over from another test (``access.enable`` is process-wide by design)."""
    monkeypatch.setattr(access, "_enabled", False)
    monkeypatch.delenv(access.ENV, raising=False)
    monkeypatch.delenv(access.EXPOSE_ENV, raising=False)


@pytest.fixture
def runs(tmp_path_factory, fresh, monkeypatch):
    root = tmp_path_factory.mktemp("ro_runs")
    make_runs(root)
    return point_app_at(root, root.parent, monkeypatch)


def _at(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    return at


def test_every_source_can_ask_for_it(fresh):
    assert access.requested(env={"AIM_READ_ONLY": "1"})
    assert access.requested(env={"AIM_READ_ONLY": "true"})
    assert access.requested(env={}, argv=["--read-only"])
    assert access.requested(env={}, secrets={"read_only": True})
    assert not access.requested(env={"AIM_READ_ONLY": "0"}, argv=["--other"], secrets={"read_only": False})
    assert not access.read_only()
    access.enable()
    assert access.read_only()
    with pytest.raises(access.ReadOnlyError, match="cannot start a job"):
        access.check("start a job")


@pytest.mark.parametrize(("address", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                                   ("[::1]", True), ("localhost", True), ("", False), (None, False),
                                                   ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
                                                   ("myhost.example", False)])
def test_which_addresses_stay_on_this_machine(address, loopback):
    assert access.is_loopback(address) is loopback


def test_an_exposed_launcher_needs_a_deliberate_opt_in(fresh, monkeypatch):
    assert access.exposure_problem("127.0.0.1") is None
    problem = access.exposure_problem("0.0.0.0")
    assert "`0.0.0.0`" in problem and "AIM_READ_ONLY=1" in problem and "AIM_ALLOW_LAUNCH_EXPOSED" in problem
    assert "every network interface" in access.exposure_problem(None)
    assert access.exposure_problem("0.0.0.0", env={"AIM_ALLOW_LAUNCH_EXPOSED": "1"}) is None
    monkeypatch.setenv("AIM_READ_ONLY", "1")
    assert access.exposure_problem("0.0.0.0") is None


def test_jobs_refuse_to_start_or_cancel_where_the_action_happens(fresh, tmp_path, monkeypatch):
    monkeypatch.setenv("AIM_READ_ONLY", "1")
    with pytest.raises(jobs.JobError, match="read-only.*cannot start a training job"):
        jobs.start(TINY_JOB, tmp_path)
    assert not jobs.jobs_dir(tmp_path).exists()  # refused before anything was written
    job = jobs.Job(id="20260101T000000-abcdef", pid=1, args=[], argv=[], key="k", out=str(tmp_path),
                   log=str(tmp_path / "x.log"), started=0.0, config={})
    with pytest.raises(jobs.JobError, match="cannot cancel a job"):
        jobs.cancel(job)


def test_read_only_app_has_no_launch_page_folder_field_or_retrain(runs, monkeypatch):
    monkeypatch.setenv("AIM_READ_ONLY", "1")
    at = _at(run=ID_A).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.text_input  # no runs-folder field
    assert any("Read-only" in c.value for c in at.sidebar.caption)
    with pytest.raises(Exception, match="launch"):  # not a page of this app at all
        at.switch_page("views/launch.py").run()
    for view in ("launch",):  # a crafted deep link lands on the default page, not the form
        crafted = _at(view=view).run()
        assert not crafted.exception and not crafted.get("form")
        assert not [b for b in crafted.button if "Launch" in str(b.label)]


def test_a_session_cannot_point_a_read_only_app_at_another_folder(runs, tmp_path, monkeypatch):
    other = tmp_path / "elsewhere"
    make_runs(other)
    (other / ID_A).rename(other / "synthetic__aim__seed9__20990101T000000")  # a run only that folder has
    monkeypatch.setenv("AIM_READ_ONLY", "1")
    at = _at(view="runs")
    at.session_state["runs_dir"] = str(other)  # what the folder field would have set
    at.run()
    assert not at.exception
    shown = " ".join(str(df.value.to_dict()) for df in at.dataframe)
    assert ID_B in shown and "seed9__2099" not in shown
    crafted = _at(view="interactions", run="synthetic__aim__seed9__20990101T000000")
    crafted.session_state["runs_dir"] = str(other)
    crafted.run()  # its id from a link resolves to nothing
    assert not crafted.exception
    assert any("was not found" in w.value for w in crafted.warning)


def test_retrain_button_is_not_offered_read_only(fresh, monkeypatch):
    def page():
        import pandas as pd_
        import streamlit as st_

        from app import retrain as rt

        rt.button(None, pd_.DataFrame({"x": [1]}))
        st_.write("done")

    monkeypatch.setenv("AIM_READ_ONLY", "1")
    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception and not at.button
    assert pd.Series([m.value for m in at.markdown]).eq("done").any()


def test_without_read_only_everything_is_as_before(runs):
    at = _at(run=ID_A).run()
    assert not at.exception
    assert [t for t in at.text_input if t.label == "Runs folder"]
    at.switch_page("views/launch.py").run()
    assert not at.exception and at.get("form")


def test_an_exposed_address_is_refused_unless_deliberate(runs, monkeypatch):
    old = st_config.get_option("server.address")
    try:
        st_config.set_option("server.address", "0.0.0.0")
        at = _at().run()
        assert any("not read-only" in e.value for e in at.error) and not at.text_input
        monkeypatch.setenv("AIM_ALLOW_LAUNCH_EXPOSED", "1")
        assert _at().run().text_input
        monkeypatch.delenv("AIM_ALLOW_LAUNCH_EXPOSED")
        monkeypatch.setenv("AIM_READ_ONLY", "1")
        at = _at().run()
        assert not at.error and not at.text_input
    finally:
        st_config.set_option("server.address", old)
