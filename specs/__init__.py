"""Built-in specs; installed as `resnet_spec.specs` so they can be named after a plain install."""
