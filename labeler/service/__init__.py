"""The gRPC service (labeler.v1.LabelerService): thin servicers over labeler.pipeline / labeler.verification /
labeler.propagate, with auth, TLS, limits, spooling, a bounded worker pool, health, reflection and
metrics. Start it with `labeler serve` or `make serve`; see docs/service.md."""
