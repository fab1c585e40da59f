"""`python -m resnet_spec` is the `resnet-spec` command."""

from resnet_spec.cli import main

if __name__ == "__main__":
    main()
