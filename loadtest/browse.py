"""Locust: visitors browsing and searching. Each one lists products, searches for words the catalog uses
(some misspelt), filters and sorts, and opens product pages, with a second or two between clicks."""

from __future__ import annotations

import random

from locust import HttpUser, between, task

from loadtest.recording import results_on_quit

WORDS = ["kettle", "lamp", "shoe", "jacket", "mug", "chair", "kettel", "garden", "blue", "wool", "tea", "desk"]
SORTS = ["relevance", "price_asc", "price_desc", "newest", "rating"]


class Visitor(HttpUser):
    wait_time = between(0.5, 2)

    def on_start(self) -> None:
        self.seen: list[int] = []

    @task(3)
    def search(self) -> None:
        params = {"q": random.choice(WORDS), "sort": random.choice(SORTS), "limit": 20}
        r = self.client.get("/products", params=params, name="GET /products?q=")
        if r.ok:
            self.seen = [item["id"] for item in r.json().get("items", [])] or self.seen

    @task(2)
    def browse(self) -> None:
        r = self.client.get("/products", params={"page": random.randint(1, 3)}, name="GET /products")
        if r.ok:
            self.seen = [item["id"] for item in r.json().get("items", [])] or self.seen

    @task(4)
    def product_page(self) -> None:
        if self.seen:
            self.client.get(f"/products/{random.choice(self.seen)}", name="GET /products/{id}")

    @task(1)
    def flash_sales(self) -> None:
        self.client.get("/flash-sales", name="GET /flash-sales")


results_on_quit(dict)
