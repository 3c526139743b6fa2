"""Words the demo marketplace is made of: a category tree with typical prices, brands and variants."""

from __future__ import annotations

# top category → {sub-category → [(leaf, typical price in cents)]}
TREE: dict[str, dict[str, list[tuple[str, int]]]] = {
    "Home & Kitchen": {
        "Kitchen Appliances": [("Kettles", 3500), ("Toasters", 4000), ("Coffee Machines", 12000), ("Blenders", 6000)],
        "Cookware": [("Frying Pans", 3000), ("Saucepans", 3500), ("Knives", 4500)],
        "Home Decor": [("Lamps", 5000), ("Cushions", 2000), ("Candles", 1500)],
    },
    "Electronics": {
        "Audio": [("Headphones", 8000), ("Speakers", 9000), ("Radios", 4000)],
        "Computers": [("Laptops", 90000), ("Keyboards", 6000), ("Monitors", 25000)],
        "Phones": [("Smartphones", 50000), ("Phone Cases", 1500), ("Chargers", 2500)],
    },
    "Fashion": {
        "Women": [("Dresses", 6000), ("Handbags", 9000), ("Scarves", 2500)],
        "Men": [("Shirts", 4000), ("Jackets", 12000), ("Belts", 3000)],
        "Shoes": [("Sneakers", 8000), ("Boots", 11000), ("Sandals", 4000)],
    },
    "Sports & Outdoors": {
        "Fitness": [("Yoga Mats", 3000), ("Dumbbells", 4500), ("Resistance Bands", 1500)],
        "Camping": [("Tents", 15000), ("Sleeping Bags", 8000), ("Headlamps", 2500)],
        "Cycling": [("Bike Helmets", 6000), ("Bike Lights", 3000)],
    },
    "Beauty": {
        "Skincare": [("Moisturisers", 2500), ("Serums", 3500), ("Sunscreen", 1800)],
        "Hair": [("Shampoo", 1200), ("Hair Dryers", 7000)],
    },
    "Toys & Games": {
        "Board Games": [("Strategy Games", 4000), ("Party Games", 2500)],
        "Building Toys": [("Construction Sets", 6000), ("Puzzles", 2000)],
    },
    "Books": {
        "Fiction": [("Novels", 1500), ("Crime", 1400)],
        "Non-fiction": [("Cookbooks", 2800), ("Travel Guides", 2200)],
    },
    "Garden": {
        "Tools": [("Hoses", 3000), ("Pruners", 2500), ("Lawn Mowers", 25000)],
        "Plants": [("Seeds", 500), ("Planters", 2500)],
    },
}

BRANDS: dict[str, list[str]] = {
    "Home & Kitchen": ["Boilco", "Hearthly", "Copperleaf", "Nordkök", "Casa Viva", "小米"],
    "Electronics": ["Voltra", "Sonique", "Pixelon", "Arcwave", "Northbyte", "华为"],
    "Fashion": ["Linea", "Maison Roux", "Urbanthread", "Kestrel", "Sakura Wear"],
    "Sports & Outdoors": ["Trailhead", "Peakform", "Ridgeline", "Aerobound"],
    "Beauty": ["Lumière", "Verdant", "Soleil", "Pure Dew"],
    "Toys & Games": ["Playforge", "Brickwise", "Meeple & Co"],
    "Books": ["Inkwell Press", "Harbour Books", "Northern Lights"],
    "Garden": ["Greenly", "Rootstock", "Bloomfield"],
}

ADJECTIVES = [
    "Classic", "Compact", "Premium", "Eco", "Smart", "Deluxe", "Essential", "Pro", "Ultra", "Vintage",
    "Modern", "Lightweight", "Heavy-duty", "Portable", "Wireless", "Handmade", "Organic", "Stainless",
]  # fmt: skip

COLOURS = ["black", "white", "red", "blue", "green", "grey", "beige", "navy"]
SIZES = ["XS", "S", "M", "L", "XL"]
SIZED_TOPS = {"Fashion"}

SHOP_WORDS = [
    "Corner", "House", "Market", "Depot", "Studio", "Supply", "Outlet", "Works", "Emporium", "Collective",
]  # fmt: skip
SHOP_PREFIXES = [
    "Blue", "Golden", "Urban", "Northern", "Little", "Bright", "Silver", "Green", "Royal", "Happy", "Cedar",
    "Harbour", "Maple", "Summit", "Willow", "Copper", "Amber", "Coral", "Ivory", "Juniper",
]  # fmt: skip
