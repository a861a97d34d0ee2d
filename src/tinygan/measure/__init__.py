"""Measuring a generator: distances to the target (`metrics`), the history's measures of each target
(`scoring`), the one-sentence verdict (`verdict`) and success rates over many seeds (`stats`)."""
