"""Find reserved Neuron capacity: SageMaker training plan offerings and EC2 Capacity Block offerings.

Which instance types each API accepts comes from boto3's own service model (the training-plan API enumerates them), so
a type the API cannot reserve is reported as such instead of being sent. Offerings from both sources are merged and
sorted by start date, then by upfront fee.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from neuron.catalog import INSTANCES
from neuronctl.errors import AUTH_CODES, error_code, error_message
from neuronctl.session import Aws

TRAINING_PLANS = "training-plan"
CAPACITY_BLOCKS = "capacity-block"
SOURCES = (TRAINING_PLANS, CAPACITY_BLOCKS)


@dataclass(frozen=True)
class Offering:
    source: str
    offering_id: str
    instance_type: str
    instance_count: int
    availability_zone: str
    start: datetime
    end: datetime
    duration_hours: float
    upfront_fee: float
    currency: str

    @property
    def per_instance_hour(self) -> float | None:
        hours = self.duration_hours * self.instance_count
        return self.upfront_fee / hours if hours else None

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "per_instance_hour": self.per_instance_hour}


def plan_instance_types(aws: Aws) -> list[str]:
    """The Neuron instance types SageMaker training plans can reserve, read from the service model."""
    shape = aws.client("sagemaker").meta.service_model.operation_model("SearchTrainingPlanOfferings").input_shape
    accepted = set(shape.members["InstanceType"].enum)
    return [name for name in INSTANCES if name in accepted]


def default_instance_types(aws: Aws) -> list[str]:
    return plan_instance_types(aws)


def ec2_type(instance_type: str) -> str:
    return instance_type.removeprefix("ml.")


def sagemaker_type(instance_type: str) -> str:
    return instance_type if instance_type.startswith("ml.") else f"ml.{instance_type}"


def search(
    aws: Aws,
    instance_types: Iterable[str],
    *,
    count: int,
    hours: int,
    start_after: datetime | None,
    end_before: datetime | None,
    sources: Iterable[str] = SOURCES,
    target: str = "training-job",
) -> tuple[list[Offering], list[str]]:
    """Offerings sorted by start then fee, and one note per type/source that offered nothing or was refused."""
    offerings: list[Offering] = []
    notes: list[str] = []
    plan_types = set(plan_instance_types(aws))
    for instance_type in instance_types:
        if TRAINING_PLANS in sources:
            name = sagemaker_type(instance_type)
            if name not in plan_types:
                notes.append(
                    f"{TRAINING_PLANS}: SageMaker training plans do not offer {name} (they offer "
                    f"{', '.join(sorted(plan_types))} among Neuron types)"
                )
            else:
                found = _guard(
                    notes,
                    TRAINING_PLANS,
                    name,
                    lambda n=name: _training_plans(aws, n, count, hours, start_after, end_before, target),
                )
                offerings.extend(found)
        if CAPACITY_BLOCKS in sources:
            name = ec2_type(instance_type)
            offerings.extend(
                _guard(
                    notes,
                    CAPACITY_BLOCKS,
                    name,
                    lambda n=name: _capacity_blocks(aws, n, count, hours, start_after, end_before),
                )
            )
    offerings.sort(key=lambda o: (o.start, o.upfront_fee))
    return offerings, notes


def _guard(notes: list[str], source: str, instance_type: str, call: Any) -> list[Offering]:
    """One source refusing one type (unsupported, not offered here) is a note; bad credentials still fail."""
    try:
        found: list[Offering] = call()
    except ClientError as err:
        if error_code(err) in AUTH_CODES:
            raise
        notes.append(f"{source}: {instance_type}: {error_code(err)}: {error_message(err)}")
        return []
    if not found:
        notes.append(f"{source}: no offerings for {instance_type} in that window")
    return found


def _training_plans(
    aws: Aws,
    instance_type: str,
    count: int,
    hours: int,
    start_after: datetime | None,
    end_before: datetime | None,
    target: str,
) -> list[Offering]:
    request: dict[str, Any] = {
        "InstanceType": instance_type,
        "InstanceCount": count,
        "DurationHours": hours,
        "TargetResources": [target],
    }
    if start_after:
        request["StartTimeAfter"] = start_after
    if end_before:
        request["EndTimeBefore"] = end_before
    response = aws.client("sagemaker").search_training_plan_offerings(**request)
    found = []
    for plan in response.get("TrainingPlanOfferings", []):
        reserved = plan.get("ReservedCapacityOfferings") or [{}]
        first = reserved[0]
        starts = [r["StartTime"] for r in reserved if r.get("StartTime")]
        ends = [r["EndTime"] for r in reserved if r.get("EndTime")]
        found.append(
            Offering(
                source=TRAINING_PLANS,
                offering_id=plan["TrainingPlanOfferingId"],
                instance_type=first.get("InstanceType", instance_type),
                instance_count=sum(int(r.get("InstanceCount", 0)) for r in reserved) or count,
                availability_zone=",".join(sorted({r.get("AvailabilityZone", "?") for r in reserved})),
                start=min(starts) if starts else plan.get("RequestedStartTimeAfter"),
                end=max(ends) if ends else plan.get("RequestedEndTimeBefore"),
                duration_hours=float(plan.get("DurationHours", 0)) + float(plan.get("DurationMinutes", 0)) / 60,
                upfront_fee=float(plan.get("UpfrontFee", 0)),
                currency=plan.get("CurrencyCode", "USD"),
            )
        )
    return found


def _capacity_blocks(
    aws: Aws, instance_type: str, count: int, hours: int, start_after: datetime | None, end_before: datetime | None
) -> list[Offering]:
    request: dict[str, Any] = {"InstanceType": instance_type, "InstanceCount": count, "CapacityDurationHours": hours}
    if start_after:
        request["StartDateRange"] = start_after
    if end_before:
        request["EndDateRange"] = end_before
    found = []
    ec2 = aws.client("ec2")
    while True:
        response = ec2.describe_capacity_block_offerings(**request)
        for block in response.get("CapacityBlockOfferings", []):
            found.append(
                Offering(
                    source=CAPACITY_BLOCKS,
                    offering_id=block["CapacityBlockOfferingId"],
                    instance_type=block["InstanceType"],
                    instance_count=int(block["InstanceCount"]),
                    availability_zone=block.get("AvailabilityZone", "?"),
                    start=block["StartDate"],
                    end=block["EndDate"],
                    duration_hours=float(block.get("CapacityBlockDurationHours", hours))
                    + float(block.get("CapacityBlockDurationMinutes", 0)) / 60,
                    upfront_fee=float(block.get("UpfrontFee", 0)),
                    currency=block.get("CurrencyCode", "USD"),
                )
            )
        if not response.get("NextToken"):
            return found
        request["NextToken"] = response["NextToken"]
