"""adstudy score MODEL IMAGES: anomaly scores of images by a detector a study kept.

MODEL is one of
  a run directory (results/<study>/<run-id>, or results/<study> for its newest run): its kept detector,
      or with several (one per arm) the one named by --arm or --trial;
  a detector folder (<run>/models/<trial_id>/, or python -m adcore.run --model-dir's);
  an MLflow model URI: models:/<study>/<version> (the registry), models:/<model-id>, runs:/<run-id>/detector
      (needs the [tune] extra; --tracking-uri or $MLFLOW_TRACKING_URI names the store).
IMAGES is a folder of image files (any layout the data sources read: class folders, train/ and test/,
MVTec's, or a flat folder; every image under it, in sorted order), one image file, or an .npz holding
uint8 images (N, H, W) or (N, H, W, C) as x_test, x, images or x_train.

It writes OUT/scores.csv (path, score: higher = more anomalous; with --threshold-from-val, anomaly: 1 where
the score reaches the threshold chosen on the trial's validation split) and OUT/extremes.png (the most and
the least anomalous images with their scores). Images go through in batches of the detector's
runtime.eval_batch_size, as its trial scored them, so the trial's own test images get the trial's scores.
Exit status: 0 scored, 2 bad input (no such model or images, an unreadable image without --unreadable
skip, a detector this version cannot load).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from adcore.data.decode_cache import DecodeSpec, decode_image
from adcore.data.sources.folder import IMAGE_SUFFIXES, image_files
from adcore.saved import DETECTOR_FILE, SavedDetector, SavedDetectorError, load_detector
from adstudy.extras import require

NPZ_ARRAYS = ("x_test", "x", "images", "x_train")
SHOWN = 8  # images per row of the figure


class ScoreError(ValueError):
    """Bad input to adstudy score: one message naming what and what to do."""


# --- the model ----------------------------------------------------------------------------------------

def _newest_run(path: Path) -> Path:
    runs = sorted(p for p in path.iterdir() if (p / "run.json").exists())
    if not runs:
        raise ScoreError(f"{path}: neither a detector folder, nor a run directory, nor a study's results folder")
    return runs[-1]


def _from_run(run: Path, arm: str | None, trial: str | None) -> Path:
    """The kept detector of a run: the only one, or the one of --trial or --arm."""
    if not (run / "models").is_dir() and not (run / "run.json").exists():
        run = _newest_run(run)
    folders = sorted(p for p in (run / "models").glob("*") if (p / DETECTOR_FILE).exists())
    if trial is not None:
        folders = [p for p in folders if p.name == trial]
    rows = {p: _row(p) for p in folders}
    if arm is not None:
        folders = [p for p in folders if str(rows[p].get("arm")) == arm]
    if len(folders) == 1:
        return folders[0]
    kept = "; ".join(f"{p.name} (arm {rows[p].get('arm', '-')})" for p in rows) or "none"
    what = "no kept detector matches" if not folders else "several kept detectors match"
    raise ScoreError(f"{run}: {what}{f' --arm {arm}' if arm else ''}{f' --trial {trial}' if trial else ''}; kept: "
                     f"{kept}. Name one with --arm or --trial (runtime.keep_model: all keeps every trial's)")


def _row(folder: Path) -> dict:
    try:
        return json.loads((folder / "row.json").read_text())
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def _mlflow_store(tracking_uri: str | None) -> Iterator[None]:
    """MLflow's process-wide tracking and registry URIs set to ``tracking_uri`` for a models:/ URI, then
    restored: ``mlflow.set_tracking_uri`` also writes $MLFLOW_TRACKING_URI, which a study driver started
    later in the same process (or a child of it) would otherwise take as its own store."""
    import mlflow

    if not tracking_uri:
        yield
        return
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _from_mlflow(uri: str, tracking_uri: str | None, into: Path) -> Path:
    require("mlflow", "score with an MLflow model URI")
    import mlflow

    try:
        with _mlflow_store(tracking_uri):
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(into),
                                                             tracking_uri=tracking_uri))
    except Exception as error:  # noqa: BLE001 - MLflow raises many kinds for an unknown model or store
        raise ScoreError(f"{uri}: MLflow at {tracking_uri or mlflow.get_tracking_uri()} has no such model "
                         f"({type(error).__name__}: {str(error).splitlines()[0][:300]}); --tracking-uri names the store")
    found = sorted(local.rglob(DETECTOR_FILE))
    if not found:
        raise ScoreError(f"{uri}: this MLflow model holds no kept detector ({DETECTOR_FILE}); is it one adstudy logged?")
    return found[0].parent


def model_folder(model: str, arm: str | None, trial: str | None, tracking_uri: str | None, scratch: Path) -> Path:
    """The detector folder that MODEL names (downloaded into ``scratch`` for an MLflow URI)."""
    if "://" in model or model.startswith(("models:/", "runs:/")):
        return _from_mlflow(model, tracking_uri, scratch)
    path = Path(model)
    if (path / DETECTOR_FILE).exists() or path.name == DETECTOR_FILE:
        return path if path.is_dir() else path.parent
    if path.is_dir():
        return _from_run(path, arm, trial)
    raise ScoreError(f"{model}: no such detector folder, run directory or MLflow model URI")


# --- the images ---------------------------------------------------------------------------------------

@dataclass
class Images:
    """A stream of (paths, uint8 (B, C, H, W)) batches, and how to show one image again."""

    names: list[str]
    batches: Callable[[int], Iterator[tuple[list[str], torch.Tensor]]]
    show: Callable[[str], np.ndarray]  # name -> (H, W, C) uint8


def _npz(path: Path) -> Images:
    with np.load(path, allow_pickle=False) as arrays:
        name = next((key for key in NPZ_ARRAYS if key in arrays.files), None)
        if name is None:
            raise ScoreError(f"{path} holds {', '.join(arrays.files)}; put the images under one of {', '.join(NPZ_ARRAYS)}")
        images = arrays[name]
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] not in (1, 3)):
        raise ScoreError(f"{path}: {name} is {images.dtype} {images.shape}; images are uint8 (N, H, W) or (N, H, W, C) "
                         "with C 1 or 3")
    images = images[..., None] if images.ndim == 3 else images  # (N, H, W, C)
    names = [f"{path}[{i}]" for i in range(len(images))]

    def batches(size: int) -> Iterator[tuple[list[str], torch.Tensor]]:
        for start in range(0, len(images), size):
            chunk = np.ascontiguousarray(images[start : start + size].transpose(0, 3, 1, 2))
            yield names[start : start + size], torch.from_numpy(chunk)

    return Images(names, batches, lambda name: images[int(name.rsplit("[", 1)[1][:-1])])


def _files(path: Path, spec: DecodeSpec, unreadable: str) -> Images:
    files = [path] if path.is_file() else image_files(path)
    if not files:
        raise ScoreError(f"{path}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in it or below it")
    skipped: list[str] = []

    def decoded(file: Path) -> np.ndarray | None:
        try:
            return decode_image(file, spec)
        except Exception as error:  # noqa: BLE001 - Pillow raises many kinds for a file it cannot decode
            if unreadable == "error":
                raise ScoreError(f"{file} cannot be decoded ({type(error).__name__}: {error}); replace or remove it, "
                                 "or pass --unreadable skip to leave such files out") from None
            print(f"skipped {file}: cannot be decoded ({type(error).__name__}: {error})", file=sys.stderr)
            skipped.append(str(file))
            return None

    def batches(size: int) -> Iterator[tuple[list[str], torch.Tensor]]:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # Pillow decodes without the GIL
            for start in range(0, len(files), size):
                chunk = files[start : start + size]
                arrays = list(pool.map(decoded, chunk))
                kept = [(str(file), array) for file, array in zip(chunk, arrays) if array is not None]
                if kept:
                    yield [name for name, _ in kept], torch.from_numpy(np.stack([array for _, array in kept]))

    def show(name: str) -> np.ndarray:
        return decode_image(Path(name), DecodeSpec(96, spec.mode, spec.fit)).transpose(1, 2, 0)

    return Images([str(file) for file in files], batches, show)


def images_of(path: Path, detector: SavedDetector, fit: str, unreadable: str) -> Images:
    if path.suffix == ".npz" and path.is_file():
        return _npz(path)
    if path.exists():
        return _files(path, DecodeSpec(detector.image_size, "L" if detector.channels == 1 else "RGB", fit), unreadable)
    raise ScoreError(f"{path}: no such folder, image file or .npz")


# --- scoring and output -----------------------------------------------------------------------------

def score_all(detector: SavedDetector, images: Images, batch: int) -> tuple[list[str], torch.Tensor]:
    """Every image's score, batch by batch, with a progress line on stderr."""
    names, scores = [], []
    started, done, total = time.perf_counter(), 0, len(images.names)
    for batch_names, batch_images in images.batches(batch):
        scores.append(detector.score(batch_images))
        names += batch_names
        done += len(batch_names)
        rate = done / max(time.perf_counter() - started, 1e-9)
        print(f"\rscored {done}/{total} images ({rate:.0f}/s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return names, torch.cat(scores) if scores else torch.empty(0)


def write_csv(path: Path, names: list[str], scores: torch.Tensor, decisions: torch.Tensor | None) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "score", *(["anomaly"] if decisions is not None else [])])
        for i, (name, score) in enumerate(zip(names, scores.tolist())):
            writer.writerow([name, repr(score), *([int(decisions[i])] if decisions is not None else [])])


