"""`dashboards/compare.py` puts runs side by side: the smoke run twice and a copy as a GPU-budget
run would leave it (other numbers, another budget); every cell, its difference to the first run,
and each run's budget."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from chromium import Chromium, chromium_binary
from servers import ROOT

CELLS = """(() => {
  const header = [...document.querySelectorAll("#compare-table thead th")].map(th => th.textContent);
  const rows = [...document.querySelectorAll("#compare-table tbody tr")].map(
      tr => Object.fromEntries([...tr.cells].map((td, i) => [header[i], td.textContent])));
  const cards = [...document.querySelectorAll("#runs section")].map(s => ({
      budget: s.querySelector("p b").textContent, differs: [...s.querySelectorAll("li.differs")].map(li => li.textContent)}));
  return {header, rows, cards};
})()"""


def _gpu_copy(run: Path, folder: Path) -> Path:
    """The run's files with test AP of a7 5 points higher, a budget line changed, --budget applied."""
    copy = folder / "20990101-000000"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("tune", "report.html"))
    table = json.loads((copy / "table.json").read_text())
    for record in table["records"]:
        record["test_ap_mean"] += 5.0 * (record["arm"] == "a7")
    for note in table["notes"]:
        note["text"] = note["text"].replace("Budget: fashion_mnist", "Budget: cifar10")
    (copy / "table.json").write_text(json.dumps(table))
    study = (copy / "study.yaml").read_text().replace("- --smoke", "- --budget paper_cifar10")
    (copy / "study.yaml").write_text(study)
    return copy


@pytest.mark.browser
def test_compare_shows_every_cell_its_difference_and_each_budget(smoke_run: Path, artifacts: Path,
                                                                  tmp_path: Path) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium on this machine: `make setup-test` installs Debian's chromium")
    other = _gpu_copy(smoke_run, tmp_path)
    out = tmp_path / "compare.html"
    done = subprocess.run([sys.executable, "dashboards/compare.py", str(smoke_run), str(smoke_run), str(other),
                           "-o", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    browser = Chromium(binary, tmp_path / "profile")
    try:
        browser.open(out.as_uri())
        page = browser.evaluate(CELLS)
        browser.screenshot(artifacts / "compare.png", full_page=True)
        requests = browser.requests()
    finally:
        browser.close()

    table = pd.read_csv(smoke_run / "table.csv").set_index("arm")
    rows = {row["arm"]: row for row in page["rows"]}
    assert sorted(rows) == ["a1", "a7"]
    for arm in ("a1", "a7"):
        assert rows[arm]["test AP (%) A"].startswith(f"{table.loc[arm, 'test_ap_mean']:.1f}")
        assert rows[arm]["Δ test AP B−A"] == rows[arm]["Δ test AUROC B−A"] == "+0.0"  # the same run twice
        assert rows[arm]["paper CIFAR-10"] == f"{table.loc[arm, 'paper CIFAR-10']:.1f}"
    assert rows["a7"]["test AP (%) C"].startswith(f"{table.loc['a7', 'test_ap_mean'] + 5:.1f}")
    assert rows["a7"]["Δ test AP C−A"] == "+5.0" and rows["a1"]["Δ test AP C−A"] == "+0.0"
    assert rows["a7"]["Δ test AUROC C−A"] == "+0.0"
    assert [card["budget"] for card in page["cards"]] == ["--smoke --set grid.arm=[a1,a7]"] * 2 + [
        "--budget paper_cifar10 --set grid.arm=[a1,a7]"]
    assert page["cards"][1]["differs"] == [] and page["cards"][2]["differs"][0].startswith("Budget: cifar10")
    assert requests == [out.as_uri()]
