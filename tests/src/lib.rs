//! Integration tests for Countersign live in `integration/`: one test binary that drives the real
//! `countersign` CLI against real SQLite homes. Run with `make test`, which builds the CLI first.
