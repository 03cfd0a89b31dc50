"""``python -m benchmarks.run``: nanocnn against PyTorch, the naive loops and the hardware.

Each measurement runs in a fresh process (``benchmarks.worker``), nanocnn and PyTorch
alternating (A B A B ...), every implementation on the same number of threads; each run waits
for the CPUs to be idle first (``benchmarks.quiet``). With MPI installed (the ``mpi`` extra),
nanocnn also trains data-parallel, one rank per thread with one BLAS thread each, as
``nanocnn train --workers N`` does: the ``workers`` rows. Prints the table and writes
``benchmarks/results/latest.json`` and ``latest.md``.
PyTorch columns appear when ``torch`` is importable (``pip install torch==2.13.0``).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.networks import NETWORKS, build, forward_flops, input_shape, train_flops
from benchmarks.quiet import QuietWaiter
from benchmarks.report import markdown, summarize
from benchmarks.torch_reference import TORCH_VERSION, torch_available
from nanocnn.parallel.launch import mpiexec

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


def machine(threads: int) -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": f"{blas['name']} {blas['version']}",
        "torch": importlib.metadata.version("torch") if torch_available() else None,
    }


def subprocess_json(args: list[str], threads: int, ranks: int = 1) -> Any:
    """Run ``python -m <args>`` from the repository root, on this checkout's nanocnn and
    with ``threads`` BLAS/OpenMP threads (as ``ranks`` ranks of ``mpiexec`` when more than
    one); parse the JSON it prints last."""
    path = [str(ROOT / "src"), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    env.update(
        {
            name: str(threads)
            for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
        }
    )
    command = [sys.executable, "-m", *args]
    if ranks > 1:
        command = [mpiexec(), "-n", str(ranks), *command]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=7, help="interleaved runs per implementation"
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="training time per run")
    parser.add_argument(
        "--naive-images", type=int, default=256, help="images for the naive loops (LeNet)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--max-wait", type=float, default=120.0, help="seconds to wait for idle CPUs, in all"
    )
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument(
        "--network",
        action="append",
        choices=NETWORKS,
        help="measure only this network (repeatable; default: all; the naive loops run with lenet)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.json/.md go")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    begin = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - begin:6.1f} s] {text}", file=sys.stderr, flush=True)

    notes = [f"load average at the start {os.getloadavg()[0]:.2f}."]
    impls = ["nanocnn"]
    try:
        mpiexec()
        impls.append("workers")
    except ImportError:
        notes.append("MPI not installed: no data-parallel rows (pip install -e '.[mpi]').")
    if args.no_torch:
        notes.append("PyTorch skipped (--no-torch).")
    elif torch_available():
        impls.append("torch")
    else:
        notes.append(
            f"PyTorch not installed: its columns are skipped "
            f"(pip install torch=={TORCH_VERSION} to compare)."
        )

    quiet = QuietWaiter(args.max_wait)
    log(f"peak float32 GEMM rate (CPUs {quiet.wait():.0%} busy)")
    gemm = [subprocess_json(["benchmarks.gemm_peak"], args.threads)]
    worker = ["benchmarks.worker", "--seconds", str(args.seconds), "--threads", str(args.threads)]
    networks: dict[str, Any] = {}
    for name in args.network or NETWORKS:
        runs: dict[str, list[dict]] = {impl: [] for impl in impls}
        for repeat in range(args.repeats):
            for impl in impls:  # A B A B ...: a slow spell of the machine hits both
                busy = quiet.wait()
                log(f"{name}: {impl} run {repeat + 1}/{args.repeats} (CPUs {busy:.0%} busy)")
                if impl == "workers":  # a rank per thread, one BLAS thread each
                    run = subprocess_json([*worker, impl, name], 1, ranks=args.threads)
                else:
                    run = subprocess_json([*worker, impl, name], args.threads)
                runs[impl].append({**run, "busy_before": busy})
        model, shape = build(name), input_shape(name)
        networks[name] = {
            "forward_flops": forward_flops(model, shape),
            "train_flops": train_flops(model, shape),
            "runs": runs,
        }
    if "lenet" in networks:
        log(f"lenet: naive loops on {args.naive_images} images")
        naive = [*worker, "naive", "lenet", "--images", str(args.naive_images)]
        networks["lenet"]["runs"]["naive"] = [subprocess_json(naive, args.threads)]
    log(f"peak float32 GEMM rate again, the best counts (CPUs {quiet.wait():.0%} busy)")
    gemm.append(subprocess_json(["benchmarks.gemm_peak"], args.threads))
    notes.append(f"load average at the end {os.getloadavg()[0]:.2f}.")
    timed = [run for net in networks.values() for impl in impls for run in net["runs"][impl]]
    busy = sum(run["busy_before"] > quiet.limit for run in timed)
    if busy:
        notes.append(
            f"{busy} of {len(timed)} runs started with the CPUs more than {quiet.limit:.0%} busy "
            f"with other work (the {args.max_wait:.0f} s allowed for waiting ran out)."
        )

    sources = {
        run.pop("data") for net in networks.values() for r in net["runs"].values() for run in r
    }
    raw = {
        "machine": machine(args.threads),
        "date": datetime.datetime.now().isoformat(timespec="minutes"),
        "seconds": time.perf_counter() - begin,
        "repeats": args.repeats,
        "data": ", ".join(sorted(sources)),
        "gemm_gflops": max(gemm),
        "networks": networks,
        "notes": notes,
    }
    summary = summarize(raw)
    report = markdown(raw, summary)
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps({"raw": raw, "summary": summary}, indent=2))
    (args.out / "latest.md").write_text(report)
    log(f"wrote {args.out / 'latest.md'} and latest.json")
    return summary


if __name__ == "__main__":
    main()
