"""An encrypted SNS topic that CloudWatch alarms publish to: where an operator subscribes to deployment alarms."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


class AlarmTopic(Construct):
    """An SNS topic encrypted with its own key, which CloudWatch may use to publish alarm notifications.

    The topic has its own key: CloudWatch must be allowed to use it, which the platform key does not grant.

    Args:
        description: what the alarms are about; the topic's display name and the key's description.

    Attributes:
        key: the topic's KMS key (rotation on, 7-day deletion window, destroyed with the stack: it encrypts only
            transient notifications).
        topic: the topic (TLS-only publishing).
    """

    def __init__(self, scope: Construct, construct_id: str, *, description: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
            description=f"Encrypts the {description} alarm topic",
        )
        # CloudWatch publishes this account's alarms to the topic: only for alarms of this account (confused deputy).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True, display_name=description)
