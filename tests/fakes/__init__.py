"""In-memory fakes of external services, faithful to /work/shared/reference/azure-api-shapes.md."""
