"""The README's study table and the measurements the docs quote come from one source each: the study
files (``python -m studyspec.catalog``) and docs/measurements/quoted.yaml, where every measurement
names its command, machine and date."""
from __future__ import annotations

import datetime
import re
from pathlib import Path

import yaml

from studyspec.catalog import STUDIES, table

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
QUOTED = yaml.safe_load((ROOT / "docs" / "measurements" / "quoted.yaml").read_text())
QUOTE = re.compile(r"<!-- measured (\w+) -->(.*?)<!-- /measured -->", re.S)
DURATION = re.compile(r"\b\d[\d,.]*\s?(?:s|ms|min|minutes?|hours?|seconds?)\b")


def render(entry: dict) -> str:
    return f"{entry['value']} (`{entry['command']}`, {entry['machine']}, {entry['date']})"


def test_the_readme_lists_every_study_file_as_the_catalog_prints_it() -> None:
    block = re.search(r"<!-- studies -->\n(.*?)\n<!-- /studies -->", README.read_text(), re.S)
    assert block is not None, "README.md lost its <!-- studies --> block"
    assert block.group(1) == table(), "regenerate the README's study table with: python -m studyspec.catalog"
    listed = set(re.findall(r"^\| `(\w+)` \|", block.group(1), re.M))
    assert listed == {path.stem for path in STUDIES.glob("*.yaml")}


def test_every_measurement_names_its_command_machine_and_date() -> None:
    for name, entry in QUOTED.items():
        assert {"value", "command", "machine", "date"} <= set(entry), name
        assert isinstance(entry["date"], datetime.date), f"{name}: date as YYYY-MM-DD"


def test_every_quote_in_the_docs_is_its_entry() -> None:
    quotes = [(doc.name, name, text) for doc in DOCS for name, text in QUOTE.findall(doc.read_text())]
    assert {name for _, name, _ in quotes} == set(QUOTED), "each entry of quoted.yaml is quoted, and only those"
    for doc, name, text in quotes:
        assert " ".join(text.split()) == render(QUOTED[name]), f"{doc}: quote {name} should read: {render(QUOTED[name])}"


def test_the_readme_quotes_no_duration_without_its_source() -> None:
    text = QUOTE.sub("", re.sub(r"```.*?```", "", README.read_text(), flags=re.S))
    assert DURATION.findall(text) == [], "quote measured durations through docs/measurements/quoted.yaml"
