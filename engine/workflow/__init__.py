"""Workflows: deploying BPMN, running process instances in a sandbox, timers and faults."""
