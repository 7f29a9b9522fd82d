"""The domain: plain Python, frozen dataclasses and Protocol ports. Imports no framework."""
