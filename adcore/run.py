"""Run one trial from the command line and print its results row as one JSON line.

    python -m adcore.run --preset a7 --data.fold 0
    python -m adcore.run --config trial.yaml --set optim.epochs=5
    python -m adcore.run --preset a7 --model-dir detector/   # keep the trained detector

Layers merge in this order (later wins): defaults, --preset, --config YAML, field flags, --set.
Progress goes to stderr; stdout carries only the JSON row.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import BaseModel, ValidationError

from adcore.config import TrialConfig, build_config, set_dotted
from adcore.params import ComponentParams
from adcore.presets import PRESETS, preset


def _leaf_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted name, default, description) of every plain field of the trial config."""
    leaves = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and not issubclass(annotation, ComponentParams):
            leaves += _leaf_fields(annotation, f"{prefix}{name}.")
        elif name not in ("method", "regularizer") or prefix:
            leaves.append((f"{prefix}{name}", field.get_default(call_default_factory=True), field.description or ""))
    return leaves


def _component_help() -> str:
    from adcore.data.protocols import BENCHMARKS
    from adcore.methods import METHODS
    from adcore.objectives import REGULARIZERS

    lines = []
    for title, registry in (("method", METHODS), ("regularizer", REGULARIZERS)):
        lines.append(f"{title} (--{title}.name NAME; parameters with --set {title}.PARAM=VALUE):")
        for name in registry.names():
            params = registry.get(name).Params
            fields = [f"{key}={f.default!r} ({f.description})" for key, f in params.model_fields.items() if key != "name"]
            lines.append(f"  {name}: " + ("; ".join(fields) if fields else "no parameters"))
    lines.append(f"benchmarks (--data.benchmark): {', '.join(BENCHMARKS.names())}")
    lines.append("presets (--preset NAME):")
    lines += [f"  {name}: {PRESETS.get(name).label}" for name in PRESETS.names()]
    return "\n".join(lines)


def parse_value(text: str) -> Any:
    """YAML scalars: 0.1 -> float, true -> bool, null -> None, [0.6, 0.8] -> list."""
    return yaml.safe_load(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m adcore.run", description=__doc__, epilog=_component_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="trial YAML (a mapping with the fields below)")
    parser.add_argument("--preset", help="named config overlay, e.g. a7 or adib")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="dotted override, e.g. --set method.rep_dim=64 (repeatable)")
    parser.add_argument("--checkpoint-dir", type=Path, help="write a checkpoint per epoch and resume from it")
    parser.add_argument("--epochs-file", type=Path, help="append each epoch's reported metrics to this file, one JSON "
                        "line per epoch (a run directory's epochs/<trial_id>.jsonl: the learning curves)")
    parser.add_argument("--model-dir", type=Path, help="keep the trained detector here (unless runtime.keep_model "
                        "is none), for adstudy score or adcore.saved.load_detector")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    for dotted, default, description in _leaf_fields(TrialConfig):
        parser.add_argument(f"--{dotted}", dest=f"field:{dotted}", type=parse_value, metavar="V",
                            help=f"{description} (default: {default!r})")
    for component in ("method", "regularizer"):
        parser.add_argument(f"--{component}.name", dest=f"field:{component}.name", metavar="NAME",
                            help=f"the {component}; its parameters are listed below")
    return parser


def config_from_args(args: argparse.Namespace) -> TrialConfig:
    layers: list[dict[str, Any]] = []
    if args.preset:
        layers.append(preset(args.preset))
    if args.config:
        loaded = yaml.safe_load(args.config.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{args.config}: a trial YAML must be a mapping of config sections")
        layers.append(loaded)
    overrides: dict[str, Any] = {}
    for key, value in vars(args).items():
        if key.startswith("field:") and value is not None:
            overrides = set_dotted(overrides, key.removeprefix("field:"), value)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        overrides = set_dotted(overrides, key.strip(), parse_value(value))
    layers.append(overrides)
    return build_config(*layers)


def _epochs_writer(path: Path | None) -> Callable[[dict[str, Any]], None] | None:
    """A report function that appends each epoch's metrics to ``path`` (None: no report)."""
    if path is None:
        return None

    def report(metrics: dict[str, Any]) -> None:
        with path.open("a") as handle:
            handle.write(json.dumps(metrics) + "\n")

    return report


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")
    try:
        cfg = config_from_args(args)
    except ValidationError as error:
        print(f"invalid trial config:\n{error}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, OSError) as error:
        print(f"invalid trial config: {error}", file=sys.stderr)
        return 2
    from adcore.row import Status
    from adcore.trial import run_trial

    row = run_trial(cfg, report=_epochs_writer(args.epochs_file), checkpoint_dir=args.checkpoint_dir,
                    model_dir=args.model_dir)
    print(json.dumps(row))
    if row["status"] != Status.OK:
        print(f"trial failed: {row['message']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
