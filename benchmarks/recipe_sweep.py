"""Cross-validate several training recipes at once, in parallel processes — made for a GPU.

Each variant is the base config plus ``key=value`` overrides. For every variant, the script trains one model per
fold of the same 5-fold split of ``livec-train`` as ``benchmarks/livec_cv.py`` (10 % of the training folds held
out for early stopping; the fold itself never seen) and, with ``--final``, one model on all the rated images
exactly as ``pixgrade train`` does (the candidate for the shipped model). Jobs run in ``--jobs`` spawned processes
that share the cached stems through ``cache_dir`` files; jobs are started in the order given (variant by variant)
and no new job starts once it would likely end after ``--budget`` seconds.

    python benchmarks/recipe_sweep.py --config configs/default.yaml --data ../shared/data --jobs 12 --final \\
        --variant 'full:trainable_from=0,lr_backbone=1e-4' --variant 'full_ema:trainable_from=0,ema_decay=0.99'

Results: ``OUT/results.jsonl`` (one line per job, as it ends) and ``OUT/summary.json`` (per variant: mean ± std
of SRCC/PLCC over the folds). ``--export DIR`` copies the summary, the best variants' final checkpoints and the
best variant's fold checkpoints (for ``benchmarks/int8_accuracy.py --cv``) into DIR.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tarfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from pixgrade.train.config import TrainConfig, load_config


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``name:key=value,key=value`` (values as JSON, bare words as strings) → (name, overrides)."""
    name, _, body = text.partition(":")
    overrides: dict[str, Any] = {}
    for part in filter(None, body.split(",")):
        key, _, value = part.partition("=")
        try:
            overrides[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.strip()] = value
    TrainConfig.from_dict({**TrainConfig().to_dict(), **overrides})  # unknown keys fail here, before any work
    return name, overrides


def load_items(config: TrainConfig, limit_human: int | None, seed: int) -> tuple[list[Any], list[Any]]:
    """The rated items (the first ``limit_human`` only, for smoke tests) and the synthetic items chosen with
    ``seed`` (the same for every fold, so that all folds share one cache)."""
    from pixgrade.train.data import training_items

    human, synthetic = training_items(config, seed)
    return (human[:limit_human] if limit_human else human), synthetic


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """One training (a fold, or ``fold=-1``: all rated images); runs in a spawned process."""
    from scipy import stats

    from pixgrade.model.checkpoint import load_checkpoint
    from pixgrade.train.trainer import Trainer, group_split, train_on_samples

    started = time.perf_counter()
    config = TrainConfig.from_dict(job["config"])
    human, synthetic = load_items(config, job["limit_human"], job["base_seed"])
    trainer = Trainer(config)
    human_cache, synth_cache = trainer.prepare(human, synthetic)
    prepared = time.perf_counter() - started
    fold = job["fold"]
    row: dict[str, Any] = {"variant": job["variant"], "fold": fold, "out_dir": config.out_dir}
    if fold < 0:
        result = train_on_samples(trainer, human, human_cache, synth_cache, len(synthetic))
        row["val_srcc"] = result.best_val_srcc
    else:
        fold_of = np.random.default_rng(job["split_seed"]).permutation(len(human)) % job["folds"]
        rest = [i for i in range(len(human)) if fold_of[i] != fold]
        test = [i for i in range(len(human)) if fold_of[i] == fold]
        tr, va = group_split([human[i] for i in rest], config.val_fraction, job["base_seed"] + fold)
        result = trainer.fit([human_cache[rest[i]] for i in tr], [human_cache[rest[i]] for i in va], synth_cache, [])
        best, _ = load_checkpoint(result.best_path)
        trainer.model = best.to(trainer.device)
        pred = trainer.predict([human_cache[i] for i in test])
        true = np.array([human[i].score for i in test])
        row.update(
            srcc=float(stats.spearmanr(pred, true)[0]),
            plcc=float(stats.pearsonr(pred, true)[0]),
            rmse_0_5=float(np.sqrt(np.mean((pred - true) ** 2))),
        )
    row.update(
        best_epoch=result.best_epoch,
        epochs_run=len(result.history),
        prepare_seconds=prepared,
        seconds=time.perf_counter() - started,
        checkpoint=str(result.best_path),
    )
    return row


