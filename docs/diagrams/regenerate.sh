#!/bin/sh
# Rewrites the gallery of docs/diagrams.md from the built-in specs. Run from the repository root
# after `pip install -e .`; uses the system `dot` if on PATH, else the graphviz-pure binary.
set -eu
out=docs/diagrams
for level in stages blocks layers; do
  resnet-spec render resnet50 --level "$level" -o "$out/resnet50.$level.svg"
done
for spec in resnet18 resnext50_32x4d cifar_resnet56 cifar_plain56; do
  resnet-spec render "$spec" --level blocks -o "$out/$spec.blocks.svg"
done
# 600 blocks: collapsed by default (runs of identical blocks drawn once, marked ×N)
resnet-spec render cifar_resnet1202 --level blocks -o "$out/cifar_resnet1202.blocks.svg"
resnet-spec render cifar_resnet1202 --level layers -o "$out/cifar_resnet1202.layers.svg"
