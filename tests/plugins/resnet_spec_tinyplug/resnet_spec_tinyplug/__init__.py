"""A tiny resnet-spec plugin: the block kind `scaled_basic` (a basic block whose branch ends in
a learnable per-channel scale, as CaiT's LayerScale) and the op `channel_scale` it uses."""
