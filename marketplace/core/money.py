"""Money as people read it. Amounts are integers in a currency's minor unit (cents for EUR); this module is
the one place that turns them into text, with as many decimals as the currency has (ISO 4217): two for EUR
and USD, none for JPY, three for KWD. Every text that shows money (payment instructions, CSV exports, chart
labels, the watch client) goes through it.

    format_money(16150, "EUR")   -> "161.50 EUR"       (for people: grouped thousands, the code after)
    format_money(16150, "JPY")   -> "16,150 JPY"
    amount_text(16150, "EUR")    -> "161.50"           (for files: no grouping, no code, a dot for decimals)
    to_major(16150, "EUR")       -> Decimal("161.50")  (exact, for arithmetic and charts)
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

DEFAULT_CURRENCY = "EUR"  # a product's currency unless its vendor names another; figures summed across orders use it

# Currencies whose minor unit is not a hundredth (ISO 4217); every other one has two decimals.
MINOR_UNITS: dict[str, int] = {
    # none
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
    "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four
    "CLF": 4, "UYW": 4,
}  # fmt: skip


def minor_units(currency: str) -> int:
    """How many decimals the currency's amounts have (2 unless ISO 4217 says otherwise)."""
    return MINOR_UNITS.get(currency.upper(), 2)


def to_major(amount: int | float, currency: str) -> Decimal:
    """`amount` minor units as an exact number of currency units, rounded half up to the minor unit (an
    average of cents may be fractional)."""
    minor = Decimal(str(amount)).quantize(Decimal(1), ROUND_HALF_UP) if isinstance(amount, float) else Decimal(amount)
    return (minor + 0).scaleb(-minor_units(currency))  # + 0: no "-0.00"


def amount_text(amount: int | float, currency: str, *, grouped: bool = False, signed: bool = False) -> str:
    """The number alone: "161.50" ("1,615.00" grouped; "+161.50" signed)."""
    return f"{to_major(amount, currency):{'+' if signed else ''}{',' if grouped else ''}f}"


def format_money(amount: int | float, currency: str, *, signed: bool = False) -> str:
    """For people: "1,615.00 EUR", "16,150 JPY" ("+1.50 EUR" signed)."""
    return f"{amount_text(amount, currency, grouped=True, signed=signed)} {currency.upper()}"


def parse_money(text: str, currency: str) -> int:
    """What people type ("60.00", "60,00", "60") as minor units of `currency`; ValueError says what is wrong."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"write the amount as a number, such as {amount_text(6000, currency)}") from None
    scaled = value.scaleb(minor_units(currency)) if value.is_finite() else value
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise ValueError(f"an amount in {currency.upper()} has at most {minor_units(currency)} decimals")
    return int(scaled)
