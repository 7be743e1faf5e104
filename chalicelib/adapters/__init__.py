"""Adapters: one set per backend (local: SQLite + in-process timer; aws: DynamoDB + EventBridge Scheduler + SQS)."""
