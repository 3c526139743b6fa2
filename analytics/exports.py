"""Tables and charts as files: the CSV and PNG answers of the analytics routes and of the marketing console's
pages, made the same way for both (money in currency units in CSV; Matplotlib loaded on the first chart)."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

import asyncpg
import msgspec
import pandas as pd
from litestar import Response

from analytics import segments
from analytics.schemas import MemberOut, SegmentOut
from marketplace.core.money import DEFAULT_CURRENCY, amount_text

# The columns that hold money (in minor units) in the tables these routes export.
MONEY_COLUMNS = ("gmv", "average_order", "revenue", "revenue_per_member", "monetary", "average_monetary", "clv",
                 "value")  # fmt: skip


def csv_response(frame: pd.DataFrame, filename: str, currency: str = DEFAULT_CURRENCY) -> Response[bytes]:
    """The table as a CSV file, money in currency units with the currency's decimals ("161.50"; blank when
    unknown), as a spreadsheet reads them."""
    money = {
        column: frame[column].map(lambda v: "" if pd.isna(v) else amount_text(v, currency))
        for column in MONEY_COLUMNS
        if column in frame
    }
    return Response(
        frame.assign(**money).to_csv(index=False).encode(),
        media_type="text/csv",  # Litestar adds "; charset=utf-8" to text types itself
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def png_response(image: bytes) -> Response[bytes]:
    return Response(image, media_type="image/png")


def frame_of(items: Sequence[msgspec.Struct], kind: type[msgspec.Struct]) -> pd.DataFrame:
    """Structs as a table with a column per field (the header is there even with no rows)."""
    return pd.DataFrame([msgspec.structs.asdict(i) for i in items], columns=list(kind.__struct_fields__))


def charts() -> ModuleType:
    """The chart module, loaded on the first chart asked for: Matplotlib costs web workers a second at start."""
    import analytics.charts

    return analytics.charts


def segment_sizes_png(listed: list[SegmentOut]) -> Response[bytes]:
    sizes = segments.sizes_frame(listed)
    return png_response(charts().segment_sizes(sizes.assign(value=charts().major(sizes["value"]))))


async def members_csv(db: asyncpg.Pool, segment_id: int) -> Response[bytes]:
    """Every member of a segment, for a mailing tool."""
    listed = (await segments.members(db, segment_id, None, 10_000_000)).items
    return csv_response(frame_of(listed, MemberOut), f"segment-{segment_id}-members.csv")
