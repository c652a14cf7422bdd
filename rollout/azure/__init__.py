"""Shared Azure plumbing. Nothing here imports azure.* at module level."""
