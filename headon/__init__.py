"""headon: answer the public head-on."""

__version__ = "0.1.0"
