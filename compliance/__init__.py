"""cdk-nag compliance packs and the scoped ways to acknowledge a finding."""
