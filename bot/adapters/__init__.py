"""Platform adapters: slack/ and teams/. They translate payloads in and render messages out; they never import
each other."""
