"""The study report opens from disk in headless Chromium: the paper table, every figure, the
learning curves and the trial list render, sorting and filtering work, and the page asks for
nothing but its own file."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from chromium import Chromium, chromium_binary
from dashboards.run import read_trials
from servers import ROOT

PAGE = """(() => {
  const texts = sel => [...document.querySelectorAll(sel)].map(e => e.textContent.trim());
  return {
    title: document.querySelector("h1").textContent,
    paperHeader: texts("#paper-table thead th"),
    paperRows: texts("#paper-table tbody tr td:first-child"),
    images: [...document.images].map(i => ({alt: i.alt, loaded: i.complete && i.naturalWidth > 0})),
    trialHeader: texts("#trial-table thead th"),
    trials: texts("#trial-table tbody tr td:first-child"),
    notes: texts("#table li"),
    provenance: document.querySelector("#provenance").textContent,
  };
})()"""

FILTER = """(() => {
  const input = document.querySelector("input[data-filter]");
  input.value = "a7";
  input.dispatchEvent(new Event("input"));
  const shown = [...document.querySelectorAll("#trial-table tbody tr")].filter(r => !r.hidden).length;
  input.value = "";
  input.dispatchEvent(new Event("input"));
  return shown;
})()"""

SORT = """(() => {
  const headers = [...document.querySelectorAll("#trial-table thead th")];
  const column = headers.findIndex(h => h.textContent === "trial");
  headers[column].click();
  headers[column].click();  // descending
  return [...document.querySelectorAll("#trial-table tbody tr")].map(r => r.cells[column].textContent);
})()"""


@pytest.mark.browser
def test_report_renders_offline_in_headless_chromium(smoke_run: Path, artifacts: Path, tmp_path: Path) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium on this machine: `make setup-test` installs Debian's chromium")
    report = smoke_run / "report.html"
    assert report.exists(), "run_study.py writes the report at the end of the study"
    built = subprocess.run([sys.executable, "dashboards/report.py", str(smoke_run)], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == str(report)

    browser = Chromium(binary, tmp_path / "profile")
    try:
        browser.open(report.as_uri())
        page = browser.evaluate(PAGE)
        shown_a7 = browser.evaluate(FILTER)
        browser.screenshot(artifacts / "report.png")  # what a researcher sees first
        browser.screenshot(artifacts / "report-full.png", full_page=True)
        sorted_desc = browser.evaluate(SORT)
        requests, errors = browser.requests(), browser.errors()
    finally:
        browser.close()

    trials = read_trials(smoke_run)
    assert page["title"].startswith("ablation_table4")
    assert page["paperRows"] == ["a1", "a7"]
    assert {"test AP (%)", "paper CIFAR-10", "paper STL-10"} <= set(page["paperHeader"])
    assert any(note.startswith("Budget:") for note in page["notes"])
    assert any(note.startswith("Deviation:") for note in page["notes"])
    figures = sorted(p.stem for p in (smoke_run / "figures").iterdir())
    alts = [image["alt"] for image in page["images"]]
    assert all(f"{stem}.svg" in alts for stem in figures) and "learning curves" in alts
    assert all(image["loaded"] for image in page["images"]), page["images"]
    assert sorted(page["trials"]) == sorted(trials["trial_id"]) and {"node", "queued (s)"} <= set(page["trialHeader"])
    assert shown_a7 == (trials["arm"] == "a7").sum()
    assert sorted_desc == sorted(trials["trial_id"], reverse=True)
    assert "python tune/run_study.py studies/ablation_table4.yaml --smoke" in page["provenance"]
    assert trials["git_commit"].iloc[0] in page["provenance"]
    assert report.as_uri() in requests
    assert [url for url in requests if url != report.as_uri() and not url.startswith("data:")] == []
    assert errors == []


def test_a_failing_report_costs_the_study_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tune.results import RunDir
    from tune.run_study import _write_report

    assert _write_report(RunDir(tmp_path)) is None  # no run.json: the report fails, the study goes on
    assert "python dashboards/report.py" in caplog.text


def test_the_timeline_draws_a_trial_the_driver_ended_without_a_node() -> None:
    """A trial a scheduler stopped has its row from the driver, with no node or worker (pandas 3 keeps the
    missing node missing through astype(str)); its bar goes in a lane marked '?'."""
    from dashboards.plots import timeline

    placement = pd.DataFrame({"node": ["vm", None], "worker_pid": [101.0, None], "start_s": [0.0, 1.0],
                              "end_s": [2.0, 3.0], "status": ["ok", "stopped_early"]})
    drawn = timeline(placement, resumes=[])
    assert drawn and b"? " in drawn and b"pid 101" in drawn
