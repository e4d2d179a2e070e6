"""The dated price table (`prices.yaml`): which prices are SageMaker's and which EC2's, and where they came from."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field

from config.base import StrictModel

PRICES_FILE = Path(__file__).with_name("prices.yaml")
Category = Literal["sagemaker-hosting", "sagemaker-training", "sagemaker-processing", "ec2-on-demand"]
HOURS_PER_MONTH = 730  # the AWS pricing pages' month (8760 h / 12)


class PriceTable(StrictModel):
    service: Literal["SageMaker", "EC2"]
    source: str
    prices: dict[str, float] = Field(min_length=1)


class PriceFile(StrictModel):
    currency: Literal["USD"]
    checked: str = Field(pattern=r"^\d{4}-\d{2}(-\d{2})?$")
    region: str
    tables: dict[Category, PriceTable]


@dataclass(frozen=True)
class Quote:
    instance_type: str
    category: str
    hourly: float | None  # None: no list price in the table
    service: str
    source: str


@cache
def load(path: Path = PRICES_FILE) -> PriceFile:
    return PriceFile.model_validate(yaml.safe_load(path.read_text()))


def quote(instance_type: str, category: Category, table: PriceFile | None = None) -> Quote:
    """The list price of an instance type in one table; EC2 names drop SageMaker's `ml.` prefix."""
    data = table or load()
    prices = data.tables[category]
    name = instance_type.removeprefix("ml.") if prices.service == "EC2" else instance_type
    return Quote(name, category, prices.prices.get(name), prices.service, prices.source)


def provenance(table: PriceFile | None = None) -> str:
    data = table or load()
    return (
        f"prices: {data.region} on-demand list prices in {data.currency}, checked {data.checked} "
        f"(neuronctl/prices.yaml; SageMaker: {data.tables['sagemaker-hosting'].source}; EC2: "
        f"{data.tables['ec2-on-demand'].source})"
    )


def region_warning(region: str, table: PriceFile | None = None) -> str | None:
    data = table or load()
    if region == data.region:
        return None
    return (
        f"note: the price table is for {data.region}; {region} list prices differ by region (often higher): "
        "treat the dollar figures as an estimate"
    )
