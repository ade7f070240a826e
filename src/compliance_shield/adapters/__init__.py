"""Implementations of the interfaces the services declare: one package per external system."""
