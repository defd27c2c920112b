"""JSON schemas (YAML) for the configuration and the sample sheets; workflow/schemas links here."""
