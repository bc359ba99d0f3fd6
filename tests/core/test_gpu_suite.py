"""benchmarks/gpu_suite.py, the command a session with a device runs, end to end on the CPU with
--quick (the same code at tiny sizes): every section measures or says why not, both files are written,
and packed trials match their runs alone. About a minute on 2 idle cores: the only run of the device
script before a device session spends its window on it."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_suite_on_the_cpu_measures_every_section(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}  # no MPS program on the CPU
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_suite.py"), "--device", "cpu", "--quick",
                           "--threads", "1", "--budget-s", "900", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=1200, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "gpu_suite.json").read_text())
    sections = results["sections"]
    assert {name: entry["status"] for name, entry in sections.items()} == dict.fromkeys(
        ["env", "processes", "step_modes", "engines", "packed", "projection", "packed_vs_alone", "odin_knn", "table4"],
        "ok"), {name: entry.get("error") for name, entry in sections.items()}
    assert "nvidia-cuda-mps-control" in sections["processes"]["mps_error"]  # recorded, and the suite went on
    assert [level["trials"] for level in sections["processes"]["time_sliced"]] == [1], sections["processes"]["errors"]
    assert all(level["images_per_s"] > 0 for level in sections["packed"]["levels"])
    assert set(sections["packed_vs_alone"]["packed_vs_alone_max_abs_diff"].values()) == {0.0}
    for score in ("odin", "knn"):  # the CPU against itself: the same float32 scores
        assert sections["odin_knn"][score]["max_abs_diff"] == 0.0
    assert {row["arm"] for row in sections["table4"]["rows"] if row["status"] == "ok"} == {f"a{i}" for i in range(1, 8)}
    assert [d["row"] for d in sections["table4"]["differences_to_a2"]] == ["a1", "a3", "a4", "a5", "a6", "a7"]
    summary = (tmp_path / "out" / "gpu_suite.md").read_text()
    assert "Per-trial training images/s" in summary and "Table 4 at the paper budget" in summary
