"""A small stock ledger: items, movements, and the reports a shop keeper asks for.

Written for the `infill bench` typing traces; plain standard-library Python.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date


@dataclass
class Item:
    sku: str
    name: str
    unit_price: float
    quantity: int = 0
    reorder_level: int = 5
    tags: set[str] = field(default_factory=set)

    def value(self) -> float:
        return round(self.unit_price * self.quantity, 2)

    def needs_reorder(self) -> bool:
        return self.quantity <= self.reorder_level


@dataclass
class Movement:
    sku: str
    delta: int
    day: date
    note: str = ""


class StockError(Exception):
    pass


class Inventory:
    def __init__(self) -> None:
        self.items: dict[str, Item] = {}
        self.history: list[Movement] = []

    def add_item(self, item: Item) -> None:
        if item.sku in self.items:
            raise StockError(f"duplicate sku {item.sku}")
        if item.unit_price < 0:
            raise StockError(f"negative price for {item.sku}")
        self.items[item.sku] = item

    def get(self, sku: str) -> Item:
        try:
            return self.items[sku]
        except KeyError:
            raise StockError(f"unknown sku {sku}") from None

    def receive(self, sku: str, count: int, day: date, note: str = "") -> int:
        if count <= 0:
            raise StockError("a delivery must add at least one unit")
        item = self.get(sku)
        item.quantity += count
        self.history.append(Movement(sku, count, day, note))
        return item.quantity

    def sell(self, sku: str, count: int, day: date) -> float:
        item = self.get(sku)
        if count > item.quantity:
            raise StockError(f"only {item.quantity} of {sku} left")
        item.quantity -= count
        self.history.append(Movement(sku, -count, day, "sale"))
        return round(item.unit_price * count, 2)

    def total_value(self) -> float:
        return round(sum(item.value() for item in self.items.values()), 2)

    def low_stock(self) -> list[Item]:
        low = [item for item in self.items.values() if item.needs_reorder()]
        return sorted(low, key=lambda item: (item.quantity, item.sku))

    def search(self, text: str) -> list[Item]:
        needle = text.lower()
        found = []
        for item in self.items.values():
            if needle in item.name.lower() or needle in item.tags:
                found.append(item)
        return found

    def sales_between(self, first: date, last: date) -> dict[str, int]:
        totals: dict[str, int] = {}
        for move in self.history:
            if move.delta < 0 and first <= move.day <= last:
                totals[move.sku] = totals.get(move.sku, 0) - move.delta
        return totals

    def restock_plan(self, days: int, first: date, last: date) -> dict[str, int]:
        span = max((last - first).days + 1, 1)
        plan = {}
        for sku, sold in self.sales_between(first, last).items():
            item = self.items[sku]
            expected = sold * days // span
            missing = expected + item.reorder_level - item.quantity
            if missing > 0:
                plan[sku] = missing
        return plan

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["sku", "name", "unit_price", "quantity", "reorder_level"])
        for item in sorted(self.items.values(), key=lambda item: item.sku):
            writer.writerow([item.sku, item.name, item.unit_price, item.quantity, item.reorder_level])
        return out.getvalue()

    @classmethod
    def from_csv(cls, text: str) -> Inventory:
        inventory = cls()
        for row in csv.DictReader(io.StringIO(text)):
            item = Item(
                sku=row["sku"],
                name=row["name"],
                unit_price=float(row["unit_price"]),
                quantity=int(row["quantity"]),
                reorder_level=int(row["reorder_level"]),
            )
            inventory.add_item(item)
        return inventory


def price_with_tax(price: float, rate: float) -> float:
    if rate < 0 or rate > 1:
        raise ValueError("rate must be between 0 and 1")
    return round(price * (1 + rate), 2)


def format_report(inventory: Inventory) -> str:
    lines = [f"{'sku':<8} {'name':<20} {'qty':>5} {'value':>10}"]
    for item in sorted(inventory.items.values(), key=lambda item: item.sku):
        flag = " *" if item.needs_reorder() else ""
        lines.append(f"{item.sku:<8} {item.name:<20} {item.quantity:>5} {item.value():>10.2f}{flag}")
    lines.append(f"{'total':<35} {inventory.total_value():>10.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    shop = Inventory()
    shop.add_item(Item("A100", "Blue mug", 7.5, 12, tags={"kitchen"}))
    shop.add_item(Item("B200", "Tea towel", 3.25, 4, tags={"kitchen", "textile"}))
    shop.receive("B200", 10, date(2024, 3, 1), "spring order")
    shop.sell("A100", 3, date(2024, 3, 2))
    print(format_report(shop))
