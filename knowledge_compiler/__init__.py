"""Knowledge Compiler: settings (kc.yaml) and the `kc` command line."""

__version__ = "0.1.0"
