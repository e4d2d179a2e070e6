"""Builders of the SageMaker and Step Functions API request bodies the workflows embed, in API shape."""
