"""Plots benchmarks/results/training_set.csv (from benchmarks.versus_feast_store) into docs/.

.venv/bin/python -m benchmarks.plot_training_set
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    table = pd.read_csv(ROOT / "benchmarks" / "results" / "training_set.csv")
    timeout_file = ROOT / "benchmarks" / "results" / "training_set_timeout.txt"
    timeout = float(timeout_file.read_text()) if timeout_file.exists() else 900.0
    fig, axes = plt.subplots(1, len(table["features"].unique()), figsize=(11, 4), sharey=True)
    for ax, (features, rows) in zip(axes, table.groupby("features"), strict=True):
        ax.plot(rows["entities"], rows["project_s"], "o-", label="project store (sort-based as-of)")
        measured = rows.dropna(subset=["stock_s"])
        ax.plot(measured["entities"], measured["stock_s"], "s-", label="Feast stock Spark store")
        cut = rows[rows["stock_s"].isna()]
        if len(cut):
            ax.plot(
                cut["entities"],
                [timeout] * len(cut),
                "s",
                mfc="none",
                color="C1",
                label=f"stock cancelled at {timeout:.0f} s",
            )
        ax.set(xscale="log", yscale="log", xlabel="entity rows", title=f"{features:,} feature rows")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds to build and write the training set")
    axes[-1].legend(fontsize=8)
    fig.suptitle("Point-in-time training sets, local[2], 1,000 drivers")
    fig.tight_layout()
    out = ROOT / "docs" / "training_set_benchmark.png"
    fig.savefig(out, dpi=110)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
