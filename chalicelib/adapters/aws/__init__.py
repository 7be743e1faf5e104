"""The AWS adapter set: DynamoDB stores, an EventBridge Scheduler + SQS timer, KMS-sealed secrets.

See docs/aws-design.md for the tables, keys, indexes, event flows, environment and IAM of each
function. Nothing in this package does I/O at import: `wiring` builds clients on first use.
"""
