"""Run-level questions and decisions: run state, diff of two runs, tagging, the run summary, the post-run workflow."""
