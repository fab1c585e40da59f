"""What deployment needs without torch: the targets and their options, calibration samples,
dynamic image sizes, the TensorRT hand-off, and what `bench`'s timings say. The targets'
torch side is `resnet_spec.compiler.targets`.

    targets           one registration per target (precisions, image sizes, runtimes, memory)
    options           --to, --precision, --batch as the front end checks them; trtexec's command
    tensorrt_handoff  the engine built elsewhere from the onnx target
    calibration       --calibration: samples to calibrate int8 files on and to judge them with
    image_size        --image-size MIN:MAX: the dynamic heights and widths
    bench_stats       quartiles and spread of each timing; a fastest backend only beyond the noise
"""
