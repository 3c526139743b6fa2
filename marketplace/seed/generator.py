"""The demo marketplace as numpy arrays: who sells what, who likes what, and what everyone did.

Buyers have hidden tastes (two or three leaf categories with weights) and an activity rate; they join over
the period, some churn. Each session picks a category from the buyer's taste, views products drawn by a
power-law popularity, adds some to the cart and buys some of those. Sessions follow a weekly rhythm
(busier weekends and evenings). Everything is drawn from one seeded generator, so a seed gives the same
marketplace every time."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from marketplace.seed import vocabulary as vocab

DAY = 86_400
WEEK = 7 * DAY
# Monday..Sunday and 24 hours: relative traffic.
WEEKDAY_WEIGHTS = np.array([0.9, 0.85, 0.9, 0.95, 1.1, 1.45, 1.35])
HOUR_WEIGHTS = np.array([0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 0.8, 0.9, 1.0, 1.1,
                         1.2, 1.1, 1.0, 1.0, 1.1, 1.3, 1.6, 1.9, 2.0, 1.7, 1.1, 0.5])  # fmt: skip


@dataclass(frozen=True)
class Size:
    vendors: int
    products: int
    buyers: int
    weeks: int
    sessions_per_week: float  # mean for an active buyer


SIZES = {
    "tiny": Size(vendors=4, products=60, buyers=80, weeks=3, sessions_per_week=1.0),
    "small": Size(vendors=15, products=800, buyers=2_000, weeks=8, sessions_per_week=0.8),
    "medium": Size(vendors=40, products=5_000, buyers=12_000, weeks=12, sessions_per_week=0.8),
    "large": Size(vendors=120, products=20_000, buyers=30_000, weeks=16, sessions_per_week=0.75),
}


@dataclass
class Categories:
    names: list[str]
    parents: list[int | None]  # index into names
    leaves: list[int]  # indices of leaf categories
    leaf_top: np.ndarray  # top category index (into tops) of each leaf
    leaf_price: np.ndarray  # typical price of each leaf, cents
    tops: list[str]


@dataclass
class Demo:
    size: Size
    start: float  # unix time of week 0
    categories: Categories
    vendor_names: list[str]
    # products
    product_vendor: np.ndarray
    product_leaf: np.ndarray  # index into categories.leaves
    product_title: list[str]
    product_brand: list[str]
    product_model: list[str]
    product_created: np.ndarray  # unix time
    product_rating: np.ndarray
    product_popularity: np.ndarray
    # skus: parallel arrays
    sku_product: np.ndarray
    sku_code: list[str]
    sku_attributes: list[dict[str, str]]
    sku_price: np.ndarray
    sku_stock: np.ndarray
    # buyers
    buyer_leaves: np.ndarray  # (buyers, 3) leaf indices
    buyer_weights: np.ndarray  # (buyers, 3)
    buyer_activity: np.ndarray
    buyer_joined: np.ndarray  # week
    buyer_churn: np.ndarray  # week, -1 = never
    # interactions: parallel arrays, sorted by time
    kind: np.ndarray = field(default_factory=lambda: np.array([], dtype="<U8"))
    user: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    session: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    product: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    query: list[str | None] = field(default_factory=list)
    at: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.float64))


def build_categories() -> Categories:
    names: list[str] = []
    parents: list[int | None] = []
    leaves: list[int] = []
    leaf_top: list[int] = []
    leaf_price: list[int] = []
    tops = list(vocab.TREE)
    for t, (top, subs) in enumerate(vocab.TREE.items()):
        top_index = len(names)
        names.append(top)
        parents.append(None)
        for sub, leaf_list in subs.items():
            sub_index = len(names)
            names.append(sub)
            parents.append(top_index)
            for leaf, price in leaf_list:
                leaves.append(len(names))
                names.append(leaf)
                parents.append(sub_index)
                leaf_top.append(t)
                leaf_price.append(price)
    return Categories(names, parents, leaves, np.array(leaf_top), np.array(leaf_price), tops)


def _singular(leaf: str) -> str:
    return leaf[:-1] if leaf.endswith("s") and not leaf.endswith("ss") else leaf


def generate(size: Size, seed: int, start: float) -> Demo:
    rng = np.random.default_rng(seed)
    cats = build_categories()
    n_leaves = len(cats.leaves)

    # Vendors specialise in one or two top categories; a few big vendors carry most products.
    vendor_names = []
    for i in range(size.vendors):
        prefix = vocab.SHOP_PREFIXES[i % len(vocab.SHOP_PREFIXES)]
        word = vocab.SHOP_WORDS[(i // len(vocab.SHOP_PREFIXES)) % len(vocab.SHOP_WORDS)]
        suffix = f" {i // (len(vocab.SHOP_PREFIXES) * len(vocab.SHOP_WORDS)) + 1}" if i >= 200 else ""
        vendor_names.append(f"{prefix} {word}{suffix}")
    vendor_tops = rng.integers(0, len(cats.tops), size=(size.vendors, 2))
    vendor_share = rng.pareto(1.5, size.vendors) + 1
    vendor_share /= vendor_share.sum()

    product_vendor = rng.choice(size.vendors, size=size.products, p=vendor_share)
    chosen_top = vendor_tops[product_vendor, rng.integers(0, 2, size.products)]
    product_leaf = np.empty(size.products, dtype=np.int64)
    for t in range(len(cats.tops)):
        mask = chosen_top == t
        leaves_of_top = np.flatnonzero(cats.leaf_top == t)
        product_leaf[mask] = rng.choice(leaves_of_top, size=mask.sum())

    quality = rng.normal(0, 1, size.products)
    adjectives = rng.integers(0, len(vocab.ADJECTIVES), size.products)
    titles, brands, models = [], [], []
    for i in range(size.products):
        leaf = cats.names[cats.leaves[product_leaf[i]]]
        top = cats.tops[cats.leaf_top[product_leaf[i]]]
        brand_list = vocab.BRANDS[top]
        brand = brand_list[int(rng.integers(0, len(brand_list)))]
        model = f"{brand[:2].upper()}-{100 + i}"
        brands.append(brand)
        models.append(model)
        titles.append(f"{brand} {vocab.ADJECTIVES[adjectives[i]]} {_singular(leaf)} {model}")
    product_created = start - rng.uniform(0, 26 * WEEK, size.products)
    rating = np.clip(np.round(3.9 + 0.45 * quality + rng.normal(0, 0.25, size.products), 2), 1.0, 5.0)

    # Power-law popularity within each leaf, nudged by quality.
    popularity = np.empty(size.products)
    for leaf in range(n_leaves):
        idx = np.flatnonzero(product_leaf == leaf)
        ranks = rng.permutation(len(idx)) + 1
        popularity[idx] = ranks**-1.1 * np.exp(0.3 * quality[idx])

    # SKUs: sizes for fashion, colours otherwise.
    sku_product, sku_code, sku_attributes, sku_price, sku_stock = [], [], [], [], []
    base_price = cats.leaf_price[product_leaf] * rng.lognormal(0, 0.35, size.products)
    for i in range(size.products):
        top = cats.tops[cats.leaf_top[product_leaf[i]]]
        price = max(99, int(np.rint(base_price[i] / 100)) * 100 - 1)
        if top in vocab.SIZED_TOPS:
            variants = [{"size": s} for s in vocab.SIZES[int(rng.integers(0, 2)) : int(rng.integers(3, 6))]]
        else:
            k = int(rng.integers(1, 4))
            variants = [{"colour": str(c)} for c in rng.choice(vocab.COLOURS, size=k, replace=False)]
        for v, attrs in enumerate(variants):
            sku_product.append(i)
            sku_code.append(f"{models[i]}-{v + 1}")
            sku_attributes.append(attrs)
            sku_price.append(price + (v * 200 if "size" not in attrs else 0))
            sku_stock.append(0 if rng.random() < 0.05 else int(rng.integers(5, 300)))

    # Buyers: a favourite top category, three leaves (two from it), Dirichlet weights.
    fav_top = rng.integers(0, len(cats.tops), size.buyers)
    buyer_leaves = np.empty((size.buyers, 3), dtype=np.int64)
    for t in range(len(cats.tops)):
        mask = fav_top == t
        of_top = np.flatnonzero(cats.leaf_top == t)
        buyer_leaves[mask, 0] = rng.choice(of_top, mask.sum())
        buyer_leaves[mask, 1] = rng.choice(of_top, mask.sum())
    buyer_leaves[:, 2] = rng.integers(0, n_leaves, size.buyers)
    buyer_weights = rng.dirichlet([3.0, 2.0, 1.0], size.buyers)
    activity = rng.lognormal(0, 0.8, size.buyers) * size.sessions_per_week / np.exp(0.32)
    joined = np.where(rng.random(size.buyers) < 0.4, 0, rng.integers(0, size.weeks, size.buyers))
    churns = rng.random(size.buyers) < 0.3
    churn_week = np.where(churns, joined + 1 + rng.geometric(0.25, size.buyers), -1)
    churn_week = np.where(churn_week >= size.weeks, -1, churn_week)

    demo = Demo(
        size=size,
        start=start,
        categories=cats,
        vendor_names=vendor_names,
        product_vendor=product_vendor,
        product_leaf=product_leaf,
        product_title=titles,
        product_brand=brands,
        product_model=models,
        product_created=product_created,
        product_rating=rating,
        product_popularity=popularity,
        sku_product=np.array(sku_product),
        sku_code=sku_code,
        sku_attributes=sku_attributes,
        sku_price=np.array(sku_price),
        sku_stock=np.array(sku_stock),
        buyer_leaves=buyer_leaves,
        buyer_weights=buyer_weights,
        buyer_activity=activity,
        buyer_joined=joined,
        buyer_churn=churn_week,
    )
    _simulate(demo, rng)
    return demo


def _simulate(demo: Demo, rng: np.random.Generator) -> None:
    size, cats = demo.size, demo.categories
    end_week = np.where(demo.buyer_churn >= 0, demo.buyer_churn, size.weeks)
    active_weeks = np.maximum(end_week - demo.buyer_joined, 0)
    n_sessions = rng.poisson(demo.buyer_activity * active_weeks)
    session_buyer = np.repeat(np.arange(size.buyers), n_sessions)
    s = len(session_buyer)

    # When: a week within the buyer's active span, then a weekday and hour by the weekly rhythm.
    week = demo.buyer_joined[session_buyer] + np.floor(rng.random(s) * active_weeks[session_buyer])
    weekday = rng.choice(7, s, p=WEEKDAY_WEIGHTS / WEEKDAY_WEIGHTS.sum())
    hour = rng.choice(24, s, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    session_start = demo.start + week * WEEK + weekday * DAY + hour * 3600 + rng.uniform(0, 3600, s)

    # What: a leaf from the buyer's taste (or, one time in ten, anything).
    pick = (rng.random(s)[:, None] > np.cumsum(demo.buyer_weights[session_buyer], axis=1)).sum(axis=1)
    session_leaf = demo.buyer_leaves[session_buyer, np.minimum(pick, 2)]
    wander = rng.random(s) < 0.1
    session_leaf[wander] = rng.integers(0, len(cats.leaves), wander.sum())

    views_per_session = np.minimum(rng.geometric(0.22, s), 25)
    view_session = np.repeat(np.arange(s), views_per_session)
    view_product = np.empty(len(view_session), dtype=np.int64)
    view_leaf = session_leaf[view_session]
    for leaf in range(len(cats.leaves)):
        mask = view_leaf == leaf
        if not mask.any():
            continue
        candidates = np.flatnonzero(demo.product_leaf == leaf)
        if len(candidates) == 0:  # a leaf no vendor stocks: look at anything instead
            view_product[mask] = rng.integers(0, size.products, mask.sum())
            continue
        weights = demo.product_popularity[candidates]
        view_product[mask] = rng.choice(candidates, mask.sum(), p=weights / weights.sum())
    gaps = rng.exponential(45, len(view_session))
    first_of_session = np.r_[0, np.cumsum(views_per_session)[:-1]]
    offsets = np.cumsum(gaps)
    offsets -= np.repeat(offsets[first_of_session] - gaps[first_of_session], views_per_session)
    view_at = session_start[view_session] + offsets

    # Carts and purchases: likelier for well-rated products; buyers who shop more convert more.
    conversion = np.clip(0.07 * np.exp(0.5 * (demo.product_rating[view_product] - 3.9)), 0.01, 0.3)
    carted = rng.random(len(view_session)) < conversion
    bought = carted & (rng.random(len(view_session)) < 0.5)
    cart_at = view_at[carted] + rng.uniform(5, 60, carted.sum())
    buy_at = view_at[bought] + rng.uniform(120, 900, bought.sum())

    # Searches: a quarter of sessions start with one, for the category or a brand.
    searching = rng.random(s) < 0.25
    search_session = np.flatnonzero(searching)
    search_query = [cats.names[cats.leaves[session_leaf[i]]].lower() for i in search_session]

    buyer_of = session_buyer
    parts = [
        ("view", buyer_of[view_session], view_session, view_product, view_at),
        ("cart", buyer_of[view_session[carted]], view_session[carted], view_product[carted], cart_at),
        ("purchase", buyer_of[view_session[bought]], view_session[bought], view_product[bought], buy_at),
        ("search", buyer_of[search_session], search_session, np.full(len(search_session), -1),
         session_start[search_session] - 5),
    ]  # fmt: skip
    kind = np.concatenate([np.full(len(p[1]), p[0], dtype="<U8") for p in parts])
    order = np.argsort(np.concatenate([p[4] for p in parts]), kind="stable")
    demo.kind = kind[order]
    demo.user = np.concatenate([p[1] for p in parts])[order]
    demo.session = np.concatenate([p[2] for p in parts])[order]
    demo.product = np.concatenate([p[3] for p in parts])[order]
    demo.at = np.concatenate([p[4] for p in parts])[order]
    queries: list[str | None] = [None] * (len(kind) - len(search_query)) + search_query
    demo.query = [queries[i] for i in order]
