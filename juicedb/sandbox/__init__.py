"""The sandbox: data pools, trainers and evaluators, and the Probe-Analyze-Refine workflow."""
