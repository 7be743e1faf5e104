"""Pure domain: models, states, validation, time rules and retry policy. No I/O, no boto3."""
