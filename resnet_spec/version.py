"""The version of resnet-spec, in a module of its own so that any module can name it without
importing the package facade (`resnet_spec/__init__.py`)."""

__version__ = "0.1.0"
