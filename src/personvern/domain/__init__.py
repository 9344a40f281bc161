"""Pure rules about subjects, their data and the audit chain; imports no framework."""
