"""adstudy: run, check, report and serve image anomaly-detection studies, and score images with the
detectors they keep.

    adstudy studies                                   the shipped studies and what each reproduces
    adstudy run ablation_table4 --smoke               a study (a shipped name or a YAML file) on Ray Tune
    adstudy check my_study.yaml                       the checks before Ray: study file, every trial config, data
    adstudy report results/ablation_table4            the HTML report of a run (or a study's newest run)
    adstudy aggregate results/ablation_table4/RUN     table, figures and report again, no training
    adstudy compare RUN_A RUN_B -o compare.html       runs side by side
    adstudy serve mlflow results/ablation_table4      the MLflow UI (optuna: Optuna's dashboard; tracking-server)
    adstudy sync results/ablation_table4/RUN          send what the tracking server missed
    adstudy score results/adib_search/RUN IMAGES      anomaly scores of images by a kept detector

Each command's options: adstudy COMMAND --help. The base install (the method library) runs `studies`,
`check` and `score`; `run` and `sync` need the [tune] extra, `report`, `aggregate`, `compare` and `serve`
the [dashboards] extra (pip install 'adstudy[all]' for everything). Exit status: 0 done, 1 the command
ran and failed (an interrupted study, a server that does not answer), 2 bad input or a missing extra.
"""
from __future__ import annotations

import sys
from typing import Callable

from adstudy.extras import MissingExtra, require

# command -> (the extra it needs, or None for the base install; what it does)
COMMANDS: dict[str, tuple[str | None, str]] = {
    "studies": (None, "list the shipped studies and what each reproduces"),
    "run": ("tune", "run a study on Ray Tune (a shipped name or a YAML file)"),
    "check": (None, "validate a study and its data without starting Ray, list its trials"),
    "report": ("dashboards", "write the HTML report of a run"),
    "aggregate": ("dashboards", "rebuild a run's table, figures and report"),
    "compare": ("dashboards", "put runs side by side"),
    "serve": ("dashboards", "the MLflow UI, Optuna's dashboard or the tracking server of a cluster"),
    "sync": ("mlflow", "send a run's MLflow records that the server did not take"),
    "score": (None, "score images with a kept detector: a CSV of path and score, and a figure"),
}


def _studies(argv: list[str]) -> int:
    import argparse

    from tune.shipped import describe

    argparse.ArgumentParser(prog="adstudy studies", description="The studies shipped with adstudy.").parse_args(argv)
    print(describe())
    return 0


def _run(argv: list[str]) -> int:
    from tune.run_study import main

    return main(argv, prog="adstudy run")


def _check(argv: list[str]) -> int:
    from tune.run_study import main

    return main([*argv, "--dry-run"], prog="adstudy check")


def _report(argv: list[str]) -> int:
    from dashboards.report import main

    return main(argv, prog="adstudy report")


def _aggregate(argv: list[str]) -> int:
    from dashboards.aggregate import main

    return main(argv, prog="adstudy aggregate")


def _compare(argv: list[str]) -> int:
    from dashboards.compare import main

    return main(argv, prog="adstudy compare")


def _serve(argv: list[str]) -> int:
    extra = {"optuna": "optuna-dashboard", "tracking-server": "postgres"}.get(argv[0] if argv else "")
    if extra:
        require(extra, f"serve {argv[0]}")
    if argv[:1] in (["mlflow"], ["tracking-server"]):
        require("mlflow", f"serve {argv[0]}")
    from dashboards.serve import main

    return main(argv, prog="adstudy serve")


def _sync(argv: list[str]) -> int:
    from tune.sync_tracking import main

    return main(argv, prog="adstudy sync")


def _score(argv: list[str]) -> int:
    from adstudy.score import main

    return main(argv)


HANDLERS: dict[str, Callable[[list[str]], int]] = {
    "studies": _studies, "run": _run, "check": _check, "report": _report, "aggregate": _aggregate,
    "compare": _compare, "serve": _serve, "sync": _sync, "score": _score,
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" + (f" [{extra if extra != 'mlflow' else 'tune'}]" if extra else "")
             for name, (extra, what) in COMMANDS.items()]
    return "usage: adstudy COMMAND [options]   (adstudy COMMAND --help)\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(f"{__doc__.strip()}\n\n{usage()}")
        return 0
    if argv[0] == "--version":
        from adstudy import __version__

        print(f"adstudy {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in HANDLERS:
        print(f"adstudy: unknown command {command!r}\n{usage()}", file=sys.stderr)
        return 2
    extra = COMMANDS[command][0]
    try:
        if extra is not None:
            require(extra, command)
        return HANDLERS[command](rest)
    except MissingExtra as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
