"""A Bedrock guardrail for the SageMaker endpoint's traffic: the operator applies it (bedrock:ApplyGuardrail) to each
prompt (source INPUT) and completion (source OUTPUT), since a SageMaker endpoint is not a Bedrock model."""

from __future__ import annotations

import hashlib

import aws_cdk as cdk
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from config.evaluation import GuardrailConfig


class ContentGuardrail(Construct):
    """A Bedrock guardrail (content filters, prompt-attack filter, denied topics, contextual grounding) and a
    published version of it.

    Args:
        settings: filter strengths, denied topics, grounding and relevance thresholds, blocked messages.
        key: encrypts the guardrail.

    Attributes:
        guardrail, version: the CfnGuardrail and its CfnGuardrailVersion (replaced when the settings change).
        guardrail_id, guardrail_arn, version_number: for the operator tooling.
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: GuardrailConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self._key = key
        filters = [
            {"type": category, "inputStrength": strength, "outputStrength": strength}
            for category, strength in settings.filters.items()
        ]
        # Prompt attacks exist only in prompts: Bedrock requires the output strength NONE.
        filters.append({"type": "PROMPT_ATTACK", "inputStrength": settings.prompt_attack, "outputStrength": "NONE"})
        self.guardrail = bedrock.CfnGuardrail(
            self,
            "Guardrail",
            # Guardrail names are unique per account and region; derive one from the construct path.
            name=cdk.Names.unique_resource_name(self, max_length=50, separator="-"),
            description="Content filters, denied topics and contextual grounding for the Neuron GenAI endpoint",
            kms_key_arn=key.key_arn,
            blocked_input_messaging=settings.blocked_input_message,
            blocked_outputs_messaging=settings.blocked_output_message,
            content_policy_config={"filtersConfig": filters},
            topic_policy_config={
                "topicsConfig": [
                    {
                        "name": t.name,
                        "definition": t.definition,
                        "type": "DENY",
                        **({"examples": list(t.examples)} if t.examples else {}),
                    }
                    for t in settings.denied_topics
                ]
            },
            contextual_grounding_policy_config={
                "filtersConfig": [
                    {"type": "GROUNDING", "threshold": settings.grounding_threshold},
                    {"type": "RELEVANCE", "threshold": settings.relevance_threshold},
                ]
            },
        )
        # A numbered version is immutable: the operator tooling pins it; DRAFT keeps changing with the template.
        # The settings' digest is in the description, so a changed policy replaces the version, publishing a new one.
        digest = hashlib.sha256(settings.model_dump_json().encode()).hexdigest()[:12]
        self.version = bedrock.CfnGuardrailVersion(
            self,
            "Version",
            guardrail_identifier=self.guardrail.attr_guardrail_id,
            description=f"Published by the evaluation stack; policy {digest}",
        )
        self.guardrail_id = self.guardrail.attr_guardrail_id
        self.guardrail_arn = self.guardrail.attr_guardrail_arn
        self.version_number = self.version.attr_version

    def grant_apply(self, grantee: iam.IGrantable) -> iam.Grant:
        """ApplyGuardrail on this guardrail, plus kms:Decrypt on its key: Bedrock reads an encrypted guardrail's
        policy with the caller's credentials, so without it every call is refused."""
        apply = iam.Grant.add_to_principal(
            grantee=grantee, actions=["bedrock:ApplyGuardrail"], resource_arns=[self.guardrail_arn]
        )
        return apply.combine(self._key.grant_decrypt(grantee))
