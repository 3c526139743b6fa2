"""The demo marketplace's interactions without a database: the seed's generator run in memory, as a frame
`data.from_frame` takes. Notebooks and benchmarks use it; its buyers' hidden tastes come along."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from marketplace.seed.generator import SIZES, Demo, generate


def demo_frame(size: str = "small", seed: int = 42) -> tuple[pd.DataFrame, Demo]:
    """Signed-in buyers' views, carts and purchases of the generated demo, and the demo itself."""
    demo = generate(SIZES[size], seed, time.time() - SIZES[size].weeks * 7 * 86_400)
    keep = (demo.user >= 0) & (demo.product >= 0) & np.isin(demo.kind, ["view", "cart", "purchase"])
    frame = pd.DataFrame(
        {
            "user_id": demo.user[keep],
            "item_id": demo.product[keep],
            "kind": demo.kind[keep],
            "timestamp": pd.to_datetime(demo.at[keep], unit="s", utc=True),
        }
    )
    return frame, demo
