#!/bin/sh
# Rewrites the gallery of docs/diagrams.md and the diagrams of docs/writing-specs.md from the
# built-in specs (and the two example specs in this folder). Run from the repository root after
# `pip install -e .`; uses the system `dot` if on PATH, else the graphviz-pure binary.
set -eu
out=docs/diagrams
for level in stages blocks layers; do
  resnet-spec render resnet50 --level "$level" -o "$out/resnet50.$level.svg"
done
for spec in resnet18 resnext50_32x4d cifar_resnet56 cifar_plain56 resnet50d seresnet50 \
    resnetv2_50 resnet50_os8; do
  resnet-spec render "$spec" --level blocks -o "$out/$spec.blocks.svg"
done
# 600 blocks: collapsed by default (runs of identical blocks drawn once, marked ×N)
resnet-spec render cifar_resnet1202 --level blocks -o "$out/cifar_resnet1202.blocks.svg"
resnet-spec render cifar_resnet1202 --level layers -o "$out/cifar_resnet1202.layers.svg"
# one stages-level diagram per variant, for docs/writing-specs.md
for spec in resnet50c resnet50d seresnet50 resnetv2_50 cifar_preact_resnet164 resnet50_os8; do
  resnet-spec render "$spec" --level stages -o "$out/$spec.stages.svg"
done
# one blocks-level diagram per variant of issue 24, for docs/writing-specs.md
for spec in wrn28_10 resnetrs50 resnetblur50 resnetaa50d ecaresnet50d regnety_016 \
    res2net50_26w_4s resnest50d skresnet18; do
  resnet-spec render "$spec" --level blocks -o "$out/$spec.blocks.svg"
done
for example in resnet50_drop_path resnet18_features; do
  resnet-spec render "$out/$example.yaml" --level stages -o "$out/$example.stages.svg"
done
# resnet50d against resnet50, the blocks that differ marked (docs/diagrams.md, `diff -o`)
resnet-spec diff resnet50 resnet50d -o "$out/resnet50_to_resnet50d.diff.svg" > /dev/null