def summarise(rows: list[dict[str, Any]], folds: int) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in dict.fromkeys(r["variant"] for r in rows):
        cv = [r for r in rows if r["variant"] == name and r["fold"] >= 0]
        entry: dict[str, Any] = {"folds_done": len(cv)}
        for key in ("srcc", "plcc", "rmse_0_5"):
            values = [r[key] for r in cv]
            if values:
                entry[key] = float(np.mean(values))
                entry[f"{key}_std"] = float(np.std(values))
        finals = [r for r in rows if r["variant"] == name and r["fold"] < 0]
        if finals:
            entry["final_checkpoint"] = finals[0]["checkpoint"]
            entry["final_val_srcc"] = finals[0]["val_srcc"]
        entry["complete"] = len(cv) == folds
        summary[name] = entry
    return summary


def export(out: Path, dest: Path, rows: list[dict[str, Any]], summary: dict[str, Any], n_final: int = 2) -> None:
    """Copy what a remote run must bring back: the summary, the best final checkpoints, the best variant's folds.

    Checkpoints are copied in float16 (as the shipped weights are stored), two folds per archive."""
    from pixgrade.model.checkpoint import load_checkpoint, save_checkpoint

    def half_copy(source: str, target: Path) -> None:
        model, metadata = load_checkpoint(source)
        metadata.pop("config", None)
        save_checkpoint(target, model, metadata, half=True)

    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(out / "summary.json", dest / "summary.json")
    shutil.copy(out / "results.jsonl", dest / "results.jsonl")
    ranked = sorted(
        (name for name, e in summary.items() if "srcc" in e),
        key=lambda n: (summary[n]["complete"], summary[n]["srcc"]),
        reverse=True,
    )
    for name in ranked[:n_final]:
        if "final_checkpoint" in summary[name]:
            half_copy(summary[name]["final_checkpoint"], dest / f"final_{name}.safetensors")
    if ranked:
        best = sorted((r for r in rows if r["variant"] == ranked[0] and r["fold"] >= 0), key=lambda r: r["fold"])
        for k in range(0, len(best), 2):  # two float16 checkpoints (~8 MB each) per archive
            with tarfile.open(dest / f"folds_{ranked[0]}_{k}.tar", "w") as archive:
                for r in best[k : k + 2]:
                    half = out / f"half_fold{r['fold']}.safetensors"
                    half_copy(r["checkpoint"], half)
                    archive.add(half, arcname=f"fold{r['fold']}/best.safetensors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="base training config (YAML/TOML); default: the built-in recipe")
    parser.add_argument("--data", help="folder with livec-train/ and products-fashion/ (default: the config's)")
    parser.add_argument("--variant", action="append", required=True, help="NAME:key=value,key=value (JSON values)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only-folds", type=int, nargs="*", help="run just these fold indices")
    parser.add_argument("--final", action="store_true", help="also train each variant on all rated images")
    parser.add_argument("--jobs", type=int, default=1, help="trainings run at once (processes)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per training process")
    parser.add_argument(
        "--budget", type=float, default=float("inf"), help="seconds; no job starts that would end later"
    )
    parser.add_argument(
        "--deadline", type=float, default=float("inf"), help="seconds; then stop the running jobs and export"
    )
    parser.add_argument("--limit-human", type=int, help="use only the first N rated images (smoke tests)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold split (as livec_cv.py)")
    parser.add_argument("--out", default="runs/sweep")
    parser.add_argument("--export", help="copy summary, best final checkpoints and the best variant's folds here")
    args = parser.parse_args()

    started = time.perf_counter()
    base = load_config(args.config) if args.config else TrainConfig()
    overrides: dict[str, Any] = {"progress": False, "threads": args.threads}
    if args.data:
        overrides.update(
            manifests=[str(Path(args.data) / "livec-train")], synthetic_dir=str(Path(args.data) / "products-fashion")
        )
    base = replace(base, **overrides)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    variants = [parse_variant(v) for v in args.variant]

    # The stems are cached once per split point, in this process, just before the first job that needs them
    # (later caches are built while earlier jobs run); the jobs read the cache files.
    from pixgrade.train.trainer import Trainer

    configs: dict[str, TrainConfig] = {}
    for name, values in variants:
        config = replace(base, **values)
        config = replace(config, cache_dir=str(out / f"cache_{config.model}_tf{config.trainable_from}"))
        configs[name] = config
    cached: set[str] = set()

    def ensure_cache(config: TrainConfig) -> None:
        if config.cache_dir in cached:
            return
        t0 = time.perf_counter()
        human, synthetic = load_items(config, args.limit_human, config.seed)
        Trainer(config).prepare(human, synthetic)
        cached.add(config.cache_dir)
        print(
            f"cached {config.cache_dir}: {len(human)} rated + {len(synthetic)} synthetic "
            f"in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )

    fold_ids = [f for f in range(args.folds) if not args.only_folds or f in args.only_folds]
    queue: list[dict[str, Any]] = []
    for name, _ in variants:
        for fold in fold_ids + ([-1] if args.final else []):
            config = configs[name]
            tag = f"fold{fold}" if fold >= 0 else "all"
            job_config = replace(config, out_dir=str(out / name / tag), seed=config.seed + max(fold, 0))
            queue.append(
                {
                    "variant": name,
                    "fold": fold,
                    "folds": args.folds,
                    "split_seed": args.seed,
                    "base_seed": config.seed,
                    "limit_human": args.limit_human,
                    "config": job_config.to_dict(),
                }
            )
    results_path = out / "results.jsonl"
    rows: list[dict[str, Any]] = []
    running: dict[Future[dict[str, Any]], dict[str, Any]] = {}
    durations: list[float] = []
    pool = ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn"))
    stopped = False
    try:
        while queue or running:
            elapsed = time.perf_counter() - started
            estimate = max(durations) if durations else 0.0
            while queue and len(running) < args.jobs and elapsed + estimate < args.budget:
                job = queue.pop(0)
                ensure_cache(configs[job["variant"]])
                running[pool.submit(run_job, job)] = job
            if not running:
                print(f"budget: {len(queue)} job(s) not started", flush=True)
                break
            remaining = args.deadline - (time.perf_counter() - started)
            timeout = max(1.0, remaining) if math.isfinite(remaining) else None
            done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            if not done and time.perf_counter() - started >= args.deadline:
                print(f"deadline: stopping {len(running)} running job(s), {len(queue)} not started", flush=True)
                stopped = True
                break
            for future in done:
                job = running.pop(future)
                try:
                    row = future.result()
                except Exception as exc:  # one failed job must not lose the others' results
                    row = {"variant": job["variant"], "fold": job["fold"], "error": repr(exc)}
                    print(json.dumps(row), flush=True)
                    continue
                durations.append(row["seconds"])
                rows.append(row)
                with results_path.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(
                    json.dumps(
                        {
                            k: round(v, 4) if isinstance(v, float) else v
                            for k, v in row.items()
                            if k not in ("checkpoint", "out_dir")
                        }
                    ),
                    flush=True,
                )
                (out / "summary.json").write_text(json.dumps(summarise(rows, len(fold_ids)), indent=1))
    finally:
        if stopped:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
        pool.shutdown(wait=not stopped, cancel_futures=True)
    summary = summarise(rows, len(fold_ids))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    for name, entry in summary.items():
        if "srcc" in entry:
            final = f"  final val SRCC {entry['final_val_srcc']:.4f}" if "final_val_srcc" in entry else ""
            print(
                f"{name:>16}: SRCC {entry['srcc']:.4f} ± {entry['srcc_std']:.4f}  PLCC {entry['plcc']:.4f}  "
                f"({entry['folds_done']} folds){final}"
            )
    print(f"total {time.perf_counter() - started:.0f} s; {os.cpu_count()} CPUs")
    if args.export and rows:
        export(out, Path(args.export), rows, summary)


if __name__ == "__main__":
    main()
