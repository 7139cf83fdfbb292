"""patronsync: patron synchronization for libraries, compatible with Alma's SIS user integration."""

__version__ = "0.1.0"
