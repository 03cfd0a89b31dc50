"""Turn the raw measurements into the summary, the Markdown table and the targets.

Every ratio is taken run by run from interleaved pairs (nanocnn's run r against PyTorch's run
r, measured one after the other) and the median of those ratios is reported, so a slow spell
of the machine hits both sides of a ratio alike.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.networks import NETWORKS, TITLES, VARIANTS

EPOCH_IMAGES = 60_000

# (key, description, comparison, bound): the speed targets.
TARGETS = [
    ("lenet_train", "LeNet-5 training epoch time, nanocnn / PyTorch", "<=", 1.0),
    ("cnn_train", "CNN training epoch time, nanocnn / PyTorch", "<=", 1.2),
    ("resnet_train", "ResNet-8 training epoch time, nanocnn / PyTorch", "<=", 1.3),
    ("resnet64_train", "ResNet-8 64x64 RGB training epoch time, nanocnn / PyTorch", "<=", 1.3),
    (
        "resnet_workers_train",
        "ResNet-8 training epoch time, nanocnn data-parallel over the cores / PyTorch",
        "<=",
        0.8,
    ),
    ("lenet_infer", "LeNet-5 inference throughput (batch 1000), nanocnn / PyTorch", ">=", 1.5),
    ("cnn_infer", "CNN inference throughput (batch 1000), nanocnn / PyTorch", ">=", 1.5),
    ("resnet_infer", "ResNet-8 inference throughput (batch 1000), nanocnn / PyTorch", ">=", 1.2),
    (
        "resnet64_infer",
        "ResNet-8 64x64 RGB inference throughput (batch 1000), nanocnn / PyTorch",
        ">=",
        1.2,
    ),
    ("naive_speedup", "LeNet-5 training speed-up over the naive loops", ">=", 300.0),
    ("cnn_limit", "CNN training epoch time / physical limit", "<=", 2.0),
    ("resnet_limit", "ResNet-8 training epoch time / physical limit", "<=", 3.0),
    ("peak_memory_gb", "Peak memory of MNIST training (GB, worst network)", "<", 1.0),
]


def median_of(runs: list[dict], key: str) -> float | None:
    """The median of ``key`` over the runs that have it, or None."""
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    """Medians per network and implementation, paired ratios, limits and targets."""
    peak = raw["gemm_gflops"] * 1e9
    networks: dict[str, Any] = {}
    for name, info in raw["networks"].items():
        runs = info["runs"]
        impls = {}
        for impl, impl_runs in runs.items():
            train = median_of(impl_runs, "train_images_per_s")
            impls[impl] = {
                "train_images_per_s": train,
                "epoch_s": EPOCH_IMAGES / train if train else None,
                "infer_images_per_s": median_of(impl_runs, "infer_images_per_s"),
                "latency_ms": _scaled(median_of(impl_runs, "latency_s"), 1e3),
                "peak_rss_mb": median_of(impl_runs, "peak_rss_mb"),
                "runs": len(impl_runs),
            }
        entry: dict[str, Any] = {
            "title": TITLES[name],
            "forward_mflop_per_image": info["forward_flops"] / 1e6,
            "train_mflop_per_image": info["train_flops"] / 1e6,
            "limit_epoch_s": info["train_flops"] * EPOCH_IMAGES / peak,
            "implementations": impls,
        }
        if "torch" in runs:
            entry["train_ratios"] = _paired(runs, "train_images_per_s", invert=True)
            entry["infer_ratios"] = _paired(runs, "infer_images_per_s", invert=False)
            if "workers" in runs:
                entry["workers_train_ratios"] = _paired(
                    runs, "train_images_per_s", invert=True, ours="workers"
                )
        networks[name] = entry
    return {"networks": networks, "targets": _targets(networks)}


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _paired(
    runs: dict[str, list[dict]], key: str, invert: bool, ours: str = "nanocnn"
) -> list[float]:
    """nanocnn (``ours``: "nanocnn" or "workers") / PyTorch run by run: of times
    (``invert``, from rates) or of rates."""
    pairs = zip(runs[ours], runs["torch"], strict=False)
    return [(b[key] / a[key]) if invert else (a[key] / b[key]) for a, b in pairs]


def _targets(networks: dict[str, Any]) -> list[dict[str, Any]]:
    values: dict[str, float | None] = {}
    for name in NETWORKS:
        entry = networks.get(name, {})
        for kind in ("train", "infer", "workers_train"):
            ratios = entry.get(f"{kind}_ratios")
            values[f"{name}_{kind}"] = statistics.median(ratios) if ratios else None
    impls = networks.get("lenet", {}).get("implementations", {})
    naive, ours = impls.get("naive"), impls.get("nanocnn")
    values["naive_speedup"] = (
        ours["train_images_per_s"] / naive["train_images_per_s"] if naive and ours else None
    )
    for name in ("cnn", "resnet"):
        entry = networks.get(name)
        values[f"{name}_limit"] = (
            entry["implementations"]["nanocnn"]["epoch_s"] / entry["limit_epoch_s"]
            if entry
            else None
        )
    memories = [  # of MNIST training: the networks not trained on other shapes
        entry["implementations"]["nanocnn"]["peak_rss_mb"]
        for name, entry in networks.items()
        if name not in VARIANTS
    ]
    values["peak_memory_gb"] = max(memories) / 1024 if memories else None
    targets = []
    for key, text, comparison, bound in TARGETS:
        value = values[key]
        met = None if value is None else _compare(value, comparison, bound)
        targets.append(
            {"key": key, "target": f"{text} {comparison} {bound:g}", "value": value, "met": met}
        )
    return targets


def _compare(value: float, comparison: str, bound: float) -> bool:
    return {"<=": value <= bound, ">=": value >= bound, "<": value < bound}[comparison]


def markdown(raw: dict[str, Any], summary: dict[str, Any]) -> str:
    """The report: machine, results table, FLOPs and limits, targets."""
    machine = raw["machine"]
    lines = [
        "# nanocnn benchmark",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['threads']} threads "
        f"for every implementation; Python {machine['python']}, NumPy {machine['numpy']} "
        f"({machine['blas']}), PyTorch {machine['torch'] or 'not installed'}. "
        f"{raw['date']}, {raw['seconds']:.0f} s. Float32, training batch 64 with Adam, "
        f"{raw['repeats']} interleaved runs per implementation (medians). Data: {raw['data']}.",
        "",
        "| Network | Implementation | Train img/s | Epoch (s) | Infer img/s (batch 1000) "
        "| Latency 1 image (ms) | Peak RSS training (MB) |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    names = {
        "nanocnn": "nanocnn",
        "workers": f"nanocnn, {machine['threads']} MPI workers (1 thread each)",
        "torch": "PyTorch",
        "naive": "naive loops (extrapolated)",
    }
    for entry in summary["networks"].values():
        for impl, result in entry["implementations"].items():
            cells = [
                _fmt(result["train_images_per_s"], 0),
                _fmt(result["epoch_s"], 1),
                _fmt(result["infer_images_per_s"], 0),
                _fmt(result["latency_ms"], 2),
                _fmt(result["peak_rss_mb"], 0),
            ]
            lines.append(f"| {entry['title']} | {names[impl]} | " + " | ".join(cells) + " |")
        limit = entry["limit_epoch_s"]
        lines.append(
            f"| {entry['title']} | physical limit | {EPOCH_IMAGES / limit:,.0f} | {limit:.1f} "
            "| | | |"
        )
    lines += [
        "",
        f"Physical limit: training FLOPs at the measured peak float32 GEMM rate, "
        f"{raw['gemm_gflops']:.0f} GFLOP/s ({machine['threads']} threads).",
        "",
        "| Network | Forward MFLOP/image | Training MFLOP/image | Limit epoch (s) "
        "| nanocnn / limit | PyTorch / limit |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for entry in summary["networks"].values():
        impls, limit = entry["implementations"], entry["limit_epoch_s"]
        over = [
            f"{impls[impl]['epoch_s'] / limit:.1f}×" if impl in impls else "–"
            for impl in ("nanocnn", "torch")
        ]
        lines.append(
            f"| {entry['title']} | {entry['forward_mflop_per_image']:.2f} "
            f"| {entry['train_mflop_per_image']:.2f} | {limit:.1f} | {over[0]} | {over[1]} |"
        )
    lines += ["", "| Target | Measured | Met |", "|---|--:|:-:|"]
    for target in summary["targets"]:
        met = {True: "yes", False: "**no**", None: "not measured"}[target["met"]]
        value = target["value"]
        digits = 3 if value is not None and value < 10 else 0  # 1.004 is not 1.00
        lines.append(f"| {target['target']} | {_fmt(value, digits)} | {met} |")
    kinds = {"train": "train", "infer": "infer", "workers_train": "train over MPI workers"}
    ratios = [
        f"{entry['title']} {label}: " + ", ".join(f"{r:.2f}" for r in entry[f"{kind}_ratios"])
        for entry in summary["networks"].values()
        for kind, label in kinds.items()
        if f"{kind}_ratios" in entry
    ]
    if ratios:
        lines += ["", "Ratios nanocnn / PyTorch run by run: " + "; ".join(ratios) + "."]
    lines += ["", *(f"Note: {note}" for note in raw["notes"])]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"
