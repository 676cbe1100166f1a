"""Provenance written into every exported file: A1111 parameters, tierflow lineage, IPTC source type."""
