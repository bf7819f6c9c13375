"""dnasgen: data-aware neural architecture search for TinyML, from a YAML spec to int8 firmware."""
__version__ = "0.1.0"
