"""The yardstick for `make bench`: a one-bucket CDK app synthesized by the same toolchain."""

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
stack = cdk.Stack(app, "Baseline", env=cdk.Environment(region="us-east-1"))
s3.Bucket(stack, "Bucket")
app.synth()
