"""accessflow's domain: models, the SpiffWorkflow adapter and the service functions."""
