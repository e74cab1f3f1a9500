"""Tests of pcapdiag.k8s: kubectl JSON in, names, webhook matches and findings out."""