def write_figure(path: Path, images: Images, names: list[str], scores: torch.Tensor) -> None:
    """The SHOWN most anomalous images (top row) and the SHOWN least (bottom row), with their scores."""
    from PIL import Image, ImageDraw

    order = torch.argsort(scores, descending=True, stable=True).tolist()
    rows = [("most anomalous", order[:SHOWN]), ("least anomalous", order[::-1][:SHOWN])]
    tile, label = 96, 14
    sheet = Image.new("RGB", (SHOWN * tile, len(rows) * (tile + 2 * label)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (title, indices) in enumerate(rows):
        top = r * (tile + 2 * label)
        draw.text((2, top), title, fill="black")
        for c, index in enumerate(indices):
            array = images.show(names[index])
            picture = Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array)
            sheet.paste(picture.convert("RGB").resize((tile, tile)), (c * tile, top + label))
            draw.text((c * tile + 2, top + label + tile), f"{scores[index].item():.4g}", fill="black")
    sheet.save(path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="adstudy score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a run directory, a detector folder or an MLflow model URI")
    parser.add_argument("images", type=Path, help="a folder of images, an image file or an .npz")
    parser.add_argument("--arm", help="a run directory with several kept detectors: the one of this arm")
    parser.add_argument("--trial", help="a run directory: the kept detector of this trial id")
    parser.add_argument("--out", type=Path, default=Path("scores"), help="folder for scores.csv and extremes.png "
                        "(default: ./scores)")
    parser.add_argument("--threshold-from-val", action="store_true",
                        help="add the column anomaly: 1 where the score reaches the threshold chosen on the trial's "
                        "validation split (largest TPR - FPR)")
    parser.add_argument("--unreadable", choices=["error", "skip"], default="error",
                        help="an image file that cannot be decoded: stop and name it (error), or leave it out (skip)")
    parser.add_argument("--fit", choices=["crop", "stretch"], default="crop",
                        help="image files to the detector's side: centre crop after resizing the shorter side, or stretch")
    parser.add_argument("--device", default="auto", help="auto (CUDA when there is one), cpu or cuda")
    parser.add_argument("--batch-size", type=int, help="images per batch (default: the detector's "
                        "runtime.eval_batch_size, with which its trial scored)")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"),
                        help="the MLflow store of a model URI (default: $MLFLOW_TRACKING_URI)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="adstudy-score-") as scratch:
            folder = model_folder(args.model, args.arm, args.trial, args.tracking_uri, Path(scratch))
            detector = load_detector(folder, args.device)
            images = images_of(args.images, detector, args.fit, args.unreadable)
            print(f"{detector.cfg.method.name} detector from {args.model} (adcore {detector.version}) on "
                  f"{detector.device}: {len(images.names)} images of {args.images}", file=sys.stderr)
            names, scores = score_all(detector, images, args.batch_size or detector.batch_size)
            decisions = detector.decision(scores) if args.threshold_from_val else None
            threshold = detector.threshold
    except (ScoreError, SavedDetectorError, ValueError) as error:
        print(f"adstudy score: {error}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "scores.csv", names, scores, decisions)
    if len(names):
        write_figure(args.out / "extremes.png", images, names, scores)
    print(f"scores:  {args.out / 'scores.csv'} ({len(names)} images; higher = more anomalous)")
    print(f"figure:  {args.out / 'extremes.png'}")
    if decisions is not None and threshold is not None:
        print(f"anomaly: {int(decisions.sum())} of {len(names)} at threshold {threshold['value']:.6g} ({threshold['rule']})")
    return 0
